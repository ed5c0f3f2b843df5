"""Writing outputs chunk by chunk: ``.npy``, ``.npz``, ``.csv``, ``.parquet``, or CSV on stdout.

The one writer of the runtime: scores (``aeruntime score``, :func:`aeruntime.tables.write_scores`),
latent codes (``encode``) and rows (``decode``, ``reconstruct``). An output is a list of
:class:`Field` objects (one array per row each, e.g. ``score`` and ``label``, or ``z``
of shape ``latent_shape``); tables also take pass-through id columns, written first.

Every file is published atomically (the one rule, :mod:`aeruntime.fs.atomic`):
written to a temporary file beside the target, fsynced and renamed over it on success; on an exception it is removed and the target is
untouched. Memory stays flat whatever the row count:

- ``.npy``: the records go to a body file; the header (which needs the row count)
  is prefixed at the end. One field: a plain array of shape (n, *shape); several:
  a structured array (scores: ``[("score", "<f4"), ("label", "i1")]``);
- ``.npz``: one body file per field, zipped (stored, like ``np.savez``) at the end;
- ``.csv``: appended per chunk (pyarrow's writer: shortest round-trip floats; without pyarrow
  the same bytes from :mod:`aeruntime.tables.csvtext`, the standard library);
- ``.parquet``: one row group per chunk (``pyarrow.parquet.ParquetWriter``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import shutil
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import InvalidInputError
from ..fs.atomic import publish_file, temp_file_beside
from ..fs.faults import fault_of
from ..fs.outputs import check_output_file
from .arrow import require_pyarrow
from .csvtext import csv_lines

__all__ = ["OUTPUT_SUFFIXES", "SCORE_DTYPE", "SCORE_FIELDS", "Field", "check_output_path", "open_sink"]

OUTPUT_SUFFIXES = (".npy", ".npz", ".csv", ".parquet", ".pq")
_TABLES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class Field:
    """One output array: one value (or a fixed-shape block) per row."""

    name: str  # npz entry / npy record field / table column (or column prefix)
    dtype: str  # numpy dtype string, e.g. "<f4", "i1", "<f2"
    shape: tuple[int, ...] = ()  # per-row shape; () for one value per row
    columns: tuple[str, ...] | None = None  # table column names of the flattened elements (default name0...)

    def table_columns(self) -> list[str]:
        """Table column names of this field, in flattened (C) order."""
        n = math.prod(self.shape)
        if not self.shape:
            return [self.name]
        if self.columns is not None and len(self.columns) == n:
            return list(self.columns)
        return [f"{self.name}{i}" for i in range(n)]


#: ``aeruntime score`` output
SCORE_FIELDS = (Field("score", "<f4"), Field("label", "i1"))
#: record layout of .npy score files
SCORE_DTYPE = np.dtype([("score", "<f4"), ("label", "i1")])


def check_output_path(path: str | os.PathLike[str] | None, ids: Sequence[str] = (), inputs: Sequence[Any] = ()) -> None:
    """Raise :class:`InvalidInputError` unless ``path`` is None or has a supported suffix (before any work).

    An existing ``path`` is replaced atomically, unless it is one of ``inputs`` (the same
    file, a hard or a symbolic link: :func:`aeruntime.fs.outputs.check_output_file`).
    """
    if path is None:
        return
    suffix = Path(path).suffix.lower()
    if suffix in _TABLES and suffix != ".csv":
        require_pyarrow(f"--out {str(path)!r}: writing {suffix.lstrip('.').upper()}")
    if suffix not in OUTPUT_SUFFIXES:
        raise InvalidInputError(
            f"--out {str(path)!r}: unsupported output type {suffix!r}; expected one of {', '.join(OUTPUT_SUFFIXES)}."
        )
    if ids and suffix not in _TABLES:
        raise InvalidInputError(
            f"--out {str(path)!r}: id columns {list(ids)} can only be written to a table; use a .csv or "
            ".parquet output, or drop --id-column."
        )
    check_output_file(path, inputs=inputs)


class Sink:
    """Takes chunks: ``write(*arrays, ids=None)`` with one array (n, *field.shape) per field."""

    rows = 0
    where = "standard output"  # named in the messages of file-system errors (aeruntime.fs.faults)

    def __init__(self, fields: Sequence[Field]) -> None:
        self.fields = tuple(fields)

    def write(self, *arrays: np.ndarray, ids: dict[str, Any] | None = None) -> None:
        if len(arrays) != len(self.fields):
            raise TypeError(f"expected {len(self.fields)} arrays ({[f.name for f in self.fields]}), got {len(arrays)}")
        cast = [np.ascontiguousarray(a, dtype=f.dtype).reshape(len(a), *f.shape) for a, f in zip(arrays, self.fields)]
        with fault_of(self.where, "write"):
            self._write(cast, ids or {})
        self.rows += len(cast[0]) if cast else 0

    def _write(self, arrays: list[np.ndarray], ids: dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _FileSink(Sink):
    """Owns temporary files beside ``path``; all are removed on abort."""

    def __init__(self, path: Path, fields: Sequence[Field]) -> None:
        super().__init__(fields)
        self.path = path
        self.where = str(path)
        self._tmps: list[Path] = []
        self._handles: list[IO[bytes]] = []

    def _new_tmp(self) -> Path:
        tmp = temp_file_beside(self.path)
        self._tmps.append(tmp)
        return tmp

    def _open_tmp(self) -> tuple[Path, IO[bytes]]:
        tmp = self._new_tmp()
        with self._undo():
            fh = open(tmp, "wb")  # noqa: SIM115 - closed by _close_handles
        self._handles.append(fh)
        return tmp, fh

    @contextlib.contextmanager
    def _undo(self) -> Iterator[None]:
        """Remove our temporary files if the block fails (a constructor: no one else can)."""
        try:
            yield
        except BaseException:
            self.abort()
            raise

    def _cleanup(self) -> None:
        for tmp in self._tmps:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def abort(self) -> None:
        self._close_handles()
        self._cleanup()

    def _close_handles(self) -> None:
        for fh in self._handles:
            with contextlib.suppress(OSError):
                fh.close()


# ---------------------------------------------------------------------------- CSV (file or stdout)
def _csv_header(names: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(names)
    return buf.getvalue().encode()


def _arrow_table(fields: Sequence[Field], arrays: list[np.ndarray], ids: dict[str, Any]) -> Any:
    import pyarrow as pa

    cols: dict[str, Any] = dict(ids)
    for f, a in zip(fields, arrays):
        flat = a.reshape(len(a), -1)
        for j, name in enumerate(f.table_columns()):
            cols[name] = pa.array(flat[:, j])
    return pa.table(cols)


def _csv_bytes(fields: Sequence[Field], arrays: list[np.ndarray], ids: dict[str, Any]) -> bytes:
    try:
        import pyarrow.csv as pacsv
    except ImportError:  # the edge install: numbers only (id columns come from tables, which need pyarrow)
        return csv_lines([col for a in arrays for col in a.reshape(len(a), -1).T])

    buf = io.BytesIO()
    pacsv.write_csv(_arrow_table(fields, arrays, ids), buf, pacsv.WriteOptions(include_header=False))
    return buf.getvalue()


class _CsvSink(_FileSink):
    def __init__(self, path: Path, fields: Sequence[Field], ids: Sequence[str]) -> None:
        super().__init__(path, fields)
        self._tmp, self._fh = self._open_tmp()
        with self._undo():
            self._fh.write(_csv_header([*ids, *[c for f in self.fields for c in f.table_columns()]]))

    def _write(self, arrays: list[np.ndarray], ids: dict[str, Any]) -> None:
        if len(arrays[0]):
            self._fh.write(_csv_bytes(self.fields, arrays, ids))

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        publish_file(self._tmp, self.path)


class _StdoutSink(Sink):
    def __init__(self, stream: IO[str], fields: Sequence[Field], ids: Sequence[str]) -> None:
        super().__init__(fields)
        self._stream = stream
        self._header: str | None = _csv_header([*ids, *[c for f in self.fields for c in f.table_columns()]]).decode()

    def _start(self) -> None:  # the header waits for the first rows, so an early error prints nothing
        if self._header is not None:
            self._stream.write(self._header)
            self._header = None

    def _write(self, arrays: list[np.ndarray], ids: dict[str, Any]) -> None:
        self._start()
        if len(arrays[0]):
            self._stream.write(_csv_bytes(self.fields, arrays, ids).decode())

    def close(self) -> None:
        self._start()
        self._stream.flush()


# ---------------------------------------------------------------------------- .npy / .npz
def _record_dtype(fields: Sequence[Field]) -> tuple[np.dtype, tuple[int, ...]]:
    """dtype and per-row shape of the .npy array holding ``fields``."""
    if len(fields) == 1:
        return np.dtype(fields[0].dtype), fields[0].shape
    return np.dtype([(f.name, f.dtype, f.shape) if f.shape else (f.name, f.dtype) for f in fields]), ()


def _write_npy(out: IO[bytes], body: Path, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_2_0(out, header) if len(
        repr(header)
    ) > 60000 else np.lib.format.write_array_header_1_0(out, header)
    with open(body, "rb") as fh:
        shutil.copyfileobj(fh, out, 1 << 20)


class _NpySink(_FileSink):
    """Records go to a body file; the .npy header is prefixed at the end."""

    def __init__(self, path: Path, fields: Sequence[Field]) -> None:
        super().__init__(path, fields)
        self._dtype, self._row_shape = _record_dtype(self.fields)
        self._body, self._fh = self._open_tmp()

    def _write(self, arrays: list[np.ndarray], ids: dict[str, Any]) -> None:
        if len(arrays) == 1:
            self._fh.write(arrays[0].tobytes())
            return
        rec = np.empty(len(arrays[0]), dtype=self._dtype)
        for f, a in zip(self.fields, arrays):
            rec[f.name] = a
        self._fh.write(rec.tobytes())

    def close(self) -> None:
        self._fh.close()
        final = self._new_tmp()
        try:
            with open(final, "wb") as out:
                _write_npy(out, self._body, self._dtype, (self.rows, *self._row_shape))
                out.flush()
                os.fsync(out.fileno())
            publish_file(final, self.path)
        finally:
            self._cleanup()


class _NpzSink(_FileSink):
    """One body file per field; zipped at the end (entries ``<name>.npy``, like ``np.savez``)."""

    def __init__(self, path: Path, fields: Sequence[Field]) -> None:
        super().__init__(path, fields)
        with self._undo():
            self._bodies, self._fhs = zip(*[self._open_tmp() for _ in self.fields])

    def _write(self, arrays: list[np.ndarray], ids: dict[str, Any]) -> None:
        for fh, a in zip(self._fhs, arrays):
            fh.write(a.tobytes())

    def close(self) -> None:
        self._close_handles()
        final = self._new_tmp()
        try:
            with zipfile.ZipFile(final, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                for f, body in zip(self.fields, self._bodies):
                    with zf.open(f"{f.name}.npy", "w", force_zip64=True) as out:
                        _write_npy(out, body, np.dtype(f.dtype), (self.rows, *f.shape))
            with open(final, "rb+") as fh:
                os.fsync(fh.fileno())
            publish_file(final, self.path)
        finally:
            self._cleanup()


# ---------------------------------------------------------------------------- .parquet
class _ParquetSink(_FileSink):
    def __init__(self, path: Path, fields: Sequence[Field], ids: dict[str, Any]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(path, fields)
        cols = [pa.field(n, t) for n, t in ids.items()]
        for f in self.fields:
            t = pa.from_numpy_dtype(np.dtype(f.dtype))
            cols += [pa.field(c, t) for c in f.table_columns()]
        self._schema = pa.schema(cols)
        self._tmp = self._new_tmp()
        with self._undo():
            self._writer = pq.ParquetWriter(str(self._tmp), self._schema)

    def _write(self, arrays: list[np.ndarray], ids: dict[str, Any]) -> None:
        if len(arrays[0]):
            self._writer.write_table(_arrow_table(self.fields, arrays, ids).cast(self._schema))

    def _close_handles(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()

    def close(self) -> None:
        self._writer.close()
        with open(self._tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        publish_file(self._tmp, self.path)


@contextlib.contextmanager
def open_sink(
    path: str | os.PathLike[str] | None,
    fields: Sequence[Field] = SCORE_FIELDS,
    *,
    ids: dict[str, Any] | None = None,
    stdout: IO[str] | None = None,
) -> Iterator[Sink]:
    """Context manager yielding a :class:`Sink` (``write(*arrays, ids=...)``, one array per field).

    Parameters
    ----------
    path : path-like or None
        ``.npy``, ``.npz``, ``.csv``, ``.parquet``; None writes CSV to ``stdout``.
    fields : sequence of Field
        What each row holds (default: ``score`` and ``label``).
    ids : dict, optional
        Pass-through column name -> pyarrow type, written first (tables only).

    On normal exit the output is published (renamed into place); on an exception
    the temporary files are removed and ``path`` is left untouched.
    """
    ids = dict(ids or {})
    check_output_path(path, list(ids))
    with fault_of(path if path is not None else Sink.where, "write"):  # OSError -> FileSystemError naming path
        sink = _new_sink(path, fields, ids, stdout)
    try:
        yield sink
    except BaseException:
        sink.abort()
        raise
    try:
        with fault_of(sink.where, "write"):
            sink.close()
    except BaseException:
        sink.abort()
        raise


def _new_sink(
    path: str | os.PathLike[str] | None, fields: Sequence[Field], ids: dict[str, Any], stdout: IO[str] | None
) -> Sink:
    if path is None:
        return _StdoutSink(stdout or sys.stdout, fields, list(ids))
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return _CsvSink(p, fields, list(ids))
    if suffix == ".npy":
        return _NpySink(p, fields)
    if suffix == ".npz":
        return _NpzSink(p, fields)
    return _ParquetSink(p, fields, ids)
