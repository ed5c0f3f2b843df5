"""The main job in one call: train -> export -> verify -> score held-out data."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.errors import InvalidInputError

from .calibrate import DEFAULT_PERCENTILE
from .checkpoint import save_checkpoint
from .data import (
    DIGITS_ANOMALY_CLASS,
    Dataset,
    Split,
    anomaly_labels,
    as_model_input,
    load_dataset,
    make_split,
    warn_if_few_calibration_rows,
)
from .export import export_bundle
from .models import get_spec
from .parity import ParityError, format_table
from .tabular import apply_preset, is_image_data
from .train import TrainConfig, train_model
from .verify import verify_bundle

__all__ = ["DIGITS_ANOMALY_CLASS", "run_pipeline"]


def run_pipeline(
    dataset: str,
    out: str | Path,
    *,
    kind: str = "dense",
    anomaly_class: int | None = None,
    label_column: str | None = None,
    model_options: dict[str, Any] | None = None,
    train_config: TrainConfig | None = None,
    test_fraction: float = 0.2,
    percentile: float = DEFAULT_PERCENTILE,
    verbose: bool = False,
    bundle: str | Path | None = None,
    preset: str = "default",
    explicit: frozenset[str] = frozenset(),
    score: str = "mse",
    threshold: float | None = None,
    threshold_method: str = "percentile",
    threshold_param: float | None = None,
    plot: str | Path | None = None,
) -> dict[str, Any]:
    """Train, export, verify and score; write ``out/{checkpoint,bundle}`` and a summary.

    ``bundle`` writes the bundle elsewhere than ``out/bundle`` (e.g. into ``models/``).
    ``preset="tabular"`` applies :func:`aeexport.tabular.apply_preset` to every setting
    not named in ``explicit``; ``"auto"`` (the CLI's default) picks it for rows of features. ``score``, ``threshold``, ``threshold_method`` and
    ``threshold_param`` are passed to :func:`aeexport.export.export_bundle`; ``plot``
    writes the evaluation figure of the test split (needs labels).

    Labels follow :func:`aeexport.data.anomaly_labels`, as in ``aeexport train``
    (digits: ``anomaly_class`` default 0; files: a 0/1 ``y`` or ``anomaly_class``): the
    model trains on normal rows only and the test split holds the anomalies, so the
    summary reports a real detection result (ROC-AUC) and a threshold hint.
    """
    t0 = time.perf_counter()
    cfg = train_config or TrainConfig()
    out = Path(out)
    bundle_dir = Path(bundle) if bundle is not None else out / "bundle"

    # 1. Data: labels by one rule, novelty split (anomalies only in the test split).
    ds = load_dataset(dataset, label_column=label_column)
    y, anomaly_class = anomaly_labels(ds, anomaly_class)
    X = as_model_input(ds.X, get_spec(kind).input_rank, ds.image_shape)
    split = make_split(X, y, val_fraction=cfg.val_fraction, test_fraction=test_fraction, seed=cfg.seed)
    cfg, model_options = apply_preset(
        preset,
        kind,
        cfg,
        dict(model_options or {}),
        len(split.train),
        int(np.prod(X.shape[1:])),
        explicit,
        image=is_image_data(ds),
    )
    if plot is not None and y is None:
        raise InvalidInputError(
            "--plot needs a labelled test split, but this data has no labels; pass "
            "--label-column (CSV, Parquet) or an .npz with y, or drop --plot."
        )
    if threshold is None:
        warn_if_few_calibration_rows(len(split.val))

    # 2. Train, checkpoint, export, verify.
    result = train_model(split.train, split.val, kind=kind, model_options=model_options, config=cfg)
    dataset_info = _dataset_info(ds, X, split, anomaly_class)
    save_checkpoint(out / "checkpoint", result.model, holdout=split.val, summary=result.summary(), dataset=dataset_info)
    names = {"feature_names": ds.feature_names} if ds.feature_names else {}
    manifest = export_bundle(
        result.model,
        bundle_dir,
        calibration_x=split.val,
        percentile=percentile,
        threshold=threshold,
        training=result.summary(),
        dataset=dataset_info,
        verbose=verbose,
        score=score,
        threshold_method=threshold_method,
        threshold_param=threshold_param,
        **names,
    )
    report = verify_bundle(bundle_dir, X=split.val)
    if not report["ok"]:
        raise ParityError("verify failed after export.\n" + format_table(report))

    summary: dict[str, Any] = {
        "dataset": ds.name,
        "model": result.model.kind,
        "members": cfg.members,
        "out": str(out),
        "bundle": str(bundle_dir),
        "rows": dataset_info,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "epoch_cap": cfg.epochs,
        "stopped_at_cap": result.hit_epoch_cap,
        "score": manifest["score"]["name"],
        "threshold": manifest["threshold"]["value"],
        "threshold_method": manifest["threshold"]["method"],
        "threshold_params": manifest["threshold"].get("params", {}),
        "parity_max_abs": max(manifest["parity"]["max_abs"], report["max_abs"]),
        "parity_ok": True,
    }
    if result.model_report:
        summary["model_report"] = result.model_report

    # 3. Score the test split through the runtime, as deployed.
    if split.test is not None:
        summary.update(_test_figures(bundle_dir, split, out, plot, title=f"{kind} on {ds.name}, test split"))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _dataset_info(ds: Dataset, X: np.ndarray, split: Split, anomaly_class: int | None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "source": ds.name,
        "rows": len(X),
        "anomaly_class": anomaly_class,
        "train_rows": len(split.train),
        "val_rows": len(split.val),
        "test_rows": 0 if split.test is None else len(split.test),
    }
    if ds.feature_names:
        info["feature_names"] = list(ds.feature_names)
    return info


def _test_figures(bundle_dir: Path, split: Split, out: Path, plot: str | Path | None, title: str) -> dict[str, Any]:
    """Scores of the test split from the exported bundle; detection figures and a threshold hint with labels."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    import aeruntime

    from .evaluate import plot_evaluation, suggest_threshold

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
            figures["false_positive_rate"] = float(labels[normal].mean())
            figures["recall"] = float(labels[~normal].mean())
            figures["threshold_hint"] = {**suggest_threshold(scores, split.y_test), "rule": "youden"}
            if plot is not None:
                figures["plot"] = str(plot_evaluation(scores, split.y_test, model.threshold, plot, title=title))
    if plot is not None and "plot" not in figures:
        raise InvalidInputError("--plot needs both normal and anomalous rows in the test split; pass labelled data.")
    out.mkdir(parents=True, exist_ok=True)
    np.savez(
        out / "test_scores.npz", score=scores, label=labels, **({"y": split.y_test} if split.y_test is not None else {})
    )
    return figures
