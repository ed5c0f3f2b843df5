"""``aeexport run``: the main job, train -> export -> verify -> score the test split."""

from __future__ import annotations

from typing import Any

import click

from aeruntime.clibase import echo_json
from aeruntime.fs import DIR_RULE

from ..settings import ExportOptions, RunSettings, ThresholdSpec, TrainSettings
from ._common import echo_rows, echo_sample, epoch_cap_note, model_report_text, model_text
from ._options import json_option, plot_option, threshold_options, train_options, verbose_option
from ._series_options import echo_window


@click.command("run")
@click.argument("data", required=False, default=None)
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
    out: str,
    bundle: str | None,
    threshold_spec: ThresholdSpec,
    plot: str | None,
    verbose: bool,
    as_json: bool,
    training: TrainSettings,
) -> None:
    """The main job on DATA ('digits' by default, or a .npy/.npz/.csv/.parquet file): train -> export ->
    verify -> score the held-out test split, then a summary."""
    from ..pipeline import run_pipeline

    settings = RunSettings(
        training=training, threshold=threshold_spec, export=ExportOptions(verbose=verbose), bundle=bundle, plot=plot
    )
    s = run_pipeline(data or "digits", out, settings)
    if as_json:
        echo_json(s)
        return
    echo_sample(s["rows"].get("sample"))
    echo_window(s["rows"].get("series"))
    echo_rows(_run_rows(s))


def _run_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """The run summary as (label, text) lines."""
    from ..report import describe_threshold

    r = s["rows"]
    steps = (r.get("series") or {}).get("steps")  # a series: windows of its steps
    size = f"{r['rows']} rows ->" if steps is None else f"{steps} steps -> windows:"
    rows = [
        (
            "dataset",
            f"{s['dataset']}: {size} train {r['train_rows']}, val {r['val_rows']}, "
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
    rows.append(("threshold", _threshold_line(s, describe_threshold(s["threshold_method"], s["threshold_params"]))))
    rows.append(("parity", f"ok, max abs diff {s['parity_max_abs']:.2e}"))
    if "test_steps" in s:  # a series: one score per test step
        rows += [(label, line) for label, line in zip(("test", "", ""), _series_test_lines(s))]
    elif "test_anomaly_rate" in s:
        rows += [(label, line) for label, line in zip(("test", ""), _test_lines(s))]
    if s.get("plot"):
        rows.append(("plot", s["plot"]))
    rows.append(("time", f"{s['seconds']:.1f}s -> {s['bundle']}"))
    return rows


def _threshold_line(s: dict[str, Any], how: str) -> str:
    """The threshold, how it was set, on how many rows, and where the FPR on unseen normal rows may land."""
    n = s.get("threshold_calibration_rows")
    line = f"{s['threshold']:.6g} ({how}{f' of {n} held-out normal rows' if n else ''}, score {s['score']})"
    band, rate = s.get("expected_false_positive_rate_interval"), s.get("expected_false_positive_rate")
    if band and rate is not None:
        line += (
            f"; expected FPR {rate:.1%}, {band['level']:.0%} interval {band['low']:.1%} to {band['high']:.1%} "
            "from that many rows"
        )
    return line


def _series_test_lines(s: dict[str, Any]) -> list[str]:
    """A series' test part: the share of its steps flagged; with labels, evaluate's per-step and event figures."""
    first = (
        f"flagged {s['test_anomaly_rate']:.1%} of the {s['test_steps']} test steps (the "
        f"{s['test_context_rows']} steps before them lead in: {s['test_warmup_rows']} warm-up)"
    )
    r = s.get("series_test")
    if r is None:
        labelled = "test_true_anomaly_share" in s
        return [first + ("; its labels are of one kind only: no AUC" if labelled else "; no labels: recall unknown")]
    return [
        first,
        f"AUC-PR {r['auc_pr']:.4f}, AUC-ROC {r['auc_roc']:.4f}, VUS-PR {r['vus_pr']:.4f} (TSB-AD, sliding window "
        f"{r['sliding_window']}); {r['anomalous_steps']} anomalous steps ({r['anomaly_share']:.2%})",
        f"{r['ranges_caught']} of {r['ranges']} anomalous ranges caught, delay mean {_fmt(r['delay_mean'])} / median "
        f"{_fmt(r['delay_median'])} steps, {_fmt(r['false_alarms_per_10k'])} false alarms per 10,000 normal steps "
        f"(alarm rule {r['alarm_rule']})",
    ]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _test_lines(s: dict[str, Any]) -> list[str]:
    """The test split in plain words: ranking quality, then what the stored threshold does, then the
    best recall at fixed false-positive rates; unlabelled data: the flagged share only."""
    if "roc_auc" not in s:
        return [f"flagged {s['test_anomaly_rate']:.1%} of the test rows (no labels: recall and FPR unknown)"]
    at = s["recall_at_fpr"]
    return [
        f"ROC-AUC {s['roc_auc']:.3f}; the stored threshold catches {s['recall']:.1%} of the "
        f"{s['test_anomaly_rows']} anomalies (recall) and flags {s['false_positive_rate']:.1%} of the "
        f"{s['test_normal_rows']} normal rows (FPR)",
        "best recall at FPR "
        + " / ".join(f"{float(k):.0%}" for k in at)
        + ": "
        + " / ".join(f"{v:.1%}" for v in at.values())
        + f"; AP {s['average_precision']:.3f}",
    ]
