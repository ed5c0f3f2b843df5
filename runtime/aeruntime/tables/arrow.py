"""pyarrow, imported only where a table (CSV, Parquet) is read or written.

pyarrow is the ``tables`` extra (``pip install "aeruntime[cpu,tables]"``): an edge
install that scores numpy arrays needs only numpy and onnxruntime.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError

__all__ = ["TABLES_EXTRA", "require_pyarrow"]

#: the pip command that brings pyarrow
TABLES_EXTRA = "pip install 'aeruntime[tables]'"


def require_pyarrow(what: str) -> Any:
    """The ``pyarrow`` module, or an :class:`InvalidInputError` saying how to get it.

    Parameters
    ----------
    what : str
        What needs it, e.g. ``"data.csv: reading CSV"``.
    """
    try:
        import pyarrow
    except ImportError:
        raise InvalidInputError(
            f"{what} needs pyarrow, which is not installed; {TABLES_EXTRA} (or pip install 'pyarrow>=14'). "
            "Arrays in .npy/.npz files need nothing more."
        ) from None
    return pyarrow
