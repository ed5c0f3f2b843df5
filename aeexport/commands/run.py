"""``aeexport run``: the main job, train -> export -> verify -> score the test split."""

from __future__ import annotations

from typing import Any

import click

from aeruntime.clibase import echo_json
from aeruntime.format import DIR_RULE

from ..options import TrainSettings, json_option, plot_option, threshold_options, train_options, verbose_option
from .common import echo_rows, epoch_cap_note, model_report_text, model_text


@click.command("run")
@click.argument("data", required=False, default=None)
@click.option("--dataset", default=None, hidden=True, help="Deprecated: pass DATA as the first argument.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output directory: checkpoint/, bundle/, test_scores.npz, summary.json; "
    f"{DIR_RULE.format('a run folder')} (only those entries are replaced, other files are kept).",
)
@click.option(
    "--bundle",
    "bundle",
    type=click.Path(file_okay=False),
    default=None,
    help=f"Write the bundle here instead of OUT/bundle (e.g. models/digits-dense): {DIR_RULE.format('a bundle')}.",
)
@threshold_options
@plot_option("Write a PNG of the test split: score histograms with the threshold, and the ROC curve.")
@verbose_option
@json_option("Print the summary as JSON.")
@train_options
def run_command(
    data: str | None,
    dataset: str | None,
    out: str,
    bundle: str | None,
    threshold_spec: Any,
    plot: str | None,
    verbose: bool,
    as_json: bool,
    training: TrainSettings,
) -> None:
    """The main job on DATA ('digits' by default, or a .npy/.npz/.csv/.parquet file): train -> export ->
    verify -> score the held-out test split, then a summary."""
    import warnings

    if dataset is not None:
        if data is not None:
            raise click.UsageError("pass the data once: as DATA (the first argument), not also as --dataset.")
        warnings.warn(
            f"--dataset is deprecated; pass the data as the first argument: aeexport run {dataset} ...",
            FutureWarning,
            stacklevel=1,
        )
        data = dataset
    from ..pipeline import run_pipeline
    from ..specs import ExportOptions

    s = run_pipeline(
        data or "digits",
        out,
        kind=training.kind,
        anomaly_class=training.anomaly_class,
        label_column=training.label_column,
        model_options=training.model_options,
        train_config=training.config,
        preset=training.preset,
        explicit=training.explicit,
        threshold_spec=threshold_spec,
        export_options=ExportOptions(verbose=verbose),
        bundle=bundle,
        plot=plot,
    )
    if as_json:
        echo_json(s)
        return
    echo_rows(_run_rows(s))


def _run_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """The run summary as (label, text) lines."""
    from ..evaluate import describe_threshold

    r = s["rows"]
    rows = [
        (
            "dataset",
            f"{s['dataset']}: {r['rows']} rows -> train {r['train_rows']}, val {r['val_rows']}, "
            f"test {r['test_rows']}"
            + (f" (class {r['anomaly_class']} = anomaly)" if r.get("anomaly_class") is not None else ""),
        )
    ]
    k = s.get("members", 1)
    first = "" if k == 1 else ", first member"
    rows.append(("model", f"{model_text(s['model'], k)}, {s['epochs_run']} epochs (best {s['best_epoch']}{first})"))
    note = epoch_cap_note(s.get("epoch_cap", 0), s.get("stopped_at_cap", False))
    if note:
        rows.append(("note", note))
    if s.get("model_report"):
        rows.append(("", model_report_text(s["model_report"])))
    how = describe_threshold(s["threshold_method"], s["threshold_params"])
    rows.append(("threshold", f"{s['threshold']:.6g} ({how}, score {s['score']})"))
    rows.append(("parity", f"ok, max abs diff {s['parity_max_abs']:.2e}"))
    if "test_anomaly_rate" in s:
        rows.append(("test", _test_line(s)))
    hint = s.get("threshold_hint")
    if hint:
        rows.append(("hint", _hint_line(s, hint)))
    if s.get("plot"):
        rows.append(("plot", s["plot"]))
    rows.append(("time", f"{s['seconds']:.1f}s -> {s['bundle']}"))
    return rows


def _test_line(s: dict[str, Any]) -> str:
    line = f"flagged {s['test_anomaly_rate']:.1%}"
    if "roc_auc" in s:
        line += (
            f" (true anomalies {s['test_true_anomaly_share']:.1%}); ROC-AUC {s['roc_auc']:.3f}, "
            f"AP {s['average_precision']:.3f}, recall {s['recall']:.1%}, FPR {s['false_positive_rate']:.1%}"
        )
    return line


def _hint_line(s: dict[str, Any], hint: dict[str, Any]) -> str:
    return (
        f"on the test split, threshold {hint['threshold']:.6g} gives recall {hint['recall']:.1%} "
        f"at FPR {hint['false_positive_rate']:.1%} (the stored one: recall {s['recall']:.1%} at "
        f"FPR {s['false_positive_rate']:.1%}); to use it: aeruntime score --threshold "
        f"{hint['threshold']:.6g}, or re-export with --threshold-method target_fpr "
        f"--threshold-param {max(hint['false_positive_rate'], 0.001):.3g}"
    )
