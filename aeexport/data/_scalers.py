"""Scalers, one registry: ``TrainConfig.scaler`` name -> how its (centre, scale) is fitted.

The model divides ``x - centre`` by ``scale`` inside its graphs, so a bundle carries its
scaler; :func:`fit_scaler` fits it on the training rows only. Torch-free: the CLI reads
the names (:data:`SCALERS`) for its ``--scaler`` choices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aeruntime.errors import check_choice

__all__ = ["DISPERSED_K", "DISPERSED_SHARE", "SCALERS", "Scaler", "fit_scaler", "robust_iqr_scaler", "robust_scaler"]

#: a feature whose robust scale leaves more than this share of the training rows beyond
#: :data:`DISPERSED_K` scales from its median is scaled by its standard deviation (see :func:`robust_scaler`)
DISPERSED_SHARE = 0.15
#: distance from the median, in robust scales, that counts a training value as "far out"
DISPERSED_K = 10.0
#: columns whose statistics are computed together in float64 (:func:`fit_scaler`)
COLUMN_CHUNK = 8


def robust_scaler(X: np.ndarray, dispersed_share: float | None = DISPERSED_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (median, scale) of rows ``X`` (n_rows, *row_shape), float64; the ``robust`` scaler.

    The scale is IQR / 1.349 (equal to the standard deviation for normal data), so a few extreme
    rows (the anomalies of unlabelled training data) do not inflate it. Two kinds of feature take
    their standard deviation instead:

    - IQR 0 (the middle half is one value: binary or mostly-constant features; a constant
      feature then gets scale 1 in ``fit_scaler``);
    - *dispersed* features: more than ``dispersed_share`` of the training rows lie more than
      :data:`DISPERSED_K` (10) robust scales from the median. Around a roughly normal bulk no
      ordinary value lies that far out, only (some of) the anomalies, which are rarely 15% of the
      rows; more than that means the middle half does not describe the feature's spread
      (zero-inflated features such as sparse pixels or word counts: a spike at 0 and a broad
      tail of ordinary values), and the IQR would turn those ordinary values into huge scaled
      errors that swamp every other feature in the score.

    ``dispersed_share=None`` keeps the IQR for dispersed features (the ``robust-iqr`` scaler,
    preset ``tabular-v2``). The dispersed rule is counted block by block (:func:`_share_beyond`), so the
    extra memory is one temporary of ``X``'s size at a time (the quantiles' copy, the deviations of the
    standard deviation).
    """
    X = np.asarray(X, dtype=np.float64)
    q25, med, q75 = np.percentile(X, [25, 50, 75], axis=0)
    std = X.std(axis=0)
    scale = (q75 - q25) / 1.349
    use_std = scale < 1e-8
    if dispersed_share is not None:
        use_std |= _share_beyond(X, med, DISPERSED_K * np.where(use_std, 1.0, scale)) > dispersed_share
    return med, np.where(use_std, std, scale)


def _share_beyond(X: np.ndarray, centre: np.ndarray, limit: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """Per feature, the share of the rows of ``X`` (n, *row_shape) with ``|x - centre| > limit``, counted
    ``block`` rows at a time: no temporary of ``X``'s size, and a count does not depend on the rows' order."""
    count = np.zeros(X.shape[1:], dtype=np.int64)
    for i in range(0, len(X), block):
        count += (np.abs(X[i : i + block] - centre) > limit).sum(axis=0)
    return count / len(X)


def robust_iqr_scaler(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``robust-iqr`` scaler: median and IQR / 1.349 (std where the IQR is 0), no dispersed rule."""
    return robust_scaler(X, dispersed_share=None)


def _standard(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return X.mean(axis=0), X.std(axis=0)


def _minmax(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return X.min(axis=0), X.max(axis=0) - X.min(axis=0)


def _identity(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(X.shape[1:]), np.ones(X.shape[1:])


@dataclass(frozen=True)
class Scaler:
    fit: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # float64 rows (n, *row_shape) -> (centre, scale)
    output_activation: str  # decoder output activation that fits data scaled this way


#: ``TrainConfig.scaler`` name -> scaler, in ``--help`` order
SCALERS: dict[str, Scaler] = {
    "standard": Scaler(_standard, "identity"),  # z-score
    "minmax": Scaler(_minmax, "sigmoid"),  # [0, 1]
    "robust": Scaler(robust_scaler, "identity"),  # median / IQR; std on dispersed features
    "robust-iqr": Scaler(robust_iqr_scaler, "identity"),  # median / IQR only
    "none": Scaler(_identity, "identity"),
}


def fit_scaler(X: np.ndarray, kind: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (mean, scale) of scaler ``kind`` fitted on training rows ``X`` (n_rows, *row_shape).

    ``rows``: indices (n_train,) of the training rows in ``X`` (None: all rows), so a split need not copy
    them. The statistics are computed in float64 on a few columns at a time (:func:`_column_chunks`):
    the extra memory is a float64 copy of those columns and one temporary of its size at a time, never of
    the whole matrix.
    Constant features get scale 1 so they pass through instead of dividing by zero.
    """
    check_choice("scaler", kind, sorted(SCALERS))
    flat = X.reshape(len(X), -1)  # (n, F): a view of C-contiguous rows (memmaps included)
    take = np.arange(len(X)) if rows is None else np.asarray(rows)
    n_features = flat.shape[1]
    parts = [SCALERS[kind].fit(_columns(flat, take, cols)) for cols in _column_chunks(n_features)]
    mean = np.concatenate([p[0] for p in parts]).reshape(X.shape[1:])
    scale = np.concatenate([p[1] for p in parts]).reshape(X.shape[1:])
    scale = np.where(scale < 1e-8, 1.0, scale)
    return mean.astype(np.float32), scale.astype(np.float32)


def _columns(flat: np.ndarray, take: np.ndarray, cols: slice) -> np.ndarray:
    """``flat[take, cols]`` (len(take), k) as float64, gathered by :func:`aeexport.data.row_blocks`
    (a memory map is read front to back with its pages released, never all resident)."""
    from ._memory import row_blocks

    out = np.empty((len(take), cols.stop - cols.start), dtype=np.float64)  # the slices of _column_chunks
    for where, part in row_blocks(flat, take, 1 << 16):
        out[where] = part[:, cols]
    return out


def _column_chunks(n_features: int) -> list[slice]:
    """Slices of at most about :data:`COLUMN_CHUNK` columns, none of width 1 unless ``n_features`` is 1.

    Per-column statistics over ``axis=0`` of a (n, k >= 2) float64 block are bit-identical to those of
    the whole (n, F) block (same summation order), so chunking changes no result, only the peak memory
    (one float64 copy of k columns instead of all F).
    """
    n_chunks = max(1, n_features // COLUMN_CHUNK)
    bounds = np.linspace(0, n_features, n_chunks + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
