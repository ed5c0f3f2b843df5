"""What the table readers (CSV, Parquet) share: column selection, row-major copies, re-batching."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..validation import check_unique, match_columns
from .source import Chunk, Source, label_index

__all__ = ["Block", "Selection", "is_number", "rebatch", "row_major", "select_columns", "table_source"]

#: (x, y, ids, progress) of a block of rows, any size
Block = tuple[np.ndarray, "np.ndarray | None", dict[str, Any], int]


def is_number(s: str) -> bool:
    """True when ``float(s)`` parses."""
    try:
        float(s)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------- column selection
@dataclass
class Selection:
    """Which table columns are read, and as what."""

    features: list[str]  # columns fed to the model, in order
    label: str | None  # label column
    ids: list[str]  # pass-through columns
    ignored: list[str]  # the rest
    by_name: bool  # features picked by the bundle's names


def _positional(path: Path, label_column: str | None, id_columns: Sequence[str]) -> Selection:
    """A header-less CSV: columns are read by position; labels and ids need names."""
    if label_column is not None:
        label_index(path, None, label_column)
    if id_columns:
        raise InvalidInputError(
            f"{path}: --id-column {id_columns[0]!r} needs a header row naming the "
            "columns, but the first line is all numbers. Add a header line."
        )
    return Selection([], None, [], [], False)


def _check_id_columns(path: Path, names: list[str], id_columns: Sequence[str]) -> None:
    for name in id_columns:
        if name not in names:
            raise InvalidInputError(
                f"{path}: id column {name!r} not found; the columns are {names}. "
                "Pass one of those names to --id-column."
            )


def select_columns(
    path: Path,
    names: list[str] | None,
    *,
    feature_names: Sequence[str] | None,
    label_column: str | None,
    id_columns: Sequence[str],
    read_labels: bool = True,
) -> Selection:
    """Which table columns are features, label, ids, or ignored; typed errors for missing ones.

    Features are matched by name (:func:`aeruntime.validation.match_columns`) when
    ``feature_names`` is given. With ``read_labels=False`` the label column is only
    left out of the features (never parsed).
    """
    if names is None:
        return _positional(path, label_column, id_columns)
    check_unique(names, str(path))
    if label_column is not None:
        label_index(path, names, label_column)
    _check_id_columns(path, names, id_columns)
    label = label_column if read_labels else None
    reserved = [n for n in (label_column, *id_columns) if n is not None]
    if feature_names:
        features = match_columns(names, feature_names, where=str(path), reserved=reserved)
        chosen = {*features, *reserved}
        return Selection(features, label, list(id_columns), [n for n in names if n not in chosen], True)
    return Selection([n for n in names if n not in reserved], label, list(id_columns), [], False)


def table_source(
    path: Path,
    chunks: Iterator[Chunk],
    sel: Selection,
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


# ---------------------------------------------------------------------------- rows
def row_major(rb: Any, names: Sequence[str], dtype: np.dtype) -> np.ndarray:
    """Columns ``names`` of a pyarrow RecordBatch (no nulls) -> C-ordered rows (n, len(names)).

    Stacking the columns contiguously and copying the transpose is about 4x faster
    than writing each column into a strided slot of the row-major array.
    """
    if not names:
        return np.empty((rb.num_rows, 0), dtype=dtype)
    cols = np.stack([rb.column(n).to_numpy(zero_copy_only=False) for n in names])  # (k, n)
    return np.ascontiguousarray(cols.T, dtype=dtype)


class _Rebatcher:
    """Pending (x, y, ids) blocks, cut into chunks of a fixed number of rows."""

    def __init__(self) -> None:
        self.pend: list[tuple[np.ndarray, np.ndarray | None, dict[str, Any]]] = []
        self.have = self.progress = self.start = 0

    def _take(self, n: int) -> tuple[list[np.ndarray], list[np.ndarray | None], list[dict[str, Any]]]:
        xs: list[np.ndarray] = []
        ys: list[np.ndarray | None] = []
        idss: list[dict[str, Any]] = []
        taken = 0
        while taken < n:
            x, y, ids = self.pend[0]
            k = min(n - taken, len(x))
            xs.append(x[:k])
            ys.append(None if y is None else y[:k])
            idss.append({name: a.slice(0, k) for name, a in ids.items()})
            if k == len(x):
                self.pend.pop(0)
            else:
                self.pend[0] = (x[k:], None if y is None else y[k:], {name: a.slice(k) for name, a in ids.items()})
            taken += k
        return xs, ys, idss

    def cut(self, n: int) -> Chunk:
        import pyarrow as pa

        xs, ys, idss = self._take(n)
        xcat = xs[0] if len(xs) == 1 else np.concatenate(xs)
        ycat = None if ys[0] is None else (ys[0] if len(ys) == 1 else np.concatenate(ys))  # type: ignore[arg-type]
        idcat = {
            name: (idss[0][name] if len(idss) == 1 else pa.concat_arrays([d[name] for d in idss])) for name in idss[0]
        }
        chunk = Chunk(xcat, self.start, self.progress, ycat, idcat)
        self.start += n
        self.have -= n
        self.progress = 0
        return chunk


def rebatch(blocks: Iterator[Block], batch: int) -> Iterator[Chunk]:
    """Re-cut (x, y, ids, progress) blocks of any size into chunks of exactly ``batch`` rows (last: fewer)."""
    r = _Rebatcher()
    empty = np.empty((0, 0))
    for x, y, ids, step in blocks:
        r.progress += step
        empty = x[:0]
        if len(x):
            r.pend.append((x, y, ids))
            r.have += len(x)
        while r.have >= batch:
            yield r.cut(batch)
    if r.have:
        yield r.cut(r.have)
    elif r.progress or r.start == 0:
        yield Chunk(empty, r.start, r.progress)
