"""CSV: the file cut into pieces of a few MiB at line ends, each parsed by pyarrow in a thread pool.

``pyarrow.csv.read_csv`` parses each piece in a worker thread (one per core, results
in file order, a bounded number in flight, so memory follows the piece size). Whether
the first line is a header is the rule of :mod:`.header` (or ``--header/--no-header``).
The width is checked on the first line, before anything is parsed, and a line far
longer than the width allows is refused while reading (so refusing a bad file costs
little). Parse errors are re-located by a line-by-line scan (the error path only), so
messages name the line and column.
"""

from __future__ import annotations

import csv
import math
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..validation import first_non_finite, shape_rows, value_error, width_error
from .common import Block, Selection, is_number, rebatch, row_major, select_columns, table_source
from .header import announce, decide_header
from .limits import check_first_line_width, long_line_error, max_line, positional_width
from .source import Chunk, Source

__all__ = ["csv_source"]

#: CSV bytes parsed per task (one thread each; measured: 4-8 MiB pieces parse fastest)
_PIECE = 4 << 20
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class _CsvLayout:
    names: list[str] | None  # header names (stripped), None without a header
    width: int  # fields per row
    skip_lines: int  # lines before the first data row (blank lines and the header)
    first_line_bytes: int  # length of the first data line (block-size estimate)
    note: str  # the header decision, in one line

    @property
    def max_line(self) -> int:
        """Longest line accepted, in bytes (:func:`.limits.max_line`)."""
        return max_line(self.width)


def _not_readable(path: Path, exc: Exception) -> InvalidInputError:
    if isinstance(exc, UnicodeDecodeError):
        return InvalidInputError(f"{path}: not a readable CSV file: it is not UTF-8 text ({exc}).")
    return InvalidInputError(f"{path}: not a readable CSV file ({exc}).")


def _first_rows(path: Path) -> tuple[list[str], int, int, int]:
    """(first non-empty row, lines skipped before it, line where it ends, length of the next row).

    A gzip-compressed file (magic bytes ``1f 8b``) is refused naming the compression, as the
    JavaScript core does (``parseCsvBytes``): it is never read as garbage text.
    """
    with open(path, "rb") as raw:
        if raw.read(2) == b"\x1f\x8b":
            raise InvalidInputError(
                f"{path}: the file is gzip-compressed, not CSV text; decompress it first (gunzip -k), "
                "then score the .csv."
            )
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
            return row, skipped, first_end, len(",".join(nxt)) + 1 if nxt else 64
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _not_readable(path, exc) from None


def _check_delimiter(path: Path, row: list[str]) -> None:
    """One column holding ``;``, tab or ``|``: another delimiter, which we do not read."""
    if len(row) != 1:
        return
    for ch, name in _DELIMITERS.items():
        if ch in row[0]:
            raise InvalidInputError(
                f"{path}: the first line {row[0][:80]!r} is one column holding {name} characters "
                f"({ch!r}): the file looks {name}-separated, but aeruntime reads comma-separated CSV. "
                f"Convert it, e.g. with pandas: pd.read_csv(path, sep={ch!r}).to_csv(new_path, index=False)."
            )


def _csv_layout(path: Path, header: bool | None, sel_args: dict[str, Any], width: int | None) -> _CsvLayout:
    """Read the first non-empty line(s): header or not (:mod:`.header`), width, a delimiter hint.

    A file read by position (the bundle has no feature names, no label or id columns) has
    ``len(row)`` features, header or not: a wrong ``width`` is refused before anything else.
    """
    width = width if width is not None and positional_width(sel_args) else None
    check_first_line_width(path, width)
    row, skipped, first_end, second_len = _first_rows(path)
    if not row or not any(c.strip() for c in row):
        raise InvalidInputError(f"{path}: the CSV file is empty; expected a header and numeric rows.")
    _check_delimiter(path, row)
    if width is not None and len(row) != width:
        raise width_error(str(path), len(row), (width,))
    decision = decide_header(path, row, header, sel_args.get("feature_names"))
    names = [c.strip() for c in row] if decision.header else None
    skip = first_end if names is not None else skipped
    return _CsvLayout(names, len(row), skip, second_len, decision.note)


# ---------------------------------------------------------------------------- errors with line numbers
@dataclass
class _Scan:
    """What the line-by-line scan checks."""

    path: Path
    layout: _CsvLayout
    sel: Selection
    feat_idx: list[int]  # field index of each feature
    feat_names: list[str]  # how each feature is named in messages
    lab_idx: int | None  # field index of the label

    @classmethod
    def of(cls, path: Path, layout: _CsvLayout, sel: Selection) -> _Scan:
        names = layout.names
        if names is None:
            return cls(path, layout, sel, list(range(layout.width)), [f"{j + 1}" for j in range(layout.width)], None)
        lab = names.index(sel.label) if sel.label is not None else None
        return cls(path, layout, sel, [names.index(f) for f in sel.features], sel.features, lab)

    def label(self, name: str) -> str:
        return f"column {name!r}" if self.layout.names is not None else f"column {name}"

    def rows(self) -> Iterator[tuple[int, int, list[str]]]:
        """(data row index, line number, fields) of every non-empty data line."""
        with open(self.path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            for _ in range(self.layout.skip_lines):
                next(reader, None)
            i = -1
            for r in reader:
                if r:
                    i += 1
                    yield i, reader.line_num, r

    def non_finite(self, line: int, row: int, column: int | None, r: list[str]) -> InvalidInputError:
        col = self.feat_names[column] if column is not None else "?"
        text = r[self.feat_idx[column or 0]].strip()
        try:
            value = float(text)
        except ValueError:  # a NaN spelling of pyarrow's that Python does not read
            value = float("nan")
        return value_error(str(self.path), f"line {line} (row {row}), {self.label(col)}", value)

    def bad_cell(self, line: int, r: list[str]) -> InvalidInputError | None:
        for j, name in zip(self.feat_idx, self.feat_names):
            cell = r[j].strip()
            if cell == "":
                return InvalidInputError(
                    f"{self.path}: missing value in {self.label(name)}, line {line}; every feature needs a number. "
                    "Impute or drop that row first."
                )
            if not is_number(cell):
                return InvalidInputError(
                    f"{self.path}: expected numeric values in every column, but {self.label(name)} on line {line} "
                    f"holds {cell[:40]!r}. Drop or encode non-numeric columns first"
                    + (", or name the label column with --label-column." if self.layout.names is not None else ".")
                )
        return None

    def bad_line(self, line: int, r: list[str]) -> InvalidInputError | None:
        width = self.layout.width
        if len(r) != width:
            what = "header" if self.layout.names is not None else "first line"
            return InvalidInputError(
                f"{self.path}: line {line} has {len(r)} fields, but the {what} has {width}. Fix the malformed line."
            )
        err = self.bad_cell(line, r)
        if err is None and self.lab_idx is not None and not is_number(r[self.lab_idx].strip()):
            err = InvalidInputError(
                f"{self.path}: label column {self.sel.label!r} holds non-numeric values "
                f"({r[self.lab_idx].strip()[:40]!r} on line {line}); labels must be numbers."
            )
        return err


def _locate_csv_problem(
    path: Path, layout: _CsvLayout, sel: Selection, *, row: int | None = None, column: int | None = None
) -> InvalidInputError | None:
    """Scan the file line by line (error path only) and describe the first bad line.

    With ``row`` (a data-row index) and ``column`` (an index into the features) it names
    that cell's line instead: used for NaN/Inf values, which parse fine.
    """
    scan = _Scan.of(path, layout, sel)
    try:
        for i, line, r in scan.rows():
            if row is not None:
                if i == row:
                    return scan.non_finite(line, row, column, r)
                continue
            err = scan.bad_line(line, r)
            if err is not None:
                return err
    except (UnicodeDecodeError, csv.Error) as exc:
        return _not_readable(path, exc)
    return None


# ---------------------------------------------------------------------------- pieces in a thread pool
def _csv_workers() -> int:
    """Parser threads: one per usable core (at most 8: more only adds memory in flight)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def _csv_pieces(path: Path, size: int, layout: _CsvLayout) -> Iterator[tuple[bytes, int]]:
    """The file's bytes in pieces of about ``size`` bytes, each cut after a line end.

    Yields (piece, lines to skip at its start): the first piece carries the header and
    leading blank lines, so it is read on until it holds all of them. A cut after
    ``\r`` of a ``\r\n`` leaves an empty line at the next piece's start, which the
    parser skips. Values holding line breaks inside quotes are not supported (the
    same rule as pyarrow's own block parser, ``newlines_in_values=False``). A line
    longer than ``layout.max_line`` is refused as soon as that many bytes are read.
    """
    lines = 0  # line ends before ``tail``
    with open(path, "rb") as fh:
        tail = b""
        skip = layout.skip_lines
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
            if cut == 0:  # one line longer than ``size``: read on, up to the limit
                if len(buf) > layout.max_line:
                    raise long_line_error(path, lines + 1, len(buf), layout.width)
                tail = buf
                continue
            tail = buf[cut:]
            lines += buf.count(b"\n", 0, cut)
            if len(tail) > layout.max_line:  # the unfinished line is already too long
                raise long_line_error(path, lines + 1, len(tail), layout.width)
            yield buf[:cut], skip
            skip = 0


class _CsvReader:
    """One CSV file's selected columns, parsed piece by piece."""

    def __init__(
        self, path: Path, sel_args: dict[str, Any], dtype: np.dtype, header: bool | None, width: int | None
    ) -> None:
        import pyarrow as pa

        self.path, self.dtype = path, dtype
        self.layout = _csv_layout(path, header, sel_args, width)
        announce(self.layout.note)
        self.sel = select_columns(path, self.layout.names, **sel_args)
        n_features = len(self.sel.features) if self.layout.names is not None else self.layout.width
        if width is not None and not self.sel.by_name and n_features != width:
            # the width is known from the first line: refuse before parsing anything
            raise width_error(str(path), n_features, (width,))
        self.names = self.layout.names or [f"c{j}" for j in range(self.layout.width)]
        self.features = self.sel.features if self.layout.names is not None else self.names
        self.size = path.stat().st_size
        self.piece_bytes = max(_PIECE, 16 * self.layout.first_line_bytes)
        self.workers = _csv_workers()
        self.id_types = {n: pa.string() for n in self.sel.ids}
        self.convert = self._convert_options()

    def _convert_options(self) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        sel = self.sel
        arrow_type = pa.from_numpy_dtype(self.dtype)
        types = {f: arrow_type for f in self.features}
        if sel.label is not None:
            types[sel.label] = pa.float64()
        types.update(self.id_types)
        return pacsv.ConvertOptions(
            column_types=types,
            include_columns=[*self.features, *([sel.label] if sel.label else []), *sel.ids],
            null_values=[""],
            strings_can_be_null=False,
            quoted_strings_can_be_null=True,
        )

    def fail(self, exc: Exception | None = None, **where: Any) -> InvalidInputError:
        err = _locate_csv_problem(self.path, self.layout, self.sel, **where)
        if err is not None:
            return err
        return InvalidInputError(
            f"{self.path}: not a readable CSV file ({exc}); expected numeric columns with one header line."
        )

    def _labels(self, t: Any) -> np.ndarray | None:
        if self.sel.label is None:
            return None
        lab = t.column(self.sel.label)
        if lab.null_count:
            raise InvalidInputError(
                f"{self.path}: label column {self.sel.label!r} has missing values; every row needs a label."
            )
        return lab.to_numpy()

    def parse(self, piece: bytes, skip: int) -> Block:
        """One piece -> (x, y, ids, bytes): runs in a worker thread (pyarrow releases the GIL)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        read_opts = pacsv.ReadOptions(
            column_names=self.names, skip_rows=skip, use_threads=False, block_size=len(piece) + 1
        )
        try:
            t = pacsv.read_csv(pa.py_buffer(piece), read_options=read_opts, convert_options=self.convert)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            if "Empty CSV file" in str(exc):
                return np.empty((0, len(self.features)), self.dtype), None, {}, len(piece)
            raise self.fail(exc) from None
        if any(t.column(name).null_count for name in self.features):
            raise self.fail(None) from None
        ids = {n: t.column(n).combine_chunks() for n in self.sel.ids}
        return row_major(t, self.features, self.dtype), self._labels(t), ids, len(piece)

    def blocks(self) -> Iterator[Block]:
        # Pieces are parsed in a thread pool, results taken in file order: parsing runs
        # on every core while the caller scores, and at most ``workers + 1`` pieces are
        # in flight, so memory follows the piece size, not the file.
        done = 0
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="aeruntime-csv")
        try:
            pending: deque[Future[Block]] = deque()
            for piece, skip in _csv_pieces(self.path, self.piece_bytes, self.layout):
                pending.append(pool.submit(self.parse, piece, skip))
                if len(pending) > self.workers:
                    block = pending.popleft().result()
                    done += block[3]
                    yield block
            while pending:
                block = pending.popleft().result()
                done += block[3]
                yield block
            if self.size > done:
                yield np.empty((0, len(self.features)), self.dtype), None, {}, self.size - done
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def chunks(self, batch: int, row_shape: tuple[int, ...] | None, finite: bool) -> Iterator[Chunk]:
        for chunk in rebatch(self.blocks(), batch):
            if finite:
                bad = first_non_finite(chunk.x)
                if bad is not None:
                    raise self.fail(None, row=chunk.start + bad[0], column=bad[1][0])
            chunk.x = shape_rows(chunk.x, row_shape)
            yield chunk


def csv_source(
    path: Path,
    batch: int,
    sel_args: dict[str, Any],
    row_shape: tuple[int, ...] | None,
    dtype: np.dtype,
    finite: bool,
    header: bool | None = None,
) -> Source:
    """Chunks of ``batch`` rows of a CSV file's selected columns (``sel_args``: see ``select_columns``).

    ``header``: True / False force it, None decides (:mod:`.header`). With ``row_shape``
    the width of a file read by position is checked on its first line.
    """
    width = math.prod(row_shape) if row_shape else None
    r = _CsvReader(path, sel_args, dtype, header, width)
    columns = r.sel.features if r.layout.names is not None else None
    progress = (None, r.size, "bytes")
    source = table_source(path, r.chunks(batch, row_shape, finite), r.sel, progress, dtype, columns, r.id_types)
    source.header_note = r.layout.note
    return source
