"""Shared by bench_pca.py and bench_compression.py: datasets and small dense autoencoders, exported.

Each dataset is split the way ``aeexport run`` splits labelled data (normal rows only
for training: train / val / test, every anomaly to test); the autoencoder trains on
the train rows for a few epochs, is exported to a bundle and loaded with
``aeruntime.load``, so every figure comes from the deployed graphs.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: default location of the shared tabular sets (``../shared/datasets`` beside the repository)
DEFAULT_DATASETS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"


@dataclass
class Prepared:
    name: str
    train: np.ndarray  # (n_train, d) normal rows the AE and PCA are fitted on
    val: np.ndarray  # (n_val, d) normal rows: early stopping and threshold
    test: np.ndarray  # (n_test, d) held-out normal rows the figures are measured on
    model: object  # aeruntime.Model of the exported bundle
    epochs: int  # epochs run
    seconds: float  # training seconds


def load(name: str, datasets: Path) -> tuple[np.ndarray, np.ndarray]:
    """``"digits"`` (class 0 = anomaly) or ``<datasets>/<name>.npz`` (X, y with 1 = anomaly)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data.astype(np.float32), (d.target == 0).astype(np.int8)
    path = Path(datasets) / f"{name}.npz"
    if not path.is_file():
        raise SystemExit(f"{path} not found; pass --datasets DIR holding {name}.npz")
    with np.load(path, allow_pickle=False) as z:
        return z["X"].astype(np.float32), z["y"].astype(np.int8)


def prepare(name: str, datasets: Path, *, latent_dim: int | None, epochs: int, seed: int, workdir: Path) -> Prepared:
    import aeruntime
    from aeexport.data import make_split
    from aeexport.export import export_bundle
    from aeexport.settings import TrainConfig
    from aeexport.train import train_model

    X, y = load(name, datasets)
    split = make_split(X, y, val_fraction=0.15, test_fraction=0.25, seed=seed)
    test = split.test[split.y_test == 0]
    cfg = TrainConfig(epochs=epochs, patience=10, progress=False, seed=seed)
    # An explicit code size without widths gets no hidden layer from make_config (a near-linear AE):
    # keep one hidden layer of max(d / 2, 2k), aeexport's default shape, so every code size is nonlinear.
    options = {} if latent_dim is None else {"latent_dim": latent_dim, "hidden": [max(X.shape[1] // 2, 2 * latent_dim)]}
    r = train_model(split.train, split.val, kind="dense", model_options=options, config=cfg)
    out = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)) / "bundle"
    export_bundle(r.model, out, calibration_x=split.val, training=r.summary(), dataset={"source": name})
    return Prepared(name, split.train, split.val, test, aeruntime.load(out, providers="cpu"), len(r.history), r.seconds)


def parse_args(doc: str, name: str, names: str, epochs: int, latent_help: str) -> argparse.Namespace:
    """The arguments both small-AE benchmarks take; ``args.path`` is the file the result goes to."""
    from harness import parser, result_path

    ap = parser(doc)
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS, help="directory of the shared .npz sets")
    ap.add_argument("--names", default=names, help="comma-separated dataset names")
    ap.add_argument("--latent-dims", default="default", help=latent_help)
    ap.add_argument("--epochs", type=int, default=epochs, help="upper bound (early stopping, patience 10)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.path = result_path(name, args.out, args.record)
    return args
