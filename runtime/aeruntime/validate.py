"""Input validation: one function turns whatever the user passed into a float32 batch.

Accepted: numpy arrays or nested lists of numbers (float64, integers and bool are
cast once to float32; big-endian and non-contiguous arrays are copied into native
C order). Rejected with :class:`~aeruntime.errors.InvalidInputError`: wrong rank,
wrong trailing shape, no rows, NaN/Inf (also values that overflow float32),
strings, complex numbers and other non-numeric data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = ["as_batch", "check_finite", "shape_str"]

_F32 = np.dtype(np.float32)


def shape_str(shape: tuple[int, ...]) -> str:
    """``(64,)`` -> ``(n_rows, 64)``."""
    return "(" + ", ".join(["n_rows", *map(str, shape)]) + ")"


def _fix_for_shape(received: tuple[int, ...], expected: tuple[int, ...]) -> str:
    n_expected = math.prod(expected)
    if len(received) >= 1 and math.prod(received[1:]) == n_expected:
        target = ", ".join(["-1", *map(str, expected)])
        return f" Reshape it with X.reshape({target})."
    if len(received) == len(expected) and math.prod(received) == n_expected:
        return " For a single row use X.reshape(1, " + ", ".join(map(str, expected)) + ")."
    return ""


def _to_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError, OverflowError) as exc:  # ragged nested lists
            raise InvalidInputError(
                f"{name} could not be converted to an array ({exc}); expected a rectangular "
                "array of numbers such as a numpy array or a list of equal-length rows."
            ) from None
    kind = arr.dtype.kind
    if kind in "fiub":
        return arr
    reason = ""
    if kind == "O":
        try:
            return arr.astype(np.float64)
        except (ValueError, TypeError, OverflowError) as exc:  # None, strings, ints beyond float range
            reason = f": {str(exc)[:120]}"
    what = {
        "U": "strings",
        "S": "bytes",
        "O": "Python objects",
        "c": "complex numbers",
        "M": "datetimes",
        "m": "timedeltas",
        "V": "structured records",
    }.get(kind, kind)
    raise InvalidInputError(
        f"{name} has dtype {arr.dtype} ({what}{reason}), but the model expects real numbers (float32). "
        f"Convert it first, e.g. np.asarray({name}, dtype=np.float32), after parsing or dropping "
        "non-numeric columns."
    )


def _raise_not_finite(arr: np.ndarray, name: str, cast: bool) -> None:
    bad = ~np.isfinite(arr)
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(bad.sum()) - n_nan
    first = np.argwhere(bad)[0]
    rest = tuple(int(i) for i in first[1:])
    where = f"row {first[0]}" + (f", column {rest[0]}" if len(rest) == 1 else f", element {rest}" if rest else "")
    note = " (values beyond the float32 range, about ±3.4e38, become infinite when cast)" if cast else ""
    raise InvalidInputError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite values{note}, first at {where}; "
        "the model expects finite numbers. Impute or drop those rows before scoring."
    )


def as_batch(x: Any, shape: tuple[int, ...], name: str = "X", *, finite: bool = True) -> np.ndarray:
    """Validate ``x`` against a per-row ``shape`` and return a float32 C-contiguous batch.

    Parameters
    ----------
    x : array-like of shape (n_rows, *shape)
        Rows to feed the model, in raw feature units.
    shape : tuple of int
        Shape of one row, e.g. ``(64,)`` or ``(1, 8, 8)``.
    name : str
        Name used in error messages.
    finite : bool, default True
        Check for NaN/Inf. :meth:`Model.score` passes False and checks its
        output instead (cheaper; a non-finite input always gives a non-finite
        score, and then :func:`check_finite` names the culprit).

    Returns
    -------
    ndarray of shape (n_rows, *shape), dtype float32
    """
    # Fast path: the common case costs a few attribute reads and one reduction.
    if (
        type(x) is np.ndarray
        and x.dtype is _F32
        and x.shape[1:] == shape
        and x.ndim == len(shape) + 1
        and x.shape[0] > 0
        and x.flags.c_contiguous
    ):
        arr = x
        cast = False
    else:
        arr = _to_array(x, name)
        if arr.ndim != len(shape) + 1 or arr.shape[1:] != shape:
            if arr.ndim == 2 and len(shape) == 1:
                raise InvalidInputError(
                    f"{name} has {arr.shape[1]} features, but the model expects {shape[0]}. "
                    f"Pass an array of shape {shape_str(shape)} with the bundle's feature order."
                )
            raise InvalidInputError(
                f"{name} has shape {arr.shape}, but the model expects {shape_str(shape)}."
                + _fix_for_shape(arr.shape, shape)
            )
        if arr.shape[0] == 0:
            raise InvalidInputError(
                f"{name} has 0 rows (shape {arr.shape}), but the model expects at least one row "
                f"of shape {shape}. Check the upstream filter that emptied it."
            )
        cast = arr.dtype != np.float32
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.ascontiguousarray(arr, dtype=np.float32)
        if cast:  # the slow path anyway: name overflow from the cast precisely
            finite = True
    if finite:
        check_finite(arr, name, cast)
    return arr


def check_finite(arr: np.ndarray, name: str = "X", cast: bool = False) -> None:
    """Raise :class:`InvalidInputError` if ``arr`` holds NaN or Inf."""
    # The sum of finite values is finite unless it overflows; either way a
    # non-finite sum sends us to the exact (slower) check.
    with np.errstate(over="ignore", invalid="ignore"):  # large finite values may overflow the sum
        total = float(np.add.reduce(arr, axis=None))
    if not math.isfinite(total) and not np.isfinite(arr).all():
        _raise_not_finite(arr, name, cast)
