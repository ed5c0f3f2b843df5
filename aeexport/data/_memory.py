"""Give memory back to the OS once the training rows are scaled into their tensor.

Training reads its rows once (scaler fit, then one scaled float32 tensor) and never again. What
that read leaves behind still counts in the process's resident set unless it is handed back:

- the pages of a memory-mapped ``.npy`` (file-backed: the kernel may drop them, but not before
  memory runs short, so they sit in the peak RSS next to the tensor);
- free blocks of Arrow's memory pool and of glibc's heap left by parsing CSV/Parquet.

Both calls only release memory nobody uses any more: they change no value.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["release_mapped", "row_blocks", "trim_heap"]


def _mapped_base(X: Any) -> np.memmap | None:
    """The read-only ``np.memmap`` that ``X`` is (or is a view of), else None."""
    node = X
    while isinstance(node, np.ndarray):
        if isinstance(node, np.memmap) and isinstance(getattr(node, "_mmap", None), mmap.mmap):
            return node if not node.flags.writeable else None
        node = node.base
    return None


def release_mapped(X: Any) -> bool:
    """Drop the resident pages of a read-only memory-mapped array ``X`` (n, ...) from this process.

    ``madvise(MADV_DONTNEED)`` on a read-only file mapping discards the process's page-table
    entries; the data stays in the file (and the page cache), and a later read faults it back
    in unchanged. Returns True when pages were released; False for in-memory arrays, writable
    maps (whose dirty pages must not be dropped) and platforms without ``madvise``.
    """
    base = _mapped_base(X)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if base is None or advice is None:
        return False
    raw = base._mmap  # noqa: SLF001 - numpy keeps the mmap object here; there is no public handle
    try:
        raw.madvise(advice)
    except (OSError, ValueError):  # closed map or an unsupported advice
        return False
    return True


def trim_heap() -> None:
    """Hand free memory back to the OS: Arrow's pool (when pyarrow is loaded) and glibc's heap."""
    import sys

    pa = sys.modules.get("pyarrow")
    if pa is not None:
        try:
            pa.default_memory_pool().release_unused()
        except (AttributeError, OSError):  # an older pyarrow or a pool without the call
            pass
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)


def row_blocks(X: np.ndarray, rows: np.ndarray, block: int) -> Iterator[tuple[Any, np.ndarray]]:
    """``(where, part)`` pairs with ``part == X[rows[where]]``, covering every position of ``rows`` once.

    ``X`` (n, ...), ``rows`` (m,) indices into it. In memory: ``where`` is the slice of ``block``
    positions at a time, in order. A read-only memory map with distinct ``rows`` is read front to
    back instead, ``block`` file rows at a time, and ``where`` is the (k,) positions of the rows found
    in that block; its pages are released after each block, so a random split of a file larger than
    memory never makes the whole map resident. Either way the caller fills the same values into the
    same positions.
    """
    rows = np.asarray(rows)
    if _mapped_base(X) is not None:
        pos = np.full(len(X), -1, dtype=np.int64)
        pos[rows] = np.arange(len(rows))
        if int(np.count_nonzero(pos >= 0)) == len(rows):  # distinct rows: each file row has one place
            for a in range(0, len(X), block):
                where = pos[a : a + block]
                keep = where >= 0
                if keep.any():
                    yield where[keep], np.asarray(X[a : a + block])[keep]
                release_mapped(X)
            return
    for i in range(0, len(rows), block):
        yield slice(i, i + block), X[rows[i : i + block]]
