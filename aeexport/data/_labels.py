"""Anomaly labels, one rule for every command: 1 = anomaly, 0 = normal.

Labels are either already 0/1 or classes, of which ``anomaly_class`` is the anomaly
(:func:`binary_labels`); labels handed over as 0/1 are checked by
:func:`as_binary_labels`. Callers that describe DATA without requiring labels
(``aeexport report``, ``compare-pca``) check :func:`is_binary` themselves and treat
unlabelled rows or classes without an anomaly class as unlabelled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aeruntime.errors import InvalidInputError

__all__ = ["as_binary_labels", "binary_labels", "is_binary"]


def is_binary(y: Any) -> bool:
    """True when every label is 0 or 1."""
    return set(np.unique(np.asarray(y)).tolist()) <= {0, 1}


def binary_labels(y: np.ndarray, anomaly_class: int | None = None, *, require_class: bool = True) -> np.ndarray:
    """1 = anomaly, 0 = normal: either ``y == anomaly_class`` or labels already in {0, 1}.

    ``require_class=False`` lets an ``anomaly_class`` that no row has give all-normal labels
    (rows measured against a bundle need hold no anomaly); by default it is refused.
    """
    if anomaly_class is not None:
        if require_class and not (y == anomaly_class).any():
            shown = sorted(np.unique(y).tolist())[:10]
            raise InvalidInputError(
                f"--anomaly-class {anomaly_class}: no row has that label; the labels are {shown}. Pass one of them."
            )
        return (y == anomaly_class).astype(np.int8)
    if not is_binary(y):
        values = set(np.unique(y).tolist())
        raise InvalidInputError(
            f"labels must be 0 (normal) and 1 (anomaly), got values {sorted(values)[:10]}; "
            "pass --anomaly-class to mark one class as the anomalies."
        )
    return y.astype(np.int8)


def as_binary_labels(y: Any, n_rows: int | None = None, what: str = "labels") -> np.ndarray:
    """Check anomaly labels and return them as int8 (n_rows,): 1 = anomaly, 0 = normal.

    Raises :class:`InvalidInputError` for a wrong length, non-numeric values or
    values other than 0 and 1 (e.g. a third class).
    """
    arr = np.asarray(y).reshape(-1)
    if arr.dtype.kind not in "fiub":
        raise InvalidInputError(f"{what} have dtype {arr.dtype}; expected numbers 0 (normal) and 1 (anomaly).")
    if n_rows is not None and arr.size != n_rows:
        raise InvalidInputError(f"{what}: got {arr.size} labels for {n_rows} rows; expected one label per row.")
    if not is_binary(arr):
        values = np.unique(arr)
        shown = [int(v) if float(v).is_integer() else v for v in values[:10].tolist()]
        raise InvalidInputError(
            f"{what} must be 0 (normal) and 1 (anomaly), got the values {shown}"
            f"{' ...' if values.size > 10 else ''} ({values.size} distinct); map your classes to 0/1 "
            "first, e.g. y = (y == anomaly_class)."
        )
    return arr.astype(np.int8)
