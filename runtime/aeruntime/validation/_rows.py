"""The one row rule (dtype, shape, row count, NaN/Inf, the float32 range): see :mod:`aeruntime.validation`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import BundleError, InvalidInputError

__all__ = [
    "as_batch",
    "F32_MAX",
    "FINITE_FIX",
    "RANGE_FIX",
    "RANGE_NOTE",
    "as_rows",
    "check_chunk",
    "check_finite",
    "check_rows",
    "check_scores",
    "column_label",
    "first_non_finite",
    "non_finite_error",
    "value_error",
    "shape_rows",
    "shape_str",
    "where",
    "width_error",
]

#: the second half of every NaN/Inf message
FINITE_FIX = "the model expects finite numbers (no NaN or infinite values). Impute or drop those rows first."
#: below this |value| a row cannot overflow a squared error in float32 (sqrt(3.4e38) ~ 1.8e19, with a margin)
MODERATE = 1e15
#: the largest float32; finite values beyond it become infinite in the model's float32
F32_MAX = float(np.finfo(np.float32).max)
#: what every format says of a value beyond the float32 range (the one wording)
RANGE_NOTE = "beyond the float32 range (about ±3.4e38)"
#: the second half of every "beyond the float32 range" message
RANGE_FIX = (
    "the model expects values within the float32 range (it computes in float32, where such values "
    "become infinite). Rescale those columns (e.g. divide by a power of ten) or drop those rows first."
)

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


def width_error(name: str, n_features: int, shape: tuple[int, ...], rows: str = "", fix: str = "") -> InvalidInputError:
    """``X has 10 features, but the model expects 64. ...``: the one wording of a wrong row width."""
    return InvalidInputError(
        f"{name} has {n_features} features, but the model expects {math.prod(shape)}. "
        f"Pass an array of shape {shape_str(shape)} with the bundle's feature order{rows}.{fix}"
    )


def _check_shape(arr: np.ndarray, shape: tuple[int, ...], name: str, min_rows: int, fix: str) -> None:
    at_least = "one row" if min_rows == 1 else f"{min_rows} rows"
    if arr.ndim != len(shape) + 1 or arr.shape[1:] != shape:
        if arr.ndim == 2 and len(shape) == 1:
            rows = "" if min_rows == 1 else f" (expected at least {at_least} of {shape[0]} features)"
            raise width_error(name, arr.shape[1], shape, rows, fix)
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
    original = arr
    if dtype is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite or cast:
        check_finite(arr, name, original if cast else None, columns=columns)
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


def _describe(value: Any) -> tuple[str, str]:
    """(what the value is, the fix): ``a NaN`` / ``an infinite value`` / ``1e+39, a value beyond the float32 range``."""
    v = float(value)
    if math.isnan(v):
        return "a NaN", FINITE_FIX
    if math.isinf(v):
        return "an infinite value", FINITE_FIX
    return f"{v!r}, a value {RANGE_NOTE}", RANGE_FIX


def value_error(name: str, place: str, value: Any) -> InvalidInputError:
    """``data.csv: line 3 (row 1), column 'b' holds 1e+39, a value beyond the float32 range ...; <fix>``.

    The one message for a bad value at a known place, whatever the format: ``value``
    is the value as the file holds it (before any cast to float32), so a finite value
    beyond the float32 range is named as such, not as "infinite".
    """
    what, fix = _describe(value)
    return InvalidInputError(f"{name}: {place} holds {what}; {fix}")


def non_finite_error(
    name: str,
    x: np.ndarray,
    row: int,
    elem: tuple[int, ...],
    *,
    start: int = 0,
    columns: Sequence[str] | None = None,
    original: np.ndarray | None = None,
) -> InvalidInputError:
    """The error for the NaN/Inf at ``x[row][elem]`` of a chunk whose first row is row ``start`` of ``name``.

    ``original``: the values before a cast to float32 (then a finite value that became
    infinite is named as beyond the float32 range).
    """
    value = (x if original is None else original)[(row, *elem)]
    return value_error(name, where(start + row, elem, x.shape[1:], columns), value)


def check_finite(
    arr: np.ndarray,
    name: str = "X",
    cast: np.ndarray | bool | None = None,
    *,
    start: int | None = None,
    columns: Sequence[str] | None = None,
) -> None:
    """Raise :class:`InvalidInputError` if ``arr`` holds NaN or Inf.

    ``start=None``: ``arr`` is the whole input; the message counts the NaN and
    infinite values. ``cast``: the array ``arr`` was cast from (to float32): a value
    that is finite there but infinite in ``arr`` is reported as beyond the float32
    range (:func:`value_error`'s wording). ``start=N``: ``arr`` is a chunk whose first
    row is row N of a stream; the message names the first bad value's row in the
    stream, without counts.
    """
    bad = first_non_finite(arr)
    if bad is None:
        return
    original = cast if isinstance(cast, np.ndarray) else None
    if original is not None and math.isfinite(float(original[(bad[0], *bad[1])])):
        place = where((start or 0) + bad[0], bad[1], arr.shape[1:], columns)
        raise value_error(name, place, original[(bad[0], *bad[1])])
    if start is not None:
        raise non_finite_error(name, arr, bad[0], bad[1], start=start, columns=columns)
    mask = ~np.isfinite(arr)
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(mask.sum()) - n_nan
    raise InvalidInputError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite values, first at "
        f"{where(bad[0], bad[1], arr.shape[1:], columns)}; {FINITE_FIX}"
    )


def check_chunk(x: np.ndarray, name: str, start: int, columns: Sequence[str] | None = None) -> None:
    """A chunk of a stream (first row: row ``start``): NaN/Inf, and values of wider floats beyond float32.

    The readers of arrays keep their dtype (the model casts to float32), so a float64
    value beyond the float32 range is named here, in the same words as the other formats.
    Two reductions per chunk, wider floats only.
    """
    check_finite(x, name, start=start, columns=columns)
    if x.dtype.kind == "f" and x.dtype.itemsize > 4 and x.size:
        if max(-float(x.min()), float(x.max())) > F32_MAX:
            with np.errstate(over="ignore", invalid="ignore"):
                check_finite(x.astype(np.float32), name, x, start=start, columns=columns)


def check_scores(
    scores: np.ndarray,
    x: np.ndarray,
    name: str = "X",
    scaler: Any = None,
) -> None:
    """Raise :class:`InvalidInputError` when a score is not finite: the one check wherever scores are produced.

    A NaN/Inf input is named by :func:`check_finite`; a row of finite inputs whose score
    still overflowed is blamed on the data when its values are extreme, else on the bundle.
    "Extreme" is measured where the model computes: with ``scaler`` (the manifest's ``scaler``
    section, its ``mean`` and ``scale`` of the row shape) on the standardised row ``(x - mean) / scale``, so a
    value of 1e10 in a column the bundle scales by 1e-8 is extreme (1e18) and one of 1e16 in a
    column it scales by 1e9 is not. Cheap when all is well: one reduction over the ``n`` scores.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.add.reduce(scores, axis=None))):
            return
    bad = np.flatnonzero(~np.isfinite(scores))
    if not len(bad):
        return  # only the sum overflowed
    check_finite(x, name)
    row = int(bad[0])
    values, where_ = _magnitude(np.asarray(x[row], np.float64), scaler)
    biggest = float(np.abs(values).max()) if values.size else 0.0
    n_bad = f"{len(bad)} row{'s' if len(bad) > 1 else ''} in all"
    if biggest < MODERATE:  # nothing to rescale: the graph itself computes a non-finite score
        raise BundleError(
            f"{name}: row {row} has finite values of moderate size (largest |value| {where_}{biggest:.4g}), but the "
            f"model's score is {float(scores[row])} ({n_bad}): the bundle's graph computes a non-finite score on "
            "valid input, so the bundle is at fault, not your data. Check it with `aeruntime verify BUNDLE`, and "
            "re-export it."
        )
    if where_:
        raise InvalidInputError(
            f"{name}: row {row} has finite values, but its score overflows to {float(scores[row])} ({n_bad}): the "
            "model expects values near those it was trained on (it standardises each with the bundle's scaler and "
            f"squares it in float32, which overflows near ±3.4e38), and this row's largest |value| {where_}"
            f"{biggest:.4g} is far outside them. Check those values (units, a stray sentinel such as 1e30) or drop "
            "those rows."
        )
    raise InvalidInputError(
        f"{name}: row {row} has finite values, but its score overflows to {float(scores[row])} "
        f"({n_bad}): the model expects values it can square "
        "in float32, and values this large (near its limit, about ±3.4e38) overflow inside the model. "
        f"{RANGE_FIX[RANGE_FIX.index('Rescale') :]}"
    )


def _fit(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` as an array of ``shape``: the row shape, or one value per channel of a window ``(W, C)``."""
    return a.reshape(shape) if a.size == math.prod(shape) else np.broadcast_to(a.reshape(-1), shape)


def _magnitude(row: np.ndarray, scaler: Any) -> tuple[np.ndarray, str]:
    """The row as the model sees it: standardised by the manifest's ``scaler`` when it fits the row, else raw;
    and the words for it."""
    try:
        mean, scale = (_fit(np.asarray(scaler[k], np.float64), row.shape) for k in ("mean", "scale"))
    except (
        TypeError,
        KeyError,
        ValueError,
        IndexError,
        OverflowError,
    ):  # no usable scaler (another shape, not numbers): the raw row
        return row, ""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return (row - mean) / np.where(scale == 0, 1.0, scale), "after the bundle's scaler, (x - mean) / scale: "


# ---------------------------------------------------------------------------- the API's batches
# numpy arrays or nested lists of numbers; float64, integers and bool cast once to float32;
# big-endian and non-contiguous arrays copied into native C order
_F32 = np.dtype(np.float32)


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
    else:
        # the slow path anyway: a cast is checked, naming overflow from the cast precisely
        return check_rows(x, shape, name, finite=finite, dtype=np.float32)
    if finite:
        check_finite(arr, name)
    return arr
