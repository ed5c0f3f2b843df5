"""The main job in one call: train -> export (parity measured once, by the writer) -> score held-out data."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.errors import InvalidInputError
from aeruntime.fs import (
    RUN_FILES,
    RUN_WRITER,
    atomic_write_bytes,
    check_output_dir,
    check_output_file,
    marker_digests,
)

from .data import DIGITS_ANOMALY_CLASS, Dataset, Split, training_section
from .export import export_bundle
from .settings import ExportOptions, RunSettings, ThresholdSpec, TrainConfig
from .train import Prepared, dataset_info, prepare, save_checkpoint, train_split

__all__ = ["DIGITS_ANOMALY_CLASS", "run_pipeline"]


def run_pipeline(dataset: str | Dataset, out: str | Path, settings: RunSettings | None = None) -> dict[str, Any]:
    """Train, export and score; write ``out/{checkpoint,bundle}`` (or ``settings.bundle``) and a summary.

    ``dataset``: what :func:`aeexport.data.load_dataset` reads (``"digits"`` or a file path), or rows
    already in memory as a :class:`~aeexport.data.Dataset` (e.g. :meth:`Dataset.from_arrow` of a
    ``pyarrow.Table``, or :meth:`aeexport.data.SparkSample.dataset`): the same pipeline either way.

    ``settings`` (a :class:`~aeexport.settings.RunSettings`; default: the defaults) carries the run:
    its ``training`` goes to :func:`aeexport.train.prepare` (labels follow
    :func:`aeexport.data.anomaly_labels`, as in ``aeexport train``: the model trains on normal rows
    only and the test split holds the anomalies, so the summary reports a real detection result
    (ROC-AUC) and a threshold hint), its ``threshold`` and ``export`` to
    :func:`aeexport.export.export_bundle`, whose parity check (torch against onnxruntime on the
    written files, and the golden vectors) is the run's one parity measurement; ``plot``: the
    evaluation figure of the test split (needs labels).
    """
    t0 = time.perf_counter()
    s = settings or RunSettings()
    out = Path(out)
    bundle_dir = Path(s.bundle) if s.bundle is not None else out / "bundle"
    inputs = [] if isinstance(dataset, Dataset) else [dataset]
    check_output_dir(out, "run", inputs=inputs)  # before any training
    if s.plot is not None:
        check_output_file(s.plot, option="--plot", inputs=inputs)
    if s.bundle is not None:
        check_output_dir(bundle_dir, "bundle", option="--bundle", inputs=inputs)
    if s.training.series is not None:
        _check_series_run(s)
    p = prepare(dataset, s.training, test_fraction=s.test_fraction, plot=s.plot, warn=s.threshold.value is None)
    spec = s.threshold.or_percentile(p.percentile)  # no threshold option given: the preset's percentile
    result, info, manifest = _train_export(p, p.kind or s.training.kind, out, bundle_dir, spec, s.export)
    summary = _summary(p.ds, result, p.cfg, (out, bundle_dir), info, manifest)
    title = f"{result.model.kind} on {p.ds.name}, test split"
    if p.series_tail is not None:  # one score per test step, the W-1 steps before the test part as context
        summary.update(_series_test_figures(bundle_dir, p.series_tail, out, s.plot, title=title))
    elif p.split.test is not None:  # scored through the runtime, as deployed
        summary.update(_test_figures(bundle_dir, p.split, out, s.plot, title=title))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    out.mkdir(parents=True, exist_ok=True)
    _write_summary(out, summary)
    return summary


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    """``out/summary.json``: the summary and the marker of the run folder (who wrote it, the sha256 of
    ``test_scores.npz``), which lets the next run replace what this one wrote (:mod:`aeruntime.fs.outputs`)."""
    present = [name for name in RUN_FILES if (out / name).is_file()]  # ours: proven at the start, or written now
    marker = {**summary, "written_by": RUN_WRITER, "sha256": marker_digests(out, present)}
    atomic_write_bytes(out / "summary.json", (json.dumps(marker, indent=2) + "\n").encode())


def _train_export(
    p: Prepared,
    kind: str,
    out: Path,
    bundle_dir: Path,
    spec: ThresholdSpec,
    export_options: ExportOptions,
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Train, checkpoint and export (the writer measures parity: a violation publishes nothing); return
    the training result, dataset info and manifest."""
    result = train_split(p.split, kind=kind, model_options=p.model_options, config=p.cfg)  # frees the raw rows
    info = dataset_info(p, test_rows=True, percentile=False)
    training = training_section(result.summary(), p.ds)
    save_checkpoint(out / "checkpoint", result.model, holdout=p.split.val, summary=training, dataset=info)
    manifest = export_bundle(
        result.model,
        bundle_dir,
        calibration_x=p.split.val,
        threshold_spec=spec,
        options=export_options,
        training=training,
        dataset=info,
    )
    return result, info, manifest


def _summary(
    ds: Dataset,
    result: Any,
    cfg: TrainConfig,
    dirs: tuple[Path, Path],
    info: dict[str, Any],
    manifest: dict[str, Any],
) -> dict[str, Any]:
    """The run summary before the test split is scored; ``dirs``: the run's and the bundle's folder."""
    out, bundle_dir = dirs
    summary: dict[str, Any] = {
        "dataset": ds.name,
        "model": result.model.kind,
        "members": cfg.members,
        "out": str(out),
        "bundle": str(bundle_dir),
        "rows": info,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "epoch_cap": cfg.epochs,
        "stopped_at_cap": result.hit_epoch_cap,
        "score": manifest["score"]["name"],
        "threshold": manifest["threshold"]["value"],
        "threshold_method": manifest["threshold"]["method"],
        "threshold_params": manifest["threshold"].get("params", {}),
        "threshold_calibration_rows": manifest["threshold"].get("calibration_rows"),
        "expected_false_positive_rate": manifest["threshold"].get("expected_false_positive_rate"),
        "expected_false_positive_rate_interval": manifest["threshold"].get("expected_false_positive_rate_interval"),
        "parity_max_abs": manifest["parity"]["max_abs"],
        "parity_ok": True,
    }
    if result.model_report:
        summary["model_report"] = result.model_report
    return summary


def _check_series_run(s: RunSettings) -> None:
    """Before any training: a labelled series run reports VUS-PR (TSB-AD's code); --plot needs labels."""
    from .report import require_tsbad

    if s.training.label_column is not None:
        require_tsbad()
    elif s.plot is not None:
        raise InvalidInputError(
            "--plot needs a labelled test part, but this series has no labels; pass --label-column NAME "
            "(1 = anomalous step), or drop --plot."
        )


def _series_test_figures(bundle_dir: Path, tail: Any, out: Path, plot: str | Path | None, title: str) -> dict:
    """Per-step scores of a series' test part (:class:`aeexport.data.SeriesTail`) from the exported bundle;
    with labels, the figures of ``aeexport evaluate`` (:func:`aeexport.report.series_test_figures`)."""
    import aeruntime

    from .report import plot_evaluation, series_test_figures

    model = aeruntime.load(bundle_dir, providers="cpu")
    figures, scores = series_test_figures(model, tail)
    if plot is not None:
        if "series_test" not in figures:
            raise InvalidInputError("--plot needs both normal and anomalous steps in the test part of the series.")
        scored = ~np.isnan(scores)
        figures["plot"] = str(plot_evaluation(scores[scored], tail.labels[scored], model.threshold, plot, title=title))
    labels = np.where(np.isnan(scores), False, scores > model.threshold).astype(np.int8)
    _save_test_scores(out, scores, labels, tail.labels)
    return figures


def _save_test_scores(out: Path, scores: np.ndarray, labels: np.ndarray, y: np.ndarray | None) -> None:
    """``out/test_scores.npz`` (score, label and y when known), published atomically, like every output."""
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, score=scores, label=labels, **({"y": y} if y is not None else {}))
    atomic_write_bytes(out / "test_scores.npz", buf.getvalue())


def _test_figures(bundle_dir: Path, split: Split, out: Path, plot: str | Path | None, title: str) -> dict[str, Any]:
    """Scores of the test split from the exported bundle; detection figures and a threshold hint with labels."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    import aeruntime

    from .report import plot_evaluation, recall_at_fpr, suggest_threshold

    model = aeruntime.load(bundle_dir, providers="cpu")
    scores = model.score(split.test)
    labels = (scores > model.threshold).astype(np.int8)
    figures: dict[str, Any] = {"test_anomaly_rate": float(labels.mean())}
    if split.y_test is not None:
        figures["test_true_anomaly_share"] = float(split.y_test.mean())
        if len(np.unique(split.y_test)) == 2:
            figures["roc_auc"] = float(roc_auc_score(split.y_test, scores))
            figures["average_precision"] = float(average_precision_score(split.y_test, scores))
            normal = split.y_test == 0
            figures["test_normal_rows"], figures["test_anomaly_rows"] = int(normal.sum()), int((~normal).sum())
            figures["false_positive_rate"] = float(labels[normal].mean())
            figures["recall"] = float(labels[~normal].mean())
            figures["recall_at_fpr"] = recall_at_fpr(scores, split.y_test)
            figures["threshold_hint"] = {**suggest_threshold(scores, split.y_test), "rule": "youden"}
            if plot is not None:
                figures["plot"] = str(plot_evaluation(scores, split.y_test, model.threshold, plot, title=title))
    if plot is not None and "plot" not in figures:
        raise InvalidInputError("--plot needs both normal and anomalous rows in the test split; pass labelled data.")
    _save_test_scores(out, scores, labels, split.y_test)
    return figures
