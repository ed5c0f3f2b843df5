"""Issue 24: defaults of the main job on images (``aeexport run digits``), measured.

Four questions, one table each, on the task of ``aeexport run digits`` reproduced with the
library's own functions (:func:`aeexport.data.load_dataset`, ``anomaly_labels``,
``as_model_input``, ``make_split`` with ``val_fraction`` 0.15 and ``test_fraction`` 0.2 as
:func:`aeexport.pipeline.run_pipeline` uses them; digit 0 is the unseen anomaly, ``seed``
seeds the split, the init and the shuffling as ``TrainConfig.seed`` does):

1. **convergence**: epochs used, whether training stopped at the epoch cap, training seconds
   and test ROC-AUC of today's defaults and of variants (scaler, learning rate, a
   ReduceLROnPlateau schedule);
2. **model kind** on digits and on a second image set, ``shapes`` (16x16 synthetic images
   generated here with numpy: ring, square, triangle, cross, bar; the ring is the unseen
   anomaly): ROC-AUC mean and sd over seeds, training seconds;
3. **threshold**: test FPR on held-out normals and recall of the percentile-95 threshold over
   10 seeds (split and init), for today's estimate and for a larger calibration split and
   smoothed quantiles (Harrell-Davis, a Gaussian-kernel-smoothed ECDF), with the
   order-statistic interval of the FPR and how often it covers the test FPR;
4. **result** of the recommended combination on seeds 0, 1, 2: recall at the stored threshold
   and its FPR, recall at 1% / 5% / 10% FPR, ROC-AUC;
5. **before and after**, end to end: ``aeexport run digits`` (the real
   :func:`aeexport.pipeline.run_pipeline`) with today's defaults and with the image preset, 10
   seeds: the spread of the stored threshold's test FPR, and README command 1 on seeds 0, 1, 2.

Scores are the model's scorer graph in torch (``Autoencoder.scorer_graph``: the function the
exported ONNX scorer computes; parity is checked by ``aeexport run`` itself). Tables 1 to 4
were measured before ``TrainConfig.lr_schedule`` existed: :func:`fit` runs the loop of
:func:`aeexport.train.train_model` with the scheduler stepped once per epoch on the validation
loss, the prototype of that option (``lr_schedule="plateau"`` steps it the same way). Table 5
runs the real :func:`aeexport.pipeline.run_pipeline` before and after the image preset.

Every run is cached in ``OUT_DIR/digits_defaults.jsonl`` (one line per run, scores included),
so an interrupted run resumes; ``--fresh`` starts over.

    PYTHONPATH=.:runtime python benchmarks/digits_defaults.py            # scratch output
    PYTHONPATH=.:runtime python benchmarks/digits_defaults.py --record   # benchmarks/results/
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SCRATCH, parser, write  # noqa: E402

from aeexport.data import Dataset, anomaly_labels, as_model_input, load_dataset, make_split
from aeexport.models import get_spec
from aeexport.settings import RunSettings, TrainConfig, TrainSettings
from aeexport.train import train_model
from aeexport.train._device import deterministic as _deterministic
from aeexport.train._loop import _build_scaled_model, _scaled, _train_epoch, _val_loss

NAME = "digits_defaults"
#: test share of the normal rows, as run_pipeline's default
TEST_FRACTION = 0.2
PERCENTILE = 95.0


# ----------------------------------------------------------------------------- data
def shapes_dataset(per_class: int = 300, size: int = 16, seed: int = 1234) -> Dataset:
    """Synthetic 16x16 images of five shape classes (0 ring, 1 square, 2 triangle, 3 cross, 4 bar),
    values 0 to 16 like digits: random centre, size, rotation, stroke and intensity, anti-aliased
    edges and pixel noise. Class 0 (the ring) plays the unseen anomaly."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    images, labels = [], []
    for cls in range(5):
        for _ in range(per_class):
            cx, cy = rng.uniform(0.35, 0.65, 2) * size
            r = rng.uniform(0.22, 0.34) * size
            w = rng.uniform(1.0, 2.2)  # stroke width in pixels
            th = rng.uniform(0, np.pi)
            dx, dy = xx - cx, yy - cy
            u, v = np.cos(th) * dx + np.sin(th) * dy, -np.sin(th) * dx + np.cos(th) * dy
            if cls == 0:  # ring
                d = np.abs(np.hypot(u, v) - r) - w / 2
            elif cls == 1:  # filled square
                d = np.maximum(np.abs(u), np.abs(v)) - r * 0.8
            elif cls == 2:  # filled triangle (three half-planes)
                angles = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3]) + np.pi / 2
                d = np.max([np.cos(a) * u + np.sin(a) * v for a in angles], axis=0) - r * 0.5
            elif cls == 3:  # cross
                d = np.minimum(
                    np.maximum(np.abs(u) - w / 2, np.abs(v) - r), np.maximum(np.abs(u) - r, np.abs(v) - w / 2)
                )
            else:  # bar
                d = np.maximum(np.abs(u) - r, np.abs(v) - w)
            img = np.clip(0.5 - d, 0.0, 1.0) * rng.uniform(10, 16)
            img = np.clip(img + rng.normal(0, 0.6, img.shape), 0, 16)
            images.append(img)
            labels.append(cls)
    X = np.stack(images).reshape(len(images), -1).astype(np.float32)
    return Dataset(X, np.asarray(labels, dtype=np.int64), "shapes", (1, size, size))


def load(name: str) -> tuple[Dataset, np.ndarray]:
    """The dataset and its 0/1 labels (digits: digit 0 = anomaly, as ``aeexport run digits``)."""
    ds = load_dataset("digits") if name == "digits" else shapes_dataset()
    y, _ = anomaly_labels(ds, 0)
    return ds, y


# ----------------------------------------------------------------------------- training
def fit(X_train: np.ndarray, X_val: np.ndarray, kind: str, options: dict[str, Any], cfg: TrainConfig, schedule: str):
    """``train_model``, or its loop with a learning-rate ``schedule`` (``plateau[:F:P]``: ReduceLROnPlateau
    with factor F (0.5) and patience P (5) on the validation loss, the
    same relative ``min_delta`` as early stopping). Returns (model, epochs, best_epoch, hit_cap, s)."""
    if schedule == "none":
        r = train_model(X_train, X_val, kind=kind, model_options=options, config=cfg)
        return r.model, len(r.history), r.best_epoch, r.hit_epoch_cap, r.seconds
    _, *args = schedule.split(":")
    factor, sched_patience = (float(args[0]), int(args[1])) if args else (0.5, 5)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = _build_scaled_model(X_train, None, kind, options, cfg)
    xs_train = _scaled(model, X_train, torch.device("cpu"))
    model.fit_data(xs_train)
    xs_val = _scaled(model, X_val, torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=factor, patience=sched_patience, threshold=cfg.min_delta
    )
    best, best_epoch, stale, epochs = float("inf"), 0, 0, 0
    best_state = copy.deepcopy(model.state_dict())
    start = time.perf_counter()
    with _deterministic(cfg.threads):
        for epoch in range(1, cfg.epochs + 1):
            epochs = epoch
            _train_epoch(model, opt, xs_train, cfg, gen)
            val = _val_loss(model, xs_val)
            sched.step(val)
            if val < best * (1 - cfg.min_delta):
                best, best_epoch, stale = val, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
    model.load_state_dict(best_state)
    model.eval()
    hit_cap = epochs >= cfg.epochs and best_epoch >= cfg.epochs - cfg.patience + 1  # TrainResult.hit_epoch_cap
    return model, epochs, best_epoch, hit_cap, time.perf_counter() - start


#: TrainConfig fields a variant name may set, with their types
_FIELDS = {"lr": float, "batch_size": int, "min_delta": float, "epochs": int, "patience": int}
#: model options a variant name may set (JSON values)
_OPTIONS = ("latent_dim", "hidden", "channels", "dropout", "noise_level")


def parse_variant(name: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """``"minmax lr=3e-3 sched=plateau latent_dim=8"`` -> (TrainConfig fields, model options, schedule).

    The first word is the scaler; ``today`` means TrainConfig's defaults (standard scaler)."""
    words = name.split()
    scaler = "standard" if words[0] == "today" else words[0]
    fields: dict[str, Any] = {"scaler": scaler}
    options: dict[str, Any] = {}
    schedule = "none"
    for w in words[1:]:
        k, _, val = w.partition("=")
        if k == "sched":
            schedule = val
        elif k == "calib":  # calib=split[:SHARE]: handled by run_one
            continue
        elif k in _FIELDS:
            fields[k] = _FIELDS[k](val)
        elif k in _OPTIONS:
            options[k] = json.loads(val)
        else:
            raise ValueError(f"unknown variant setting {w!r} in {name!r}")
    return fields, options, schedule


def run_one(data: str, kind: str, variant: str, seed: int, val_fraction: float = 0.15) -> dict[str, Any]:
    """Train ``kind`` with ``variant`` on the split of ``seed``; scores of the val and test rows."""
    from sklearn.metrics import roc_auc_score

    fields, options, schedule = parse_variant(variant)
    ds, y = load(data)
    X = as_model_input(ds.X, get_spec(kind).input_rank, ds.image_shape)
    split = make_split(X, y, val_fraction=val_fraction, test_fraction=TEST_FRACTION, seed=seed)
    cfg = TrainConfig(seed=seed, device="cpu", progress=False, threads=1, val_fraction=val_fraction, **fields)
    stop_rows, calibration_rows = split.val, split.val
    calib = [w for w in variant.split() if w.startswith("calib=split")]
    if calib:  # calib=split[:SHARE]: early stopping on the first val rows, the threshold on the last SHARE (0.5)
        share = float(calib[0].partition(":")[2] or 0.5)
        n_stop = len(split.val) - round(share * len(split.val))
        stop_rows, calibration_rows = split.val[:n_stop], split.val[n_stop:]
    model, epochs, best_epoch, hit_cap, seconds = fit(split.train, stop_rows, kind, options, cfg, schedule)
    with torch.no_grad():
        val = model.scorer_graph(torch.from_numpy(np.ascontiguousarray(calibration_rows))).numpy().astype(np.float64)
        test = model.scorer_graph(torch.from_numpy(np.ascontiguousarray(split.test))).numpy().astype(np.float64)
    return {
        "data": data,
        "kind": kind,
        "variant": variant,
        "seed": seed,
        "val_fraction": val_fraction,
        "rows": [len(split.train), len(split.val), len(split.test)],
        "epochs": epochs,
        "best_epoch": best_epoch,
        "cap": bool(hit_cap),
        "seconds": round(seconds, 2),
        "roc_auc": float(roc_auc_score(split.y_test, test)),
        "val_scores": val.round(7).tolist(),
        "test_scores": test.round(7).tolist(),
        "y_test": split.y_test.astype(int).tolist(),
    }


class Cache:
    """Runs by key, appended to a jsonl file as they finish."""

    def __init__(self, path: Path, fresh: bool = False) -> None:
        self.path = path
        self.runs: dict[str, dict[str, Any]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and path.exists():
            path.unlink()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                self.runs[self.key(r["data"], r["kind"], r["variant"], r["seed"], r["val_fraction"])] = r

    @staticmethod
    def key(data: str, kind: str, variant: str, seed: int, val_fraction: float) -> str:
        return f"{data}|{kind}|{variant}|{seed}|{val_fraction}"

    def get(self, data: str, kind: str, variant: str, seed: int, val_fraction: float = 0.15) -> dict[str, Any]:
        k = self.key(data, kind, variant, seed, val_fraction)
        if k not in self.runs:
            r = run_one(data, kind, variant, seed, val_fraction)
            self.runs[k] = r
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(r) + "\n")
            print(
                f"{k}: {r['epochs']} epochs{' (cap)' if r['cap'] else ''}, {r['seconds']:.1f}s, "
                f"ROC-AUC {r['roc_auc']:.3f}",
                file=sys.stderr,
                flush=True,
            )
        return self.runs[k]


# ----------------------------------------------------------------------------- thresholds
def hd_quantile(s: np.ndarray, q: float) -> float:
    """Harrell-Davis quantile (scipy.stats.mstats.hdquantiles): a Beta-weighted mean of all order statistics."""
    from scipy.stats.mstats import hdquantiles

    return float(hdquantiles(s, prob=[q])[0])


def kernel_quantile(s: np.ndarray, q: float) -> float:
    """Quantile of the Gaussian-kernel-smoothed ECDF (Silverman's bandwidth), by bisection."""
    from scipy.special import ndtr

    s = np.sort(np.asarray(s, dtype=np.float64))
    iqr = np.subtract(*np.percentile(s, [75, 25]))
    h = 0.9 * min(s.std(), iqr / 1.349) * len(s) ** -0.2
    lo, hi = s[0] - 5 * h, s[-1] + 5 * h
    for _ in range(100):
        mid = (lo + hi) / 2
        if ndtr((mid - s) / h).mean() < q:
            lo = mid
        else:
            hi = mid
    return float((lo + hi) / 2)


#: threshold estimator name -> f(calibration scores, percentile)
THRESHOLDS = {
    "percentile (np.percentile, today)": lambda s, p=PERCENTILE: float(np.percentile(s, p)),
    "Harrell-Davis": lambda s, p=PERCENTILE: hd_quantile(s, p / 100),
    "kernel-smoothed ECDF": lambda s, p=PERCENTILE: kernel_quantile(s, p / 100),
}


def fpr_interval(n: int, percentile: float = PERCENTILE, level: float = 0.9) -> tuple[float, float]:
    """The interval ``aeexport.export.fpr_interval`` stores in the manifest for ``np.percentile`` of ``n``
    calibration scores: the threshold sits between order statistics floor and ceil of (n - 1) p + 1, and the
    share of the normal score distribution above order statistic k is Beta(n - k + 1, k) distributed."""
    from aeexport.export import fpr_interval as stored

    band = stored(n, (n - 1) * percentile / 100 + 1, level)
    return band["low"], band["high"]


def at_threshold(r: dict[str, Any], thr: float) -> tuple[float, float]:
    """(FPR on the test normals, recall on the anomalies) at ``score > thr``."""
    s, y = np.asarray(r["test_scores"]), np.asarray(r["y_test"])
    return float((s[y == 0] > thr).mean()), float((s[y == 1] > thr).mean())


def recall_at_fpr(r: dict[str, Any], fpr: float) -> float:
    """Recall at the highest threshold whose test FPR is at most ``fpr``."""
    s, y = np.asarray(r["test_scores"]), np.asarray(r["y_test"])
    normal = np.sort(s[y == 0])[::-1]
    k = int(math.floor(fpr * len(normal)))  # at most k normal rows above the threshold
    thr = normal[k] if k < len(normal) else -np.inf
    return float((s[y == 1] > thr).mean())


# ----------------------------------------------------------------------------- tables
def msd(values: list[float], fmt: str = ".3f") -> str:
    a = np.asarray(values, dtype=np.float64)
    return f"{a.mean():{fmt}} ± {a.std(ddof=1) if len(a) > 1 else 0.0:{fmt}}"


def convergence_table(cache: Cache, seeds: list[int], kinds: list[str], variants: list[str]) -> list[str]:
    lines = [
        "| kind | variant | epochs run (per seed) | stopped at cap | train s (mean) | ROC-AUC (mean ± sd) |",
        "|---|---|---|---|---|---|",
    ]
    for kind in kinds:
        for v in variants:
            runs = [cache.get("digits", kind, v, s) for s in seeds]
            lines.append(
                f"| {kind} | {v} | {', '.join(str(r['epochs']) for r in runs)} | "
                f"{sum(r['cap'] for r in runs)}/{len(runs)} | {np.mean([r['seconds'] for r in runs]):.1f} | "
                f"{msd([r['roc_auc'] for r in runs])} |"
            )
    return lines


def kinds_table(cache: Cache, seeds: list[int], rows: list[tuple[str, str, str]]) -> list[str]:
    """rows: (data, kind, variant)."""
    lines = [
        "| data | kind | variant | ROC-AUC (mean ± sd) | recall at 5% FPR (mean ± sd) | epochs (mean) | at cap | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for data, kind, v in rows:
        runs = [cache.get(data, kind, v, s) for s in seeds]
        lines.append(
            f"| {data} | {kind} | {v} | {msd([r['roc_auc'] for r in runs])} | "
            f"{msd([recall_at_fpr(r, 0.05) for r in runs])} | {np.mean([r['epochs'] for r in runs]):.0f} | "
            f"{sum(r['cap'] for r in runs)}/{len(runs)} | {np.mean([r['seconds'] for r in runs]):.1f} |"
        )
    return lines


def threshold_table(cache: Cache, seeds: list[int], setups: list[tuple[str, str, str, float]]) -> list[str]:
    """setups: (label, kind, variant, val_fraction); each threshold estimator on each."""
    lines = [
        "| setup | calibration rows | threshold | test FPR mean ± sd | min | max | recall mean ± sd | "
        "90% FPR interval (order statistic) | interval covers test FPR | FPR / recall on seeds 0, 1, 2 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, kind, variant, vf in setups:
        runs = [cache.get("digits", kind, variant, s, vf) for s in seeds]
        n = len(runs[0]["val_scores"])
        lo, hi = fpr_interval(n)
        for tname, est in THRESHOLDS.items():
            fr = [at_threshold(r, est(np.asarray(r["val_scores"]))) for r in runs]
            fprs, recs = [f for f, _ in fr], [rc for _, rc in fr]
            covered = sum(lo <= f <= hi for f in fprs)
            lines.append(
                f"| {label} | {n} | {tname} | {msd(fprs)} | {min(fprs):.3f} | {max(fprs):.3f} | {msd(recs)} | "
                f"{lo:.3f} to {hi:.3f} | {covered}/{len(fprs)} | "
                + ", ".join(f"{f:.1%} / {rc:.0%}" for f, rc in fr[:3])
                + " |"
            )
    return lines


def percentile_table(cache: Cache, seeds: list[int], setups: list[tuple[str, str, float]], thr_name: str) -> list[str]:
    """Test FPR and recall of the stored threshold at percentiles 95, 96, 97 over ``seeds``, per setup."""
    lines = [
        "| setup | percentile | test FPR mean ± sd | max | seeds with FPR <= 6% | recall mean ± sd | min |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, variant, vf in setups:
        runs = [cache.get("digits", "dense", variant, s, vf) for s in seeds]
        for p in (95.0, 96.0, 97.0):
            fr = [at_threshold(r, THRESHOLDS[thr_name](np.asarray(r["val_scores"]), p)) for r in runs]
            fprs, recs = [f for f, _ in fr], [rc for _, rc in fr]
            lines.append(
                f"| {label} | {p:g} | {msd(fprs)} | {max(fprs):.3f} | {sum(f <= 0.06 for f in fprs)}/{len(fprs)} | "
                f"{msd(recs)} | {min(recs):.3f} |"
            )
    return lines


def final_table(cache: Cache, seeds: list[int], setups: list[tuple[str, str, float]], thr_name: str) -> list[str]:
    """Per seed: ROC-AUC, recall and FPR at the stored threshold (percentiles 95 and 96), recall at 1/5/10% FPR."""
    lines = [
        "| setup | seed | ROC-AUC | p95: recall / FPR | p96: recall / FPR | recall at 1% FPR | at 5% FPR | "
        "at 10% FPR | epochs | at cap | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, variant, vf in setups:
        for s in seeds:
            r = cache.get("digits", "dense", variant, s, vf)
            at = {p: at_threshold(r, THRESHOLDS[thr_name](np.asarray(r["val_scores"]), p)) for p in (95.0, 96.0)}
            lines.append(
                f"| {label} | {s} | {r['roc_auc']:.3f} | {at[95.0][1]:.1%} / {at[95.0][0]:.1%} | "
                f"{at[96.0][1]:.1%} / {at[96.0][0]:.1%} | {recall_at_fpr(r, 0.01):.1%} | "
                f"{recall_at_fpr(r, 0.05):.1%} | {recall_at_fpr(r, 0.10):.1%} | {r['epochs']} | {r['cap']} | "
                f"{r['seconds']:.1f} |"
            )
    return lines


#: the two settings of ``aeexport run digits`` compared end to end: (label, run_pipeline preset)
PIPELINE_SETUPS = [
    ("before: today's defaults (`--preset default`: dense, standard scaler, val 0.15, percentile 95)", "default"),
    ("after: the image preset (`--preset auto` on digits)", "auto"),
]


def pipeline_run(cache_path: Path, preset: str, seed: int) -> dict[str, Any]:
    """``run_pipeline("digits", preset=preset)`` with ``--seed seed`` (train, export, verify, score the
    test split through aeruntime), as ``aeexport run digits`` runs it; the summary, cached by (preset, seed)."""
    import tempfile

    from aeexport.pipeline import run_pipeline

    key = f"{preset}|{seed}"
    runs = {}
    if cache_path.exists():
        runs = {r["key"]: r for r in map(json.loads, cache_path.read_text(encoding="utf-8").splitlines())}
    if key in runs:
        return runs[key]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(seed=seed, device="cpu", progress=False)
        s = run_pipeline("digits", tmp, RunSettings(TrainSettings(config=cfg, preset=preset)))
        config = json.loads((Path(tmp) / "checkpoint" / "config.json").read_text(encoding="utf-8"))
    s = {k: v for k, v in s.items() if k not in ("out", "bundle", "threshold_hint")}
    r = {"key": key, "train_seconds": float(config["training"]["train_seconds"]), **s}
    with cache_path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(r) + "\n")
    print(f"pipeline {key}: FPR {r['false_positive_rate']:.1%}, recall {r['recall']:.1%}", file=sys.stderr, flush=True)
    return r


def pipeline_spread_table(cache_path: Path, seeds: list[int]) -> list[str]:
    """Before and after over ``seeds``: the test FPR of the stored threshold, its spread, how often the
    stored 90% interval covers it, recall, ROC-AUC, epochs and the cap, seconds."""
    lines = [
        "| setup | calibration rows | threshold | test FPR mean ± sd | min | max | seeds with FPR <= 6% | "
        "stored 90% interval | covers test FPR | recall mean ± sd | ROC-AUC mean ± sd | epochs (mean) | at cap | "
        "train s (mean) | total s (mean) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, preset in PIPELINE_SETUPS:
        runs = [pipeline_run(cache_path, preset, s) for s in seeds]
        fprs = [r["false_positive_rate"] for r in runs]
        stored = runs[0]["expected_false_positive_rate_interval"]  # the same n and percentile on every seed
        band = (stored["low"], stored["high"])
        covered = sum(band[0] <= f <= band[1] for f in fprs)
        lines.append(
            f"| {label} | {runs[0]['threshold_calibration_rows']} | percentile "
            f"{runs[0]['threshold_params']['percentile']:g} | {msd(fprs)} | {min(fprs):.3f} | {max(fprs):.3f} | "
            f"{sum(f <= 0.06 for f in fprs)}/{len(fprs)} | {band[0]:.3f} to {band[1]:.3f} | "
            f"{covered}/{len(fprs)} | {msd([r['recall'] for r in runs])} | {msd([r['roc_auc'] for r in runs])} | "
            f"{np.mean([r['epochs_run'] for r in runs]):.0f} | {sum(r['stopped_at_cap'] for r in runs)}/{len(runs)} | "
            f"{np.mean([r['train_seconds'] for r in runs]):.1f} | {np.mean([r['seconds'] for r in runs]):.1f} |"
        )
    return lines


def pipeline_seeds_table(cache_path: Path, seeds: list[int]) -> list[str]:
    """Per seed, before and after: what the ``test`` lines of ``aeexport run digits --seed S`` print."""
    lines = [
        "| setup | seed | ROC-AUC | stored threshold: recall / FPR | best recall at FPR 1% / 5% / 10% | epochs | "
        "at cap | train s | total s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, preset in PIPELINE_SETUPS:
        for seed in seeds:
            r = pipeline_run(cache_path, preset, seed)
            at = " / ".join(f"{v:.1%}" for v in r["recall_at_fpr"].values())
            lines.append(
                f"| {label.split(':')[0]} | {seed} | {r['roc_auc']:.3f} | {r['recall']:.1%} / "
                f"{r['false_positive_rate']:.1%} | {at} | {r['epochs_run']} | {r['stopped_at_cap']} | "
                f"{r['train_seconds']:.1f} | {r['seconds']:.1f} |"
            )
    return lines


#: today's defaults of ``aeexport run digits`` (dense, standard scaler, lr 1e-3, no schedule, min_delta 1e-4)
TODAY = "today"
#: the recommendation: minmax scaling (sigmoid output), hidden [32], latent 8, lr 3e-3 with ReduceLROnPlateau,
#: min_delta 1e-3 (with val 0.30, early stopping on a third of it and the threshold on the other two thirds)
RECOMMENDED = "minmax hidden=[32] latent_dim=8 lr=3e-3 sched=plateau min_delta=1e-3"
#: the same at lr 1e-3
RECOMMENDED_LR1 = "minmax hidden=[32] latent_dim=8 sched=plateau min_delta=1e-3"
#: kind comparison: each kind's default widths with minmax scaling and the schedule
KINDS = "minmax sched=plateau min_delta=1e-3"
#: default widths at the recommended lr
KINDS_LR3 = "minmax lr=3e-3 sched=plateau min_delta=1e-3"
#: the rule of RECOMMENDED (hidden n/2, latent n/8) for the 256 pixels of shapes
SHAPES_EIGHTH = "minmax hidden=[128] latent_dim=32 lr=3e-3 sched=plateau min_delta=1e-3"
CONVERGENCE = [
    TODAY,
    "minmax",
    "minmax epochs=100",
    "minmax min_delta=1e-3",
    "minmax sched=plateau",
    "minmax lr=3e-3",
    "minmax lr=3e-3 min_delta=1e-3",
    "minmax lr=1e-2 min_delta=1e-3",
    KINDS,
    "minmax hidden=[32] latent_dim=8",
    RECOMMENDED_LR1,
    RECOMMENDED,
]
KIND_ROWS = [
    ("digits", "dense", TODAY),
    ("digits", "dense", KINDS),
    ("digits", "dense", KINDS_LR3),
    ("digits", "dense", RECOMMENDED),
    ("digits", "conv", TODAY),
    ("digits", "conv", KINDS),
    ("digits", "denoising", KINDS),
    ("digits", "sparse", KINDS),
    ("digits", "vae", KINDS),
    ("shapes", "dense", TODAY),
    ("shapes", "dense", KINDS),
    ("shapes", "dense", KINDS_LR3),
    ("shapes", "dense", RECOMMENDED),
    ("shapes", "dense", SHAPES_EIGHTH),
    ("shapes", "conv", KINDS),
]
THRESHOLD_SETUPS = [
    ("today: dense, standard scaler, val 0.15", "dense", TODAY, 0.15),
    ("lr 1e-3 variant, val 0.15", "dense", RECOMMENDED_LR1, 0.15),
    ("lr 1e-3 variant, val 0.30", "dense", RECOMMENDED_LR1, 0.3),
    ("lr 1e-3 variant, val 0.30: stop on 1/2, calibrate on 1/2", "dense", RECOMMENDED_LR1 + " calib=split", 0.3),
    ("recommended, val 0.15", "dense", RECOMMENDED, 0.15),
    ("recommended, val 0.30", "dense", RECOMMENDED, 0.3),
    ("recommended, val 0.30: stop on 1/3, calibrate on 2/3", "dense", RECOMMENDED + " calib=split:0.67", 0.3),
]
#: setups of tables 4 and 4b: (label, variant, val fraction)
FINAL_SETUPS = [
    ("recommended, val 0.15", RECOMMENDED, 0.15),
    ("recommended, val 0.30", RECOMMENDED, 0.3),
    ("recommended, val 0.30, stop 1/3 / calibrate 2/3", RECOMMENDED + " calib=split:0.67", 0.3),
    ("lr 1e-3 variant, val 0.15", RECOMMENDED_LR1, 0.15),
]
FINAL_THRESHOLD = "Harrell-Davis"


#: why the image preset calibrates at percentile 96 (the evidence: tables 3, 4b and 5)
DECISION = [
    "## Decision: the image preset's threshold sits at percentile 96",
    "",
    "The percentile threshold of n held-out rows has an FPR on unseen normals that is Beta-distributed around "
    "the nominal rate: for n = 485 at percentile 95 the 90% interval is 3.6% to 7.1%, so one seed in five "
    "lands above 6% by the luck of the split alone. On top of that, on digits the held-out (calibration) rows "
    "score a little lower than the unseen test normals (table 3: the mean test FPR of the percentile-95 "
    "threshold is 5.9-6.0% for every setup with early stopping on the same rows, not 5%): the rows that pick "
    "the best epoch are the ones the model was tuned on. Percentile 96 moves the nominal rate to 4% and the "
    "measured mean back to about 5%: 5.0% +- 1.5 in table 4b (prototype loop, Harrell-Davis), 5.3% +- 1.5 "
    "through the real pipeline in table 5 (`np.percentile`; 8/10 seeds at most 6%, the two others at 6.5% "
    'and 8.7%), which is what a user reading "about 5% of normal rows" expects; percentile 97 undershoots '
    "(3.5%) and costs recall (0.73 vs 0.81 in table 4b). Smoothed quantiles (Harrell-Davis, kernel) and "
    "splitting the held-out rows between stopping and calibration did not narrow the spread (table 3); the "
    "larger calibration split (485 rows instead of 242) narrows the interval from 3.2-8.4% to 3.6-7.1% at "
    "percentile 95, and the measured sd of the test FPR went from 1.8 to 1.5 points (table 5; the 323 test "
    "normals alone add a binomial sd of about 1.2 points). So the preset keeps `np.percentile` and says what "
    "it does: the `threshold` line prints `percentile 96 of 485 held-out normal rows` with the expected FPR "
    "and its 90% interval (2.7% to 5.9%: it covers the test FPR on 8 of 10 seeds; it bounds the luck of the "
    "split, not the shift between held-out and unseen normals), and the manifest stores `calibration_rows` "
    "and `expected_false_positive_rate_interval`. Only the image preset changes: the tabular preset and "
    "`--preset default` keep percentile 95, and `--percentile` / `--threshold-method` given explicitly win. "
    "Recall at the stored threshold: 0.83 +- 0.11 over 10 seeds after vs 0.16 +- 0.09 before (table 5); on "
    "seeds 0, 1, 2 (README command 1 with `--seed`) 95.5% / 96.6% / 96.1% at FPR 5.9% / 4.3% / 5.6%.",
]


def pipeline_section(pcache: Path, fresh: bool, seeds: list[int], tseeds: list[int]) -> list[str]:
    """Table 5 (before and after over ``tseeds``), 5b (README command 1 on ``seeds``) and the decision."""
    if fresh and pcache.exists():
        pcache.unlink()
    return [
        "",
        f"## 5. Before and after, end to end: `aeexport run digits --seed S`, {len(tseeds)} seeds",
        "",
        "`run_pipeline('digits', preset=...)` as `aeexport run digits` calls it (train, export, verify, score the "
        "test split through aeruntime; the threshold is `np.percentile` of the exported scorer's scores of the "
        "held-out rows). Before: what `aeexport run digits` trained before the image preset (`--preset default` "
        "still gives it). After: `--preset auto`, which now chooses `image` on images. The stored interval is "
        "the manifest's `threshold.expected_false_positive_rate_interval` (`aeexport.export.fpr_interval`).",
        "",
        *pipeline_spread_table(pcache, tseeds),
        "",
        f"### 5b. README command 1, seeds {', '.join(map(str, seeds))}",
        "",
        *pipeline_seeds_table(pcache, seeds),
        "",
        *DECISION,
    ]


def arguments() -> argparse.Namespace:
    ap = parser(__doc__)
    ap.description = __doc__.split("\n\n")[0]
    ap.add_argument("--seeds", type=int, default=3, help="seeds of tables 1, 2 and 4 (default 3)")
    ap.add_argument("--threshold-seeds", type=int, default=10, help="seeds of table 3 (default 10)")
    ap.add_argument("--fresh", action="store_true", help="ignore the cached runs")
    ap.add_argument("--no-pipeline", action="store_true", help="skip the end-to-end timing of run_pipeline")
    ap.add_argument("--cache", type=Path, default=None, help=f"run cache (default {SCRATCH}/{NAME}.jsonl)")
    return ap.parse_args()


def studies_section(cache: Cache, seeds: list[int], tseeds: list[int]) -> list[str]:
    """The protocol and tables 1 to 4b (trainings cached in ``cache``)."""
    return [
        "Protocol: the module docstring of `benchmarks/digits_defaults.py`. Digits: 1797 rows, digit 0 "
        "(178 rows) unseen; per seed train 1054 / val 242 / test 323 normal + 178 anomalies (val 0.30: "
        "train 811 / val 485). Variant names: first word the scaler (`today`: TrainConfig's defaults, "
        "standard scaler), then TrainConfig fields (`lr`, `min_delta`, `epochs`), model options "
        "(`hidden`, `latent_dim`) and `sched=plateau` (ReduceLROnPlateau, factor 0.5, patience 5, "
        "threshold = min_delta); epoch cap 300 and patience 20 unless named. Train seconds are on a "
        "shared, loaded machine (see the load average): compare them within a table, not with the 30 s limit; "
        "table 5 times the end-to-end run on the same loaded machine (before and after side by side).",
        "",
        f"## 1. Convergence on digits (dense, {len(seeds)} seeds)",
        "",
        *convergence_table(cache, seeds, ["dense"], CONVERGENCE),
        "",
        f"## 2. Model kind on images ({len(seeds)} seeds)",
        "",
        "`shapes`: 1500 synthetic 16x16 images generated by `shapes_dataset` (5 classes of 300: ring, square, "
        "triangle, cross, bar; random centre, size, rotation, stroke, intensity, noise), the ring unseen.",
        "",
        *kinds_table(cache, seeds, KIND_ROWS),
        "",
        f"## 3. Threshold: percentile 95 of the val scores, test FPR over {len(tseeds)} seeds",
        "",
        "Test FPR: share of the 323 held-out normal test rows above the threshold; recall: share of the 178 "
        "anomalies. The interval is the 90% order-statistic interval of the FPR of the empirical 95th "
        "percentile of n calibration scores as the manifest stores it (`aeexport.export.fpr_interval`: Beta(n - k + 1, k) for the order statistics k next to (n - 1) 0.95 + 1); the test FPR itself has a "
        "binomial sd of about 1.2 points from its 323 rows alone.",
        "",
        *threshold_table(cache, tseeds, THRESHOLD_SETUPS),
        "",
        f"## 4. Recommended combination on digits, seeds {', '.join(map(str, seeds))}",
        "",
        f"`{RECOMMENDED}` (the lr 1e-3 variant: the same at lr 1e-3); the stored threshold is the "
        f"{FINAL_THRESHOLD} quantile of the calibration scores at percentile 95 and 96.",
        "",
        *final_table(cache, seeds, FINAL_SETUPS, FINAL_THRESHOLD),
        "",
        f"### 4b. The same setups over {len(tseeds)} seeds at percentiles 95, 96, 97 ({FINAL_THRESHOLD})",
        "",
        *percentile_table(cache, tseeds, FINAL_SETUPS, FINAL_THRESHOLD),
    ]


def main() -> None:
    a = arguments()
    torch.set_num_threads(1)
    cache_path = a.cache or SCRATCH / f"{NAME}.jsonl"
    seeds, tseeds = list(range(a.seeds)), list(range(a.threshold_seeds))
    body = studies_section(Cache(cache_path, fresh=a.fresh), seeds, tseeds)
    if not a.no_pipeline:
        body += pipeline_section(cache_path.with_name(f"{NAME}_pipeline.jsonl"), a.fresh, seeds, tseeds)
    write(NAME, "Digits defaults (issue 24)", body, a.out, a.record)


if __name__ == "__main__":
    main()
