"""Streaming: score inputs larger than memory in chunks, writing output as it goes.

Readers yield ``(rows, progress)`` chunks of at most ``batch_size`` rows:

- ``.npy``: memory-mapped; after each chunk the pages just read are released
  (``madvise(MADV_DONTNEED)``), because file-backed pages a process has touched
  count in its resident set: without that, peak RSS would grow with the file;
- ``.csv``: read line by line (never the whole file), parsed per chunk;
- ``.parquet``: ``pyarrow.parquet.ParquetFile.iter_batches`` (extra ``aeruntime[parquet]``);
- ``.npz``: compressed archives cannot be streamed; read whole, then chunked.

Writers take ``(scores, labels)`` per chunk and publish atomically at the end:
``.csv`` appends to a temporary file beside the target, ``.npy`` appends the
records to a temporary file and prefixes the header once the row count is
known, then renames; ``.npz`` collects (5 bytes per row) and writes at the end;
no path means CSV on stdout, written per chunk.
"""

from __future__ import annotations

import contextlib
import csv
import mmap
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._atomic import TMP_PREFIX
from .errors import BundleNotFoundError, InvalidInputError
from .io import _is_number, label_index, read_table, write_scores

__all__ = ["Source", "open_source", "open_sink", "progress", "STREAM_SUFFIXES", "SCORE_DTYPE"]

STREAM_SUFFIXES = (".npy", ".npz", ".csv", ".parquet", ".pq")
#: record layout of .npy score files (same as aeruntime.io.write_scores)
SCORE_DTYPE = np.dtype([("score", "<f4"), ("label", "i1")])


class Source:
    """Chunks of rows from a file.

    Attributes
    ----------
    n_rows : int or None
        Rows in the file when known without reading it (``.npy``, ``.parquet``).
    total : int
        Progress total, in ``unit`` (rows, or bytes for CSV).
    """

    def __init__(self, chunks: Iterator[tuple[np.ndarray, int]], n_rows: int | None, total: int, unit: str) -> None:
        self._chunks = chunks
        self.n_rows, self.total, self.unit = n_rows, total, unit

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        return self._chunks


def _shape_rows(x: np.ndarray, row_shape: tuple[int, ...] | None) -> np.ndarray:
    """Flat table rows (n, d) -> (n, *row_shape) when d matches (e.g. images stored flat)."""
    if row_shape and x.ndim == 2 and x.shape[1:] != row_shape and x.shape[1] == int(np.prod(row_shape)):
        return x.reshape(len(x), *row_shape)
    return x


def _npy_chunks(path: Path, batch: int, row_shape: tuple[int, ...] | None) -> Source:
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in reader:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = reader[version](fh)
            offset = fh.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{path}: cannot read it as .npy ({exc}); save plain numeric arrays with np.save.") from None
    if dtype.hasobject:
        raise InvalidInputError(f"{path}: the .npy file holds Python objects, which are never unpickled; "
                                "save a numeric array with np.save.")
    n = shape[0] if shape else 0
    count = int(np.prod(shape))
    if fortran or count == 0:
        arr = np.load(path, allow_pickle=False, mmap_mode="r" if count else None)
        return Source(((_shape_rows(arr[i : i + batch], row_shape), len(arr[i : i + batch]))
                       for i in range(0, max(n, 1), batch)), n, n, "rows")
    if os.path.getsize(path) < offset + count * dtype.itemsize:
        raise InvalidInputError(f"{path}: the file is truncated (header says shape {shape}); re-create it.")

    def gen() -> Iterator[tuple[np.ndarray, int]]:
        with open(path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if True:  # the map stays valid after the file is closed
            arr = np.frombuffer(mm, dtype=dtype, count=count, offset=offset).reshape(shape)
            row_bytes = dtype.itemsize * int(np.prod(shape[1:]))
            page = mmap.PAGESIZE
            released = 0
            try:
                for i in range(0, n, batch):
                    chunk = arr[i : i + batch]
                    yield _shape_rows(chunk, row_shape), len(chunk)
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

    return Source(gen(), n, n, "rows")


def _csv_chunks(path: Path, batch: int, label_column: str | None, row_shape: tuple[int, ...] | None) -> Source:
    size = os.path.getsize(path)

    def parse(lines: list[str], first_line: int, width: int, drop: int | None) -> np.ndarray:
        rows = [r for r in csv.reader(lines) if r and any(c.strip() for c in r)]
        for k, r in enumerate(rows):
            if len(r) != width:
                raise InvalidInputError(
                    f"{path}: a line near line {first_line + k} has {len(r)} fields, but the header "
                    f"or first line has {width}. Fix the malformed line."
                )
        if drop is not None:
            rows = [r[:drop] + r[drop + 1 :] for r in rows]
        try:
            return np.asarray(rows, dtype=np.float64).reshape(len(rows), width - (drop is not None))
        except ValueError as exc:
            raise InvalidInputError(
                f"{path}: expected numeric values in every column near line {first_line}, got {exc}. "
                "Drop or encode non-numeric columns first."
            ) from None

    def gen() -> Iterator[tuple[np.ndarray, int]]:
        with open(path, "rb") as fh:
            lineno, first = 0, None
            for raw in fh:
                lineno += 1
                text = raw.decode("utf-8", errors="strict")
                row = next(csv.reader([text]), [])
                if row and any(c.strip() for c in row):
                    first = (raw, text, row)
                    break
            if first is None:
                raise InvalidInputError(f"{path}: the CSV file is empty; expected a header and numeric rows.")
            raw, text, row = first
            done = len(raw)
            header = None if all(_is_number(c) for c in row) else [c.strip() for c in row]
            width = len(row)
            drop = None
            if label_column is not None:
                drop = label_index(path, header, label_column)
            lines: list[str] = [] if header else [text]
            start = lineno + (header is not None)
            for raw in fh:
                lineno += 1
                lines.append(raw.decode("utf-8"))
                done += len(raw)
                if len(lines) >= batch:
                    yield _shape_rows(parse(lines, start, width, drop), row_shape), done
                    lines, done, start = [], 0, lineno + 1
            if lines or done:
                yield _shape_rows(parse(lines, start, width, drop), row_shape), done

    def checked() -> Iterator[tuple[np.ndarray, int]]:
        try:
            yield from gen()
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{path}: not a readable UTF-8 CSV file ({exc}).") from None

    return Source(checked(), None, size, "bytes")


def _parquet_chunks(path: Path, batch: int, label_column: str | None, row_shape: tuple[int, ...] | None) -> Source:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidInputError(
            f"{path}: reading Parquet needs pyarrow, which is not installed; pip install 'aeruntime[parquet]'."
        ) from None
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError
        raise InvalidInputError(f"{path}: not a readable Parquet file ({exc}).") from None
    names = pf.schema_arrow.names
    if label_column is not None and label_column not in names:
        raise InvalidInputError(f"{path}: label column {label_column!r} not found; the columns are {names}.")
    columns = [c for c in names if c != label_column]
    n = pf.metadata.num_rows

    def gen() -> Iterator[tuple[np.ndarray, int]]:
        for rb in pf.iter_batches(batch_size=batch, columns=columns):
            try:
                x = np.column_stack([np.asarray(c.to_numpy(zero_copy_only=False), dtype=np.float64)
                                     for c in rb.columns]) if rb.num_columns else np.empty((rb.num_rows, 0))
            except (ValueError, TypeError) as exc:
                raise InvalidInputError(f"{path}: every column must be numeric ({exc}); drop or encode the "
                                        "others, or name the label column with --label-column.") from None
            yield _shape_rows(x, row_shape), rb.num_rows

    return Source(gen(), n, n, "rows")


def open_source(path: str | os.PathLike[str], batch_size: int, *, label_column: str | None = None,
                row_shape: tuple[int, ...] | None = None) -> Source:
    """Open ``path`` for chunked reading; chunks are arrays of shape (<= batch_size, *row_shape).

    Parameters
    ----------
    path : path-like
        ``.npy``, ``.npz``, ``.csv``, ``.parquet`` / ``.pq``.
    batch_size : int
        Rows per chunk.
    label_column : str, optional
        CSV / Parquet: a column to drop before scoring.
    row_shape : tuple of int, optional
        The model's row shape; flat table rows of matching size are reshaped to it.
    """
    path = Path(path)
    if not path.is_file():
        raise BundleNotFoundError(f"input file {str(path)!r} does not exist.")
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _npy_chunks(path, batch_size, row_shape)
    if suffix == ".csv":
        return _csv_chunks(path, batch_size, label_column, row_shape)
    if suffix in (".parquet", ".pq"):
        return _parquet_chunks(path, batch_size, label_column, row_shape)
    if suffix == ".npz":
        X, _ = read_table(path)
        n = len(X)
        return Source(((_shape_rows(X[i : i + batch_size], row_shape), len(X[i : i + batch_size]))
                       for i in range(0, max(n, 1), batch_size)), n, n, "rows")
    raise InvalidInputError(
        f"{path}: unsupported input type {suffix!r}; expected one of {', '.join(STREAM_SUFFIXES)}."
    )


def _lines(scores: np.ndarray, labels: np.ndarray) -> str:
    return "".join(f"{s:.9g},{int(lab)}\n" for s, lab in zip(scores.tolist(), labels.tolist()))


class _Sink:
    """Collects (scores, labels) chunks; ``close`` publishes, ``abort`` discards."""

    rows = 0
    anomalies = 0

    def write(self, scores: np.ndarray, labels: np.ndarray) -> None:
        self.rows += len(scores)
        self.anomalies += int(labels.sum())
        self._write(scores, labels)

    def _write(self, scores: np.ndarray, labels: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _StdoutSink(_Sink):
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._started = False

    def _write(self, scores: np.ndarray, labels: np.ndarray) -> None:
        if not self._started:
            self._stream.write("score,label\n")
            self._started = True
        self._stream.write(_lines(scores, labels))

    def close(self) -> None:
        if not self._started:
            self._stream.write("score,label\n")
        self._stream.flush()


class _FileSink(_Sink):
    """Appends to a temporary file beside ``path``; renamed over it on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")

    def _publish(self, src: Path) -> None:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(src, 0o666 & ~mask)
        os.replace(src, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()


class _CsvSink(_FileSink):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._fh.write(b"score,label\n")

    def _write(self, scores: np.ndarray, labels: np.ndarray) -> None:
        self._fh.write(_lines(scores, labels).encode())

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._publish(self._tmp)


class _NpySink(_FileSink):
    """Records go to a body file; the .npy header (which needs the row count) is prefixed at the end."""

    def _write(self, scores: np.ndarray, labels: np.ndarray) -> None:
        rec = np.empty(len(scores), dtype=SCORE_DTYPE)
        rec["score"], rec["label"] = scores, labels
        self._fh.write(rec.tobytes())

    def close(self) -> None:
        self._fh.close()
        fd, final = tempfile.mkstemp(prefix=TMP_PREFIX, dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(self._tmp, "rb") as body:
                header = {"descr": np.lib.format.dtype_to_descr(SCORE_DTYPE), "fortran_order": False,
                          "shape": (self.rows,)}
                np.lib.format.write_array_header_1_0(out, header)
                shutil.copyfileobj(body, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            self._publish(Path(final))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(final)
            raise
        finally:
            with contextlib.suppress(OSError):
                self._tmp.unlink()


class _NpzSink(_Sink):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []

    def _write(self, scores: np.ndarray, labels: np.ndarray) -> None:
        self._parts.append((scores.copy(), labels.copy()))

    def close(self) -> None:
        s = np.concatenate([p[0] for p in self._parts]) if self._parts else np.empty(0, np.float32)
        lab = np.concatenate([p[1] for p in self._parts]) if self._parts else np.empty(0, np.int8)
        write_scores(self.path, s, lab)


@contextlib.contextmanager
def open_sink(path: str | os.PathLike[str] | None, stdout: IO[str] | None = None) -> Iterator[_Sink]:
    """Context manager yielding a sink with ``write(scores (n,), labels (n,))``.

    On normal exit the output is published (renamed into place); on an
    exception the temporary file is removed and ``path`` is left untouched.
    """
    if path is None:
        sink: _Sink = _StdoutSink(stdout or sys.stdout)
    else:
        p = Path(path)
        suffix = p.suffix.lower()
        makers = {".csv": _CsvSink, ".npy": _NpySink, ".npz": _NpzSink}
        if suffix not in makers:
            raise InvalidInputError(f"--out {str(p)!r}: unsupported output type {suffix!r}; "
                                    f"expected one of {', '.join(makers)}.")
        sink = makers[suffix](p)
    try:
        yield sink
    except BaseException:
        sink.abort()
        raise
    sink.close()


@contextlib.contextmanager
def progress(total: int, unit: str, label: str = "scoring") -> Iterator[Any]:
    """A click progress bar on stderr when it is a terminal; a no-op object otherwise."""
    if not sys.stderr.isatty():
        class _Null:
            def update(self, n: int) -> None:
                pass

        yield _Null()
        return
    import click

    with click.progressbar(length=max(total, 1), label=f"{label} ({unit})", file=sys.stderr,
                           show_pos=unit == "rows") as bar:
        yield bar
