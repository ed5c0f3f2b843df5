"""Reading input tables in chunks: ``.npy``, ``.npz``, ``.csv``, ``.parquet``.

The one reader of the runtime: ``aeruntime score/encode/decode/reconstruct`` stream
through it, and :func:`aeruntime.io.read_table` (aeexport's data loading) reads a
whole file by joining its chunks. Writers live in :mod:`aeruntime.sinks`.

:func:`open_source` returns a :class:`Source` that yields :class:`Chunk` objects of
at most ``batch_size`` rows:

- ``.npy``: memory-mapped; after each chunk the pages just read are released
  (``madvise(MADV_DONTNEED)``), because file-backed pages a process has touched
  count in its resident set: without that, peak RSS would grow with the file;
- ``.csv``: the file is cut into pieces of a few MiB at line ends, each parsed by
  ``pyarrow.csv.read_csv`` in a thread pool (one thread per core, results in file
  order, a bounded number in flight); a header row is detected (first row not all
  numbers); errors are re-located by a line-by-line scan, so messages name the
  line and column;
- ``.parquet`` / ``.pq``: ``ParquetFile.iter_batches`` with buffered reads
  (``pre_buffer=False``, a small ``buffer_size``): memory follows the batch, not
  the row-group size;
- ``.npz``: compressed archives cannot be streamed; read whole, then chunked.

Tables (CSV with a header, Parquet) are matched **by name** when ``feature_names``
is given (the bundle's training columns): extra columns are ignored and listed in
:attr:`Source.ignored`, missing ones raise :class:`InvalidInputError`. Without
names they are read positionally. Arrays are always positional. Nothing here
unpickles: ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import contextlib
import csv
import math
import mmap
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .arrow import require_pyarrow
from .errors import BundleNotFoundError, InvalidInputError
from .rows import FINITE_FIX, check_finite, first_non_finite, shape_rows

__all__ = [
    "INPUT_SUFFIXES",
    "TABLE_SUFFIXES",
    "Chunk",
    "Source",
    "check_table_options",
    "existing_file",
    "label_index",
    "open_source",
    "read_npz",
]

#: suffixes of the tables (named columns)
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
#: every input type :func:`open_source` reads
INPUT_SUFFIXES = (".npy", ".npz", *TABLE_SUFFIXES)
#: CSV bytes parsed per task (one thread each; measured: 4-8 MiB pieces parse fastest)
_PIECE = 4 << 20
#: Parquet read buffer: pages are read through it instead of whole column chunks
_PARQUET_BUFFER = 1 << 16


@dataclass
class Chunk:
    """Consecutive rows of an input file."""

    x: np.ndarray  # (n, *row_shape) feature rows
    start: int  # index of the first row in the file (0-based, data rows only)
    progress: int  # progress units (rows or bytes) this chunk advanced
    y: np.ndarray | None = None  # (n,) float64 values of the label column, if one was named
    ids: dict[str, Any] = field(default_factory=dict)  # pass-through column name -> pyarrow Array (n,)

    def __len__(self) -> int:
        return len(self.x)


class Source:
    """Chunks of rows from a file (iterate to get :class:`Chunk` objects).

    Attributes
    ----------
    path : Path
    n_rows : int or None
        Rows in the file when known without reading it (``.npy``, ``.npz``, ``.parquet``).
    total, unit : int, str
        Progress total in ``unit`` ("rows", or "bytes" for CSV).
    columns : list of str or None
        Feature columns read, in the order they are fed to the model (None for arrays
        and header-less CSV).
    by_name : bool
        True if the columns were selected by the bundle's feature names.
    ignored : list of str
        Table columns not read (neither a feature, the label nor an id column).
    id_types : dict
        Pass-through column name -> pyarrow type.
    dtype : numpy dtype
        dtype of the feature chunks.
    """

    def __init__(
        self,
        path: Path,
        chunks: Iterator[Chunk],
        *,
        n_rows: int | None,
        total: int,
        unit: str,
        dtype: np.dtype,
        columns: list[str] | None = None,
        by_name: bool = False,
        ignored: Sequence[str] = (),
        id_types: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self._chunks = chunks
        self.n_rows, self.total, self.unit, self.dtype = n_rows, total, unit, np.dtype(dtype)
        self.columns, self.by_name, self.ignored = columns, by_name, list(ignored)
        self.id_types = dict(id_types or {})

    def __iter__(self) -> Iterator[Chunk]:
        return self._chunks


# ---------------------------------------------------------------------------- shared helpers
def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def label_index(path: Path, header: list[str] | None, label_column: str) -> int:
    """Column index of ``label_column`` in a header, or a typed error listing the columns."""
    if header is None or label_column not in header:
        raise InvalidInputError(
            f"{path}: label column {label_column!r} not found; the columns are "
            f"{header if header else '(no header row)'}. Pass one of those names."
        )
    return header.index(label_column)


def _row_major(rb: Any, names: Sequence[str], dtype: np.dtype) -> np.ndarray:
    """Columns ``names`` of a pyarrow RecordBatch (no nulls) -> C-ordered rows (n, len(names)).

    Stacking the columns contiguously and copying the transpose is about 4x faster
    than writing each column into a strided slot of the row-major array.
    """
    if not names:
        return np.empty((rb.num_rows, 0), dtype=dtype)
    cols = np.stack([rb.column(n).to_numpy(zero_copy_only=False) for n in names])  # (k, n)
    return np.ascontiguousarray(cols.T, dtype=dtype)


def _rebatch(
    blocks: Iterator[tuple[np.ndarray, np.ndarray | None, dict[str, Any], int]], batch: int
) -> Iterator[Chunk]:
    """Re-cut (x, y, ids, progress) blocks of any size into chunks of exactly ``batch`` rows (last: fewer)."""
    import pyarrow as pa

    pend: list[tuple[np.ndarray, np.ndarray | None, dict[str, Any]]] = []
    have = progress = start = 0

    def cut(n: int) -> Chunk:
        nonlocal pend, have, progress, start
        xs, ys, idss, taken = [], [], [], 0
        while taken < n:
            x, y, ids = pend[0]
            k = min(n - taken, len(x))
            xs.append(x[:k])
            ys.append(None if y is None else y[:k])
            idss.append({name: a.slice(0, k) for name, a in ids.items()})
            if k == len(x):
                pend.pop(0)
            else:
                pend[0] = (x[k:], None if y is None else y[k:], {name: a.slice(k) for name, a in ids.items()})
            taken += k
        xcat = xs[0] if len(xs) == 1 else np.concatenate(xs)
        ycat = None if ys[0] is None else (ys[0] if len(ys) == 1 else np.concatenate(ys))
        idcat = {
            name: (idss[0][name] if len(idss) == 1 else pa.concat_arrays([d[name] for d in idss])) for name in idss[0]
        }
        chunk = Chunk(xcat, start, progress, ycat, idcat)
        start += n
        have -= n
        progress = 0
        return chunk

    empty = np.empty((0, 0))
    for x, y, ids, step in blocks:
        progress += step
        empty = x[:0]
        if len(x):
            pend.append((x, y, ids))
            have += len(x)
        while have >= batch:
            yield cut(batch)
    if have:
        yield cut(have)
    elif progress or start == 0:
        yield Chunk(empty, start, progress)


# ---------------------------------------------------------------------------- column selection
@dataclass
class _Selection:
    features: list[str]  # columns fed to the model, in order
    label: str | None  # label column
    ids: list[str]  # pass-through columns
    ignored: list[str]  # the rest
    by_name: bool  # features picked by the bundle's names


def _select(
    path: Path,
    names: list[str] | None,
    *,
    feature_names: Sequence[str] | None,
    label_column: str | None,
    id_columns: Sequence[str],
    read_labels: bool = True,
) -> _Selection:
    """Which table columns are features, label, ids, or ignored; typed errors for missing ones.

    With ``read_labels=False`` the label column is only left out of the features (never parsed).
    """
    label = label_column if read_labels else None
    if names is None:  # header-less CSV: positional
        if label_column is not None:
            label_index(path, None, label_column)
        if id_columns:
            raise InvalidInputError(
                f"{path}: --id-column {id_columns[0]!r} needs a header row naming the "
                "columns, but the first line is all numbers. Add a header line."
            )
        return _Selection([], None, [], [], False)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InvalidInputError(f"{path}: the columns {dup} appear more than once; give every column its own name.")
    if label_column is not None:
        label_index(path, names, label_column)
    for name in id_columns:
        if name not in names:
            raise InvalidInputError(
                f"{path}: id column {name!r} not found; the columns are {names}. "
                "Pass one of those names to --id-column."
            )
    reserved = {label_column, *id_columns}
    if feature_names:
        clash = [n for n in feature_names if n in reserved]
        if clash:
            raise InvalidInputError(
                f"{path}: {clash} are features of the model, so they cannot also be the "
                "label or an id column; pass another --label-column / --id-column."
            )
        missing = [n for n in feature_names if n not in names]
        if missing:
            raise InvalidInputError(
                f"{path}: missing {len(missing)} of the {len(feature_names)} feature columns the model was "
                f"trained on: {missing[:20]}{' ...' if len(missing) > 20 else ''}; the file has {names[:20]}"
                f"{' ...' if len(names) > 20 else ''}. Columns are matched by name: rename or add them."
            )
        features = list(feature_names)
        chosen = set(features) | reserved
        return _Selection(features, label, list(id_columns), [n for n in names if n not in chosen], True)
    features = [n for n in names if n not in reserved]
    return _Selection(features, label, list(id_columns), [], False)


def _table_source(
    path: Path,
    chunks: Iterator[Chunk],
    sel: _Selection,
    progress: tuple[int | None, int, str],
    dtype: np.dtype,
    columns: list[str] | None,
    id_types: dict[str, Any],
) -> Source:
    """A :class:`Source` over a table's selected columns; ``progress`` = (n_rows, total, unit)."""
    n_rows, total, unit = progress
    return Source(
        path,
        chunks,
        n_rows=n_rows,
        total=total,
        unit=unit,
        dtype=dtype,
        columns=columns,
        by_name=sel.by_name,
        ignored=sel.ignored,
        id_types=id_types,
    )


def check_table_options(
    path: str | os.PathLike[str], label_column: str | None = None, id_columns: Sequence[str] = ()
) -> None:
    """Refuse ``--label-column``/``--id-column`` for inputs without named columns (.npy, .npz)."""
    if Path(path).suffix.lower() not in TABLE_SUFFIXES:
        _no_arrays_options(Path(path), label_column, id_columns)


def _no_arrays_options(path: Path, label_column: str | None, id_columns: Sequence[str]) -> None:
    if label_column is not None:
        raise InvalidInputError(
            f"{path}: --label-column {label_column!r} applies to CSV and Parquet tables only; an .npy file "
            "holds no labels and an .npz file keeps them in an array 'y' (np.savez(path, X=X, y=y)). "
            "Drop --label-column."
        )
    if id_columns:
        raise InvalidInputError(
            f"{path}: --id-column applies to CSV and Parquet tables only (an array has no named columns); "
            "drop it, or convert the input to a table."
        )


# ---------------------------------------------------------------------------- .npy / .npz
def _npy_source(path: Path, batch: int, row_shape: tuple[int, ...] | None, finite: bool) -> Source:
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in reader:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = reader[version](fh)
            offset = fh.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(
            f"{path}: cannot read it as .npy ({exc}); the file may be truncated, or hold "
            "pickled objects, which are never loaded. Save plain numeric arrays with "
            "np.save."
        ) from None
    if dtype.hasobject:
        raise InvalidInputError(
            f"{path}: the .npy file holds Python objects (pickled objects, which are never "
            "loaded); save a numeric array with np.save."
        )
    n = shape[0] if shape else 0
    count = math.prod(shape)
    if fortran or count == 0:
        arr = np.load(path, allow_pickle=False, mmap_mode="r" if count else None)
        return _array_source(path, arr, batch, row_shape, finite)
    if os.path.getsize(path) < offset + count * dtype.itemsize:
        raise InvalidInputError(f"{path}: the file is truncated (header says shape {shape}); re-create it.")

    def gen() -> Iterator[Chunk]:
        with open(path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        # the map stays valid after the file is closed
        arr = np.frombuffer(mm, dtype=dtype, count=count, offset=offset).reshape(shape)
        row_bytes = dtype.itemsize * math.prod(shape[1:])
        page = mmap.PAGESIZE
        released = 0
        try:
            for i in range(0, n, batch):
                chunk = arr[i : i + batch]
                if finite:
                    _check_array_chunk(path, chunk, i)
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

    return Source(path, gen(), n_rows=n, total=n, unit="rows", dtype=dtype)


def _check_array_chunk(path: Path, x: np.ndarray, start: int) -> None:
    check_finite(x, str(path), start=start)


def _array_source(path: Path, arr: np.ndarray, batch: int, row_shape: tuple[int, ...] | None, finite: bool) -> Source:
    n = len(arr) if arr.ndim else 0

    def gen() -> Iterator[Chunk]:
        for i in range(0, max(n, 1), batch):
            chunk = arr[i : i + batch]
            if finite:
                _check_array_chunk(path, chunk, i)
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
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(
            f"{path}: cannot read it as .npz ({exc}); the file may be truncated, or hold pickled objects, "
            "which are never loaded. Save plain numeric arrays with np.savez."
        ) from None


# ---------------------------------------------------------------------------- .csv
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class _CsvLayout:
    names: list[str] | None  # header names (stripped), None without a header
    width: int  # fields per row
    skip_lines: int  # lines before the first data row (blank lines and the header)
    first_line_bytes: int  # length of the first data line (block-size estimate)


def _csv_layout(path: Path) -> _CsvLayout:
    """Read the first non-empty line(s): header or not, width, and a delimiter hint for one-column files."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            skipped = 0
            row: list[str] = []
            for row in reader:
                if row:
                    break
                skipped = reader.line_num
            else:
                row = []
            first_end = reader.line_num
            nxt = next((r for r in reader if r), None)
            second_len = len(",".join(nxt)) + 1 if nxt else 64
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not a readable CSV file: it is not UTF-8 text ({exc}).") from None
    except csv.Error as exc:
        raise InvalidInputError(f"{path}: not a readable CSV file ({exc}).") from None
    if not row or not any(c.strip() for c in row):
        raise InvalidInputError(f"{path}: the CSV file is empty; expected a header and numeric rows.")
    if len(row) == 1:
        for ch, name in _DELIMITERS.items():
            if ch in row[0]:
                raise InvalidInputError(
                    f"{path}: the first line {row[0][:80]!r} is one column holding {name} characters "
                    f"({ch!r}): the file looks {name}-separated, but aeruntime reads comma-separated CSV. "
                    f"Convert it, e.g. with pandas: pd.read_csv(path, sep={ch!r}).to_csv(new_path, index=False)."
                )
    header = None if all(_is_number(c) for c in row) else [c.strip() for c in row]
    skip = first_end if header is not None else skipped
    return _CsvLayout(header, len(row), skip, second_len)


def _locate_csv_problem(
    path: Path, layout: _CsvLayout, sel: _Selection, *, row: int | None = None, column: int | None = None
) -> InvalidInputError | None:
    """Scan the file line by line (error path only) and describe the first bad line.

    With ``row`` (a data-row index) and ``column`` (an index into the features) it names
    that cell's line instead: used for NaN/Inf values, which parse fine.
    """
    names = layout.names
    width = layout.width
    if names is None:
        feat_idx = list(range(width))
        feat_names = [f"{j + 1}" for j in range(width)]
    else:
        feat_idx = [names.index(f) for f in sel.features]
        feat_names = sel.features
    lab_idx = names.index(sel.label) if (names is not None and sel.label is not None) else None
    what = "header" if names is not None else "first line"
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            for _ in range(layout.skip_lines):
                next(reader, None)
            i = -1
            for r in reader:
                if not r:
                    continue
                i += 1
                line = reader.line_num
                if row is not None:
                    if i == row:
                        col = feat_names[column] if column is not None else "?"
                        label = f"column {col!r}" if names is not None else f"column {col}"
                        return InvalidInputError(
                            f"{path}: line {line} (row {row}), {label} holds {r[feat_idx[column or 0]].strip()!r}, "
                            f"a NaN or infinite value; {FINITE_FIX}"
                        )
                    continue
                if len(r) != width:
                    return InvalidInputError(
                        f"{path}: line {line} has {len(r)} fields, but the {what} has {width}. Fix the malformed line."
                    )
                for j, name in zip(feat_idx, feat_names):
                    cell = r[j].strip()
                    label = f"column {name!r}" if names is not None else f"column {name}"
                    if cell == "":
                        return InvalidInputError(
                            f"{path}: missing value in {label}, line {line}; every feature needs a number. "
                            "Impute or drop that row first."
                        )
                    if not _is_number(cell):
                        return InvalidInputError(
                            f"{path}: expected numeric values in every column, but {label} on line {line} holds "
                            f"{cell[:40]!r}. Drop or encode non-numeric columns first"
                            + (", or name the label column with --label-column." if names is not None else ".")
                        )
                if lab_idx is not None and not _is_number(r[lab_idx].strip()):
                    return InvalidInputError(
                        f"{path}: label column {sel.label!r} holds non-numeric values "
                        f"({r[lab_idx].strip()[:40]!r} on line {line}); labels must be numbers."
                    )
    except UnicodeDecodeError as exc:
        return InvalidInputError(f"{path}: not a readable CSV file: it is not UTF-8 text ({exc}).")
    except csv.Error as exc:
        return InvalidInputError(f"{path}: not a readable CSV file ({exc}).")
    return None


def _csv_workers() -> int:
    """Parser threads: one per usable core (at most 8: more only adds memory in flight)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def _csv_pieces(path: Path, size: int, skip_lines: int) -> Iterator[tuple[bytes, int]]:
    """The file's bytes in pieces of about ``size`` bytes, each cut after a line end.

    Yields (piece, lines to skip at its start): the first piece carries the header and
    leading blank lines, so it is read on until it holds all of them. A cut after
    ``\r`` of a ``\r\n`` leaves an empty line at the next piece's start, which the
    parser skips. Values holding line breaks inside quotes are not supported (the
    same rule as pyarrow's own block parser, ``newlines_in_values=False``).
    """
    with open(path, "rb") as fh:
        tail = b""
        skip = skip_lines
        while True:
            buf = fh.read(size)
            if not buf:
                if tail.strip():
                    yield tail, skip
                return
            buf = tail + buf
            if skip and buf.count(b"\n") + buf.count(b"\r") <= skip:
                tail = buf  # header not complete yet
                continue
            cut = max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
            if cut == 0:  # one line longer than ``size``: read on
                tail = buf
                continue
            tail = buf[cut:]
            yield buf[:cut], skip
            skip = 0


def _csv_source(
    path: Path, batch: int, sel_args: dict[str, Any], row_shape: tuple[int, ...] | None, dtype: np.dtype, finite: bool
) -> Source:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    layout = _csv_layout(path)
    sel = _select(path, layout.names, **sel_args)
    names = layout.names or [f"c{j}" for j in range(layout.width)]
    features = sel.features if layout.names is not None else names
    arrow_type = pa.from_numpy_dtype(dtype)
    types = {f: arrow_type for f in features}
    if sel.label is not None:
        types[sel.label] = pa.float64()
    types.update({n: pa.string() for n in sel.ids})
    conv_opts = pacsv.ConvertOptions(
        column_types=types,
        include_columns=[*features, *([sel.label] if sel.label else []), *sel.ids],
        null_values=[""],
        strings_can_be_null=False,
        quoted_strings_can_be_null=True,
    )
    size = path.stat().st_size
    piece_bytes = max(_PIECE, 16 * layout.first_line_bytes)
    workers = _csv_workers()

    def fail(exc: Exception | None = None, **where: Any) -> InvalidInputError:
        err = _locate_csv_problem(path, layout, sel, **where)
        if err is not None:
            return err
        return InvalidInputError(
            f"{path}: not a readable CSV file ({exc}); expected numeric columns with one header line."
        )

    def parse(piece: bytes, skip: int) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any], int]:
        """One piece -> (x, y, ids, bytes): runs in a worker thread (pyarrow releases the GIL)."""
        read_opts = pacsv.ReadOptions(column_names=names, skip_rows=skip, use_threads=False, block_size=len(piece) + 1)
        try:
            t = pacsv.read_csv(pa.py_buffer(piece), read_options=read_opts, convert_options=conv_opts)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            if "Empty CSV file" in str(exc):
                return np.empty((0, len(features)), dtype), None, {}, len(piece)
            raise fail(exc) from None
        if any(t.column(name).null_count for name in features):
            raise fail(None) from None
        x = _row_major(t, features, dtype)
        y = None
        if sel.label is not None:
            lab = t.column(sel.label)
            if lab.null_count:
                raise InvalidInputError(
                    f"{path}: label column {sel.label!r} has missing values; every row needs a label."
                )
            y = lab.to_numpy()
        ids = {n: t.column(n).combine_chunks() for n in sel.ids}
        return x, y, ids, len(piece)

    def blocks() -> Iterator[tuple[np.ndarray, np.ndarray | None, dict[str, Any], int]]:
        # Pieces are parsed in a thread pool, results taken in file order: parsing runs
        # on every core while the caller scores, and at most ``workers + 1`` pieces are
        # in flight, so memory follows the piece size, not the file.
        done = 0
        pool = ThreadPoolExecutor(workers, thread_name_prefix="aeruntime-csv")
        try:
            pending: deque[Future[tuple[np.ndarray, np.ndarray | None, dict[str, Any], int]]] = deque()
            for piece, skip in _csv_pieces(path, piece_bytes, layout.skip_lines):
                pending.append(pool.submit(parse, piece, skip))
                if len(pending) > workers:
                    block = pending.popleft().result()
                    done += block[3]
                    yield block
            while pending:
                block = pending.popleft().result()
                done += block[3]
                yield block
            if size > done:
                yield np.empty((0, len(features)), dtype), None, {}, size - done
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def gen() -> Iterator[Chunk]:
        for chunk in _rebatch(blocks(), batch):
            if finite:
                bad = first_non_finite(chunk.x)
                if bad is not None:
                    row = chunk.start + bad[0]
                    raise fail(None, row=row, column=bad[1][0])
            chunk.x = shape_rows(chunk.x, row_shape)
            yield chunk

    columns = sel.features if layout.names is not None else None
    return _table_source(path, gen(), sel, (None, size, "bytes"), dtype, columns, {n: pa.string() for n in sel.ids})


# ---------------------------------------------------------------------------- .parquet
def _require_pyarrow(path: Path) -> Any:
    return require_pyarrow(f"{path}: reading {path.suffix.lstrip('.').upper() or 'a table'}")


def _parquet_source(
    path: Path,
    batch: int,
    sel_args: dict[str, Any],
    row_shape: tuple[int, ...] | None,
    dtype: np.dtype | None,
    finite: bool,
) -> Source:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path, memory_map=False, buffer_size=_PARQUET_BUFFER, pre_buffer=False)
    except (OSError, ValueError, pa.ArrowException) as exc:  # ArrowInvalid is a ValueError
        raise InvalidInputError(f"{path}: not a readable Parquet file ({exc}).") from None
    schema = pf.schema_arrow
    names = list(schema.names)
    sel = _select(path, names, **sel_args)
    bad_types = [
        f"{n} ({schema.field(n).type})"
        for n in sel.features
        if not (
            pa.types.is_integer(schema.field(n).type)
            or pa.types.is_floating(schema.field(n).type)
            or pa.types.is_boolean(schema.field(n).type)
        )
    ]
    if bad_types:
        raise InvalidInputError(
            f"{path}: every feature column must be numeric, but {bad_types[:10]} are not; "
            "drop or encode them, or name the label column with --label-column."
        )
    if dtype is None:  # keep the file's type (e.g. int8 codes)
        dtype = (
            np.result_type(*[schema.field(n).type.to_pandas_dtype() for n in sel.features])
            if sel.features
            else np.dtype(np.float32)
        )
    out_dtype = np.dtype(dtype)
    n = pf.metadata.num_rows
    read_cols = [*sel.features, *([sel.label] if sel.label else []), *sel.ids]

    # Small reads (about 1 MB of features each), re-cut into chunks of `batch` rows: the
    # column readers then hold a few pages per column, not `batch` rows of every column.
    step = max(1024, min(batch, (1 << 20) // max(1, 4 * len(read_cols))))

    def blocks() -> Iterator[tuple[np.ndarray, np.ndarray | None, dict[str, Any], int]]:
        start = 0
        for rb in pf.iter_batches(batch_size=step, columns=read_cols, use_threads=False):
            for name in sel.features:
                col = rb.column(name)
                if col.null_count:
                    r = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
                    raise InvalidInputError(
                        f"{path}: missing value in column {name!r}, row {start + r}; every "
                        "feature needs a number. Impute or drop that row first."
                    )
            x = _row_major(rb, sel.features, out_dtype)
            if finite:
                check_finite(x, str(path), start=start, columns=sel.features)
            y = None
            if sel.label is not None:
                try:
                    y = np.asarray(rb.column(sel.label).to_numpy(zero_copy_only=False), dtype=np.float64)
                except (ValueError, TypeError):
                    raise InvalidInputError(f"{path}: label column {sel.label!r} holds non-numeric values.") from None
            yield x, y, {c: rb.column(c) for c in sel.ids}, rb.num_rows
            start += rb.num_rows
        if start == 0:
            yield np.empty((0, len(sel.features)), out_dtype), None, {}, 0

    def gen() -> Iterator[Chunk]:
        for chunk in _rebatch(blocks(), batch):
            chunk.x = shape_rows(chunk.x, row_shape)
            yield chunk

    id_types = {c: schema.field(c).type for c in sel.ids}
    return _table_source(path, gen(), sel, (n, n, "rows"), out_dtype, sel.features, id_types)


# ---------------------------------------------------------------------------- entry point
def existing_file(path: str | os.PathLike[str]) -> Path:
    """``Path(path)``, or :class:`BundleNotFoundError` (exit code 2) when it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise BundleNotFoundError(f"input file {str(path)!r} does not exist.")
    return path


def open_source(
    path: str | os.PathLike[str],
    batch_size: int,
    *,
    label_column: str | None = None,
    row_shape: tuple[int, ...] | None = None,
    feature_names: Sequence[str] | None = None,
    id_columns: Sequence[str] = (),
    dtype: Any = np.float32,
    finite: bool = True,
    npz_key: str | Sequence[str] = "X",
    read_labels: bool = True,
) -> Source:
    """Open ``path`` for chunked reading; chunks hold arrays of shape (<= batch_size, *row_shape).

    Parameters
    ----------
    path : path-like
        ``.npy``, ``.npz``, ``.csv``, ``.parquet`` / ``.pq``.
    batch_size : int
        Rows per chunk.
    label_column : str, optional
        Tables only: a column to read as labels (``Chunk.y``), not as a feature.
        An error for arrays, which have no named columns.
    row_shape : tuple of int, optional
        The model's row shape; flat table rows of matching size are reshaped to it.
    feature_names : sequence of str, optional
        Tables only: select and order the feature columns by these names (extra
        columns are ignored and listed in ``Source.ignored``; a missing one is an
        :class:`InvalidInputError`). None: every other column, in file order.
    id_columns : sequence of str
        Tables only: columns passed through untouched (``Chunk.ids``).
    dtype : numpy dtype or None, default float32
        dtype of table feature chunks; None keeps a Parquet file's column type
        (CSV: float32). Arrays keep their own dtype.
    finite : bool, default True
        Raise :class:`InvalidInputError` naming the row (and line, column) of the first
        NaN/Inf value.
    npz_key : str or sequence of str
        Name(s) of the array to read from an ``.npz`` archive (the first present).
    read_labels : bool, default True
        False: the label column is skipped, not parsed (scoring needs no labels, which
        may then be text such as "normal" / "attack").

    Returns
    -------
    Source
    """
    path = existing_file(path)
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}.")
    suffix = path.suffix.lower()
    id_columns = list(id_columns)
    sel_args = {
        "feature_names": list(feature_names) if feature_names else None,
        "label_column": label_column,
        "id_columns": id_columns,
        "read_labels": read_labels,
    }
    if suffix in (".npy", ".npz"):
        _no_arrays_options(path, label_column, id_columns)
        if suffix == ".npy":
            return _npy_source(path, batch_size, row_shape, finite)
        arr, _ = read_npz(path, npz_key)
        return _array_source(path, arr, batch_size, row_shape, finite)
    if suffix == ".csv":
        _require_pyarrow(path)
        return _csv_source(path, batch_size, sel_args, row_shape, np.dtype(dtype or np.float32), finite)
    if suffix in (".parquet", ".pq"):
        _require_pyarrow(path)
        return _parquet_source(path, batch_size, sel_args, row_shape, dtype, finite)
    raise InvalidInputError(f"{path}: unsupported input type {suffix!r}; expected one of {', '.join(INPUT_SUFFIXES)}.")
