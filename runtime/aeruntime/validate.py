"""Input validation of the API: one function turns whatever the user passed into a float32 batch.

Accepted: numpy arrays or nested lists of numbers (float64, integers and bool are
cast once to float32; big-endian and non-contiguous arrays are copied into native
C order). Rejected with :class:`~aeruntime.errors.InvalidInputError`: wrong rank,
wrong trailing shape, no rows, NaN/Inf (also values that overflow float32),
strings, complex numbers and other non-numeric data. The checks and their wording
are the one row rule, :mod:`aeruntime.rows`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .rows import check_finite, check_rows, shape_str

__all__ = ["as_batch", "check_finite", "shape_str"]

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
