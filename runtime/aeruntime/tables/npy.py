"""Arrays: ``.npy`` (memory-mapped, pages released as they are read) and ``.npz`` (read whole).

The one ``.npy`` reader: :func:`load_npy` (a whole array, for :mod:`aeruntime.tables.load`)
and :func:`npy_source` (chunks) read the header the same way and share its errors.
Nothing here unpickles: ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import InvalidInputError
from ..fs.faults import os_fault
from ..validation import check_chunk, shape_rows
from .source import Chunk, Source

__all__ = ["array_source", "load_npy", "npy_source", "read_npz"]

_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class _Header(NamedTuple):
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    offset: int  # bytes before the data


def _unreadable(path: Path, exc: BaseException) -> InvalidInputError:
    return InvalidInputError(
        f"{path}: cannot read it as .npy ({exc}); the file may be truncated, or hold "
        "pickled objects, which are never loaded. Save plain numeric arrays with np.save."
    )


def _read_header(path: Path) -> _Header:
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version not in _HEADERS:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = _HEADERS[version](fh)
            offset = fh.tell()
    except OSError as exc:
        raise os_fault(exc, path, "read") from exc
    except (ValueError, EOFError) as exc:
        raise _unreadable(path, exc) from None
    if dtype.hasobject:
        raise InvalidInputError(
            f"{path}: the .npy file holds Python objects (pickled objects, which are never "
            "loaded); save a numeric array with np.save."
        )
    return _Header(tuple(shape), bool(fortran), dtype, offset)


def load_npy(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """The whole array of an ``.npy`` file (``mmap_mode="r"``: memory-mapped), or a typed error."""
    _read_header(path)
    try:
        return np.load(path, allow_pickle=False, mmap_mode=mmap_mode)
    except (ValueError, EOFError) as exc:
        raise _unreadable(path, exc) from None
    except OSError as exc:  # a short read is an EOFError/ValueError; this is the file system
        raise os_fault(exc, path, "read") from exc


def npy_source(path: Path, batch: int, row_shape: tuple[int, ...] | None, finite: bool) -> Source:
    """Chunks of a memory-mapped ``.npy`` file; each chunk's pages are released after it is read."""
    head = _read_header(path)
    count = math.prod(head.shape)
    if head.fortran or count == 0:
        return array_source(path, load_npy(path, "r" if count else None), batch, row_shape, finite)
    if os.path.getsize(path) < head.offset + count * head.dtype.itemsize:
        raise InvalidInputError(f"{path}: the file is truncated (header says shape {head.shape}); re-create it.")
    n = head.shape[0] if head.shape else 0
    chunks = _mapped_chunks(path, head, batch, row_shape, finite)
    return Source(path, chunks, n_rows=n, total=n, unit="rows", dtype=head.dtype)


def _mapped_chunks(
    path: Path, head: _Header, batch: int, row_shape: tuple[int, ...] | None, finite: bool
) -> Iterator[Chunk]:
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    # the map stays valid after the file is closed
    shape, dtype, offset = head.shape, head.dtype, head.offset
    arr = np.frombuffer(mm, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)
    row_bytes = dtype.itemsize * math.prod(shape[1:])
    page = mmap.PAGESIZE
    released = 0
    try:
        for i in range(0, shape[0] if shape else 0, batch):
            chunk = arr[i : i + batch]
            if finite:
                check_chunk(chunk, str(path), i)
            yield Chunk(shape_rows(chunk, row_shape), i, len(chunk))
            end = (offset + (i + len(chunk)) * row_bytes) // page * page
            if end > released and hasattr(mm, "madvise"):
                mm.madvise(mmap.MADV_DONTNEED, released, end - released)
                released = end
    finally:
        del arr
        # The caller may still hold the last chunk (a view of the map): then the
        # map is closed by the garbage collector once that view is gone.
        with contextlib.suppress(BufferError):
            mm.close()


def array_source(path: Path, arr: np.ndarray, batch: int, row_shape: tuple[int, ...] | None, finite: bool) -> Source:
    """Chunks of an array already in memory (``.npz``, Fortran-ordered or empty ``.npy``)."""
    n = len(arr) if arr.ndim else 0

    def gen() -> Iterator[Chunk]:
        for i in range(0, max(n, 1), batch):
            chunk = arr[i : i + batch]
            if finite:
                check_chunk(chunk, str(path), i)
            yield Chunk(shape_rows(chunk, row_shape), i, len(chunk))

    return Source(path, gen(), n_rows=n, total=n, unit="rows", dtype=arr.dtype)


def read_npz(path: Path, key: str | Sequence[str] = "X") -> tuple[np.ndarray, np.ndarray | None]:
    """``(arr, y)`` from an ``.npz`` archive: the first of ``key`` present, and ``y`` if present."""
    keys = [key] if isinstance(key, str) else list(key)
    try:
        with np.load(path, allow_pickle=False) as data:
            found = next((k for k in keys if k in data), None)
            if found is None:
                raise InvalidInputError(
                    f"{path}: an .npz input must hold an array named {keys[0]!r} (and optionally 'y'); "
                    f"found {sorted(data.files)}. Save with np.savez(path, {keys[0]}=..., y=y)."
                )
            return data[found], data.get("y")
    except InvalidInputError:
        raise
    except OSError as exc:
        raise os_fault(exc, path, "read") from exc
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidInputError(
            f"{path}: cannot read it as .npz ({exc}); the file may be truncated, or hold pickled objects, "
            "which are never loaded. Save plain numeric arrays with np.savez."
        ) from None
