"""The main job in one call: train -> export -> verify -> score held-out data."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .calibrate import DEFAULT_PERCENTILE
from .checkpoint import save_checkpoint
from .data import as_model_input, binary_labels, load_dataset, make_split
from .export import export_bundle
from .models import get_spec
from .parity import ParityError, format_table
from .tabular import apply_preset, is_image_data
from .train import TrainConfig, train_model
from .verify import verify_bundle

__all__ = ["run_pipeline", "DIGITS_ANOMALY_CLASS"]

#: on digits, this class is held out of training and plays the unseen anomaly
DIGITS_ANOMALY_CLASS = 0


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
) -> dict[str, Any]:
    """Train, export, verify and score; write ``out/{checkpoint,bundle}`` and a summary.

    ``bundle`` writes the bundle elsewhere than ``out/bundle`` (e.g. into ``models/``).
    ``preset="tabular"`` applies :func:`aeexport.tabular.apply_preset` to every setting
    not named in ``explicit``; ``"auto"`` (the CLI's default) picks it for rows of features.

    With labels (digits: ``anomaly_class``, default 0; files: a 0/1 ``y``), the
    model trains on normal rows only and the test split holds the anomalies, so
    the summary reports a real detection result (ROC-AUC).
    """
    import aeruntime
    from sklearn.metrics import average_precision_score, roc_auc_score

    t0 = time.perf_counter()
    cfg = train_config or TrainConfig()
    out = Path(out)
    bundle_dir = Path(bundle) if bundle is not None else out / "bundle"
    ds = load_dataset(dataset, label_column=label_column)
    y = None
    if ds.y is not None:
        if ds.name == "digits" and anomaly_class is None:
            anomaly_class = DIGITS_ANOMALY_CLASS
        y = binary_labels(ds.y, anomaly_class)
    X = as_model_input(ds.X, get_spec(kind).input_rank, ds.image_shape)
    split = make_split(X, y, val_fraction=cfg.val_fraction, test_fraction=test_fraction, seed=cfg.seed)
    cfg, model_options = apply_preset(preset, kind, cfg, dict(model_options or {}), len(split.train),
                                      int(np.prod(X.shape[1:])), explicit, image=is_image_data(ds))  # issue 11

    result = train_model(split.train, split.val, kind=kind, model_options=model_options, config=cfg)
    dataset_info = {"source": ds.name, "rows": len(X), "anomaly_class": anomaly_class,
                    "train_rows": len(split.train), "val_rows": len(split.val),
                    "test_rows": 0 if split.test is None else len(split.test)}
    save_checkpoint(out / "checkpoint", result.model, holdout=split.val, summary=result.summary(), dataset=dataset_info)
    manifest = export_bundle(result.model, bundle_dir, calibration_x=split.val, percentile=percentile,
                             training=result.summary(), dataset=dataset_info, verbose=verbose)
    report = verify_bundle(bundle_dir, X=split.val)
    if not report["ok"]:
        raise ParityError("verify failed after export.\n" + format_table(report))

    summary: dict[str, Any] = {
        "dataset": ds.name, "model": kind, "out": str(out), "bundle": str(bundle_dir),
        "rows": dataset_info, "epochs_run": len(result.history), "best_epoch": result.best_epoch,
        "threshold": manifest["threshold"]["value"], "threshold_method":
        f"{manifest['threshold']['method']} {manifest['threshold']['params']}",
        "parity_max_abs": max(manifest["parity"]["max_abs"], report["max_abs"]), "parity_ok": True,
    }
    if result.model_report:
        summary["model_report"] = result.model_report
    if split.test is not None:
        model = aeruntime.load(bundle_dir, providers="cpu")
        scores = model.score(split.test)
        labels = (scores > model.threshold).astype(np.int8)
        summary["test_anomaly_rate"] = float(labels.mean())
        if split.y_test is not None:
            summary["test_true_anomaly_share"] = float(split.y_test.mean())
            if len(np.unique(split.y_test)) == 2:
                summary["roc_auc"] = float(roc_auc_score(split.y_test, scores))
                summary["average_precision"] = float(average_precision_score(split.y_test, scores))
                normal = split.y_test == 0
                summary["false_positive_rate"] = float(labels[normal].mean())
                summary["recall"] = float(labels[~normal].mean())
        np.savez(out / "test_scores.npz", score=scores, label=labels,
                 **({"y": split.y_test} if split.y_test is not None else {}))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
