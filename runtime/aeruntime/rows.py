"""The one row rule: shape, dtype, NaN/Inf and the float32 range, with messages naming row and column.

Every place that takes rows for a model goes through here (sklearn routes every
method through one ``_validate_data``): :func:`aeruntime.validate.as_batch` (the
API), the table readers (:mod:`aeruntime.tables`, chunk by chunk, with the row
offset of the chunk in the file), and aeexport's ``verify``, ``compare-pca`` and
data loading. One wording per failure:

- dtype: ``X has dtype <U1 (strings), but the model expects real numbers (float32). ...``;
- width: ``X has 10 features, but the model expects 64. Pass an array of shape (n_rows, 64) ...``;
- rank: ``X has shape (64,), but the model expects (n_rows, 64). For a single row use X.reshape(1, 64).``;
- rows: ``X has 0 rows (shape (0, 64)), but the model expects at least one row of shape (64,). ...``;
- NaN/Inf, a whole array (counted): ``X contains 1 NaN and 0 infinite values, first at row 2, column 5;
  the model expects finite numbers (no NaN or infinite values). Impute or drop those rows first.``;
- NaN/Inf, a chunk of a stream (not counted: the count would be the chunk's):
  ``data.npy: row 1500, column 3 holds a NaN; the model expects finite numbers ...``.

A column is named ``column 'px5'`` when the caller knows the feature names,
``column 5`` otherwise, ``element (0, 3, 4)`` for rows of higher rank. Spark's
batches use :func:`first_non_finite` and :func:`where` with their row offset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = [
    "FINITE_FIX",
    "as_rows",
    "check_finite",
    "check_rows",
    "column_label",
    "first_non_finite",
    "non_finite_error",
    "shape_rows",
    "shape_str",
    "where",
]

#: the second half of every NaN/Inf message
FINITE_FIX = "the model expects finite numbers (no NaN or infinite values). Impute or drop those rows first."

_KINDS = {
    "U": "strings",
    "S": "bytes",
    "O": "Python objects",
    "c": "complex numbers",
    "M": "datetimes",
    "m": "timedeltas",
    "V": "structured records",
}


def shape_str(shape: tuple[int, ...]) -> str:
    """``(64,)`` -> ``(n_rows, 64)``."""
    return "(" + ", ".join(["n_rows", *map(str, shape)]) + ")"


# ---------------------------------------------------------------------------- dtype
def as_rows(x: Any, name: str = "X") -> np.ndarray:
    """``x`` as a numeric ndarray (real numbers, integers, bool; objects cast to float64), or a typed error."""
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
    raise InvalidInputError(
        f"{name} has dtype {arr.dtype} ({_KINDS.get(kind, kind)}{reason}), but the model expects real numbers "
        f"(float32). Convert it first, e.g. np.asarray({name}, dtype=np.float32), after parsing or dropping "
        "non-numeric columns."
    )


# ---------------------------------------------------------------------------- shape
def shape_rows(x: np.ndarray, row_shape: tuple[int, ...] | None) -> np.ndarray:
    """Flat rows (n, d) -> (n, *row_shape) when d matches (e.g. images stored flat); else ``x``."""
    if row_shape and x.ndim == 2 and x.shape[1:] != row_shape and x.shape[1] == math.prod(row_shape):
        return x.reshape(len(x), *row_shape)
    return x


def _fix_for_shape(received: tuple[int, ...], expected: tuple[int, ...]) -> str:
    n_expected = math.prod(expected)
    if len(received) >= 1 and math.prod(received[1:]) == n_expected:
        target = ", ".join(["-1", *map(str, expected)])
        return f" Reshape it with X.reshape({target})."
    if len(received) == len(expected) and math.prod(received) == n_expected:
        return " For a single row use X.reshape(1, " + ", ".join(map(str, expected)) + ")."
    return ""


def _check_shape(arr: np.ndarray, shape: tuple[int, ...], name: str, min_rows: int, fix: str) -> None:
    at_least = "one row" if min_rows == 1 else f"{min_rows} rows"
    if arr.ndim != len(shape) + 1 or arr.shape[1:] != shape:
        if arr.ndim == 2 and len(shape) == 1:
            rows = "" if min_rows == 1 else f" (expected at least {at_least} of {shape[0]} features)"
            raise InvalidInputError(
                f"{name} has {arr.shape[1]} features, but the model expects {shape[0]}. "
                f"Pass an array of shape {shape_str(shape)} with the bundle's feature order{rows}.{fix}"
            )
        raise InvalidInputError(
            f"{name} has shape {arr.shape}, but the model expects {shape_str(shape)}."
            + _fix_for_shape(arr.shape, shape)
            + fix
        )
    if arr.shape[0] < min_rows:
        raise InvalidInputError(
            f"{name} has {arr.shape[0]} row{'' if arr.shape[0] == 1 else 's'} (shape {arr.shape}), but the model "
            f"expects at least {at_least} "
            f"of shape {shape}." + (" Check the upstream filter that emptied it." if arr.shape[0] == 0 else "")
        )


def check_rows(
    x: Any,
    shape: tuple[int, ...],
    name: str = "X",
    *,
    min_rows: int = 1,
    finite: bool = True,
    flat_ok: bool = False,
    columns: Sequence[str] | None = None,
    fix: str = "",
    dtype: Any = None,
) -> np.ndarray:
    """``x`` as an array of shape (n_rows, *shape), or :class:`InvalidInputError` saying what is wrong.

    Parameters
    ----------
    x : array-like
        Rows in raw feature units.
    shape : tuple of int
        Shape of one row, e.g. ``(64,)`` or ``(1, 8, 8)``.
    name : str
        What ``x`` is called in messages (``"X"``, ``"--data"``, a file name).
    min_rows : int
        Fewest rows accepted.
    finite : bool
        Reject NaN/Inf (counted, naming the first row and column).
    flat_ok : bool
        Accept rows of any shape holding the same number of values (reshaped to ``shape``).
    columns : sequence of str, optional
        Feature names, to name the column of a NaN/Inf.
    fix : str
        A sentence appended to shape messages (what the caller's user should do).
    dtype : numpy dtype, optional
        Cast to it (C-contiguous); a cast is always checked for NaN/Inf, since values
        beyond the float32 range become infinite (the message says so). None: keep
        the input's numeric dtype.
    """
    arr = as_rows(x, name)
    if flat_ok and arr.ndim >= 2 and arr.shape[1:] != shape and math.prod(arr.shape[1:]) == math.prod(shape):
        arr = arr.reshape(len(arr), *shape)
    _check_shape(arr, shape, name, min_rows, fix)
    cast = dtype is not None and arr.dtype != np.dtype(dtype)
    if dtype is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite or cast:
        check_finite(arr, name, cast and arr.dtype == np.float32, columns=columns)
    return arr


# ---------------------------------------------------------------------------- NaN / Inf
def first_non_finite(x: np.ndarray) -> tuple[int, tuple[int, ...]] | None:
    """(row, element index within the row) of the first NaN/Inf in ``x``, or None when all are finite.

    One reduction in the common case: the sum of finite values is finite unless it
    overflows, and only a non-finite sum sends us to the exact (slower) search.
    """
    if x.dtype.kind != "f":
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.add.reduce(x, axis=None))):
            return None
    bad = np.argwhere(~np.isfinite(x))
    if not len(bad):
        return None
    return int(bad[0][0]), tuple(int(i) for i in bad[0][1:])


def column_label(elem: tuple[int, ...], row_shape: tuple[int, ...], columns: Sequence[str] | None = None) -> str:
    """``column 'px5'`` (named), ``column 5`` (flat rows) or ``element (0, 3, 4)``; ``the value`` for scalars."""
    flat = int(np.ravel_multi_index(elem, row_shape)) if elem else 0
    if columns is not None and flat < len(columns):
        return f"column {columns[flat]!r}"
    if len(elem) == 1:
        return f"column {elem[0]}"
    return f"element {elem}" if elem else "the value"


def where(row: int, elem: tuple[int, ...], row_shape: tuple[int, ...], columns: Sequence[str] | None = None) -> str:
    """``row 17, column 'px5'``: the place of one value (``row`` counted in the caller's file or stream)."""
    return f"row {row}, {column_label(elem, row_shape, columns)}" if elem else f"row {row}"


def non_finite_error(
    name: str, x: np.ndarray, row: int, elem: tuple[int, ...], *, start: int = 0, columns: Sequence[str] | None = None
) -> InvalidInputError:
    """The error for the NaN/Inf at ``x[row][elem]`` of a chunk whose first row is row ``start`` of ``name``."""
    value = x[(row, *elem)]
    what = "a NaN" if np.isnan(value) else "an infinite value"
    return InvalidInputError(f"{name}: {where(start + row, elem, x.shape[1:], columns)} holds {what}; {FINITE_FIX}")


def check_finite(
    arr: np.ndarray,
    name: str = "X",
    cast: bool = False,
    *,
    start: int | None = None,
    columns: Sequence[str] | None = None,
) -> None:
    """Raise :class:`InvalidInputError` if ``arr`` holds NaN or Inf.

    ``start=None``: ``arr`` is the whole input; the message counts the NaN and
    infinite values (``cast``, with infinite values: it notes that values beyond the
    float32 range become infinite when cast). ``start=N``: ``arr`` is a chunk whose first row is row N of a stream;
    the message names the first bad value's row in the stream, without counts.
    """
    bad = first_non_finite(arr)
    if bad is None:
        return
    if start is not None:
        raise non_finite_error(name, arr, bad[0], bad[1], start=start, columns=columns)
    mask = ~np.isfinite(arr)
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(mask.sum()) - n_nan
    # a cast makes no NaN, but values beyond the float32 range become infinite
    note = " (values beyond the float32 range, about ±3.4e38, become infinite when cast)" if cast and n_inf else ""
    raise InvalidInputError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite values{note}, first at "
        f"{where(bad[0], bad[1], arr.shape[1:], columns)}; {FINITE_FIX}"
    )
