"""Datasets and the splits used for training, calibration and evaluation.

Data sources: ``"digits"`` (scikit-learn's bundled 8x8 digits, 1797 x 64, values
0-16), or a file: ``.npy`` (rows), ``.npz`` (``X`` and optional ``y``), ``.csv``
(optional header, optional label column). Files are read by
:func:`aeruntime.io.read_table`, never unpickled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from aeruntime.errors import InvalidInputError
from aeruntime.io import read_table

__all__ = ["Dataset", "Split", "load_dataset", "make_split", "as_model_input"]

BUILTIN = ("digits",)


@dataclass
class Dataset:
    X: np.ndarray                             # (n_rows, *row_shape) raw values, float32
    y: np.ndarray | None                      # (n_rows,) labels: classes or 1 = anomaly; None if unlabelled
    name: str                                 # "digits" or the file name
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) when rows are images (digits: (1, 8, 8))


@dataclass
class Split:
    train: np.ndarray            # rows the model is fitted on (normal rows when labels exist)
    val: np.ndarray              # held-out normal rows: early stopping and threshold calibration
    test: np.ndarray | None      # held-out rows for the final evaluation (may hold anomalies)
    y_test: np.ndarray | None    # (n_test,) 1 = anomaly, 0 = normal


def load_dataset(source: str, label_column: str | None = None) -> Dataset:
    """Load ``"digits"`` or a ``.npy``/``.npz``/``.csv`` file."""
    if source == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return Dataset(d.data.astype(np.float32), d.target.astype(np.int64), "digits", (1, 8, 8))
    path = Path(source)
    if not path.exists():
        raise InvalidInputError(
            f"dataset {source!r} is neither a built-in dataset {list(BUILTIN)} nor an existing file; "
            "pass 'digits' or a path to a .npy, .npz or .csv file."
        )
    X, y = read_table(path, label_column=label_column)
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise InvalidInputError(f"{path}: features have dtype {X.dtype}; expected numbers.")
    if X.ndim < 2 or len(X) < 2:
        raise InvalidInputError(
            f"{path}: expected an array of shape (n_rows, n_features) with at least 2 rows, got {X.shape}."
        )
    if not np.isfinite(X).all():
        raise InvalidInputError(f"{path}: features contain NaN or infinite values; impute or drop them first.")
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(X):
            raise InvalidInputError(f"{path}: {len(y)} labels for {len(X)} rows; expected one label per row.")
    image_shape = tuple(X.shape[1:]) if X.ndim == 4 else None
    return Dataset(X.astype(np.float32), y, path.name, image_shape)  # type: ignore[arg-type]


def binary_labels(y: np.ndarray, anomaly_class: int | None = None) -> np.ndarray:
    """1 = anomaly, 0 = normal: either ``y == anomaly_class`` or labels already in {0, 1}."""
    if anomaly_class is not None:
        return (y == anomaly_class).astype(np.int8)
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise InvalidInputError(
            f"labels must be 0 (normal) and 1 (anomaly), got values {sorted(values)[:10]}; "
            "pass --anomaly-class to mark one class as the anomalies."
        )
    return y.astype(np.int8)


def make_split(
    X: np.ndarray,
    y_anomaly: np.ndarray | None,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> Split:
    """Split rows into train / val / test.

    With labels (1 = anomaly) the model sees normal rows only (novelty detection):
    normal rows are split into train, val and test; every anomaly goes to test.
    Without labels all rows are split the same way.
    """
    rng = np.random.default_rng(seed)
    normal = np.flatnonzero(y_anomaly == 0) if y_anomaly is not None else np.arange(len(X))
    normal = rng.permutation(normal)
    n = len(normal)
    n_test = int(math.floor(n * test_fraction))
    n_val = max(1, int(math.floor(n * val_fraction)))
    if n - n_test - n_val < 2:
        raise InvalidInputError(
            f"only {n} normal rows: too few to hold out {n_val} validation and {n_test} test rows "
            "and still train; provide more rows or lower --val-fraction."
        )
    test_idx = normal[:n_test]
    val_idx = normal[n_test : n_test + n_val]
    train_idx = normal[n_test + n_val :]
    test = y_test = None
    if y_anomaly is not None:
        anomalies = np.flatnonzero(y_anomaly == 1)
        test_idx = np.concatenate([test_idx, anomalies])
    if len(test_idx):
        test = X[test_idx]
        y_test = y_anomaly[test_idx] if y_anomaly is not None else None
    return Split(X[train_idx], X[val_idx], test, y_test)


def as_model_input(X: np.ndarray, input_rank: int, image_shape: tuple[int, ...] | None) -> np.ndarray:
    """View rows the way a model kind expects them: flat rows (rank 1) or (C, H, W) images."""
    if input_rank == 1:
        return X.reshape(len(X), -1)
    if X.ndim == 1 + input_rank:
        return X
    if image_shape is None or math.prod(image_shape) != math.prod(X.shape[1:]):
        raise InvalidInputError(
            f"this model kind expects images of rank {input_rank} (C, H, W), but the data has rows of "
            f"shape {X.shape[1:]} and no known image shape; save the data as an array of shape (n, C, H, W)."
        )
    return X.reshape(len(X), *image_shape)
