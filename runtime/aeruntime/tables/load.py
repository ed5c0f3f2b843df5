"""Whole-file reads and writes, for aeexport's data loading and small outputs.

Thin wrappers over the streaming stack (:mod:`aeruntime.tables` reads,
:mod:`aeruntime.tables.sinks` writes), so every tool reads and writes files the same way.
Nothing here unpickles: ``np.load(..., allow_pickle=False)``.

aeexport reads its data through these (:mod:`aeruntime.tables` exports them), and checks
rows with the one row rule of :mod:`aeruntime.validation`.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import check_finite, first_non_finite
from .npy import load_npy, read_npz
from .reader import open_source
from .sinks import SCORE_FIELDS, open_sink
from .source import check_table_options, existing_file

__all__ = ["Table", "load_table", "read_table", "write_scores"]

#: rows per chunk when a table is read whole
_WHOLE_BATCH = 1 << 16


@dataclass
class Table:
    """A whole input file."""

    X: np.ndarray  # (n_rows, ...) features (tables: float64, in the selected column order)
    y: np.ndarray | None  # (n_rows,) labels, or None
    feature_names: list[str] | None  # names of the feature columns (tables with a header), else None
    ignored: list[str]  # table columns not read (not a feature nor the label)


def load_table(
    path: str | os.PathLike[str],
    label_column: str | None = None,
    *,
    mmap: bool = False,
    feature_names: Sequence[str] | None = None,
    finite: bool = False,
    header: bool | None = None,
    dtype: Any = np.float64,
) -> Table:
    """Read features, optional labels and the feature column names of ``.npy/.npz/.csv/.parquet``.

    Parameters
    ----------
    path : path-like
        ``.npy`` (an array of rows), ``.npz`` (``X`` and optional ``y``), ``.csv``
        (optional header; numeric columns) or ``.parquet``.
    label_column : str, optional
        Tables only: name of the column holding labels (removed from the features);
        an error for ``.npy``/``.npz``.
    mmap : bool
        Memory-map ``.npy`` files instead of reading them.
    feature_names : sequence of str, optional
        Tables only: select and order the feature columns by name (a bundle's
        ``Model.feature_names``); a missing column is an :class:`InvalidInputError`.
    finite : bool
        Reject NaN/Inf with a message naming row (and line, column).
    header : bool or None
        ``.csv``: the first line is a header (True) or data (False); None decides
        (:mod:`aeruntime.tables.header`; the command lines' ``--header/--no-header``).
    dtype : numpy dtype, default float64
        Of a table's features, cast chunk by chunk (float32: no whole-file float64 copy); a value
        beyond its range is refused naming its row. Arrays keep their dtype.

    Returns
    -------
    Table
    """
    path = existing_file(path)
    if path.suffix.lower() in (".npy", ".npz"):
        return _load_array(path, label_column, mmap=mmap, finite=finite)
    source = open_source(
        path,
        _WHOLE_BATCH,
        label_column=label_column,
        feature_names=feature_names,
        dtype=np.float64,
        finite=finite,
        header=header,
    )
    xs, ys, done = _Rows(source.n_rows), [], 0
    for chunk in source:
        xs.add(_narrow(chunk.x, np.dtype(dtype), str(path), done, source.columns))
        done += len(chunk.x)
        if chunk.y is not None:
            ys.append(chunk.y)
    X = xs.array()
    del xs
    y = None
    if label_column is not None:
        y = np.concatenate(ys) if ys else np.empty(0, np.float64)
    return Table(X, y, source.columns, source.ignored)


class _Rows:
    """The feature chunks of a table gathered into one array (n_rows, n_features).

    When the row count is known before reading (Parquet's metadata) the array is allocated once and
    filled chunk by chunk, so the peak is the matrix plus one chunk, not the chunks plus their
    concatenation (twice the matrix). Otherwise (CSV) the chunks are concatenated at the end.
    """

    def __init__(self, n_rows: int | None) -> None:
        self.n_rows, self.done = n_rows, 0
        self.out: np.ndarray | None = None
        self.parts: list[np.ndarray] = []

    def add(self, part: np.ndarray) -> None:
        if self.n_rows is not None and self.out is None:
            self.out = np.empty((self.n_rows, *part.shape[1:]), part.dtype)
        if self.out is not None and self.done + len(part) <= len(self.out):
            self.out[self.done : self.done + len(part)] = part
        else:  # no row count, or more rows than it said: keep the chunks and concatenate
            self.parts.append(part)
        self.done += len(part)

    def array(self) -> np.ndarray:
        filled = [] if self.out is None else [self.out[: min(self.done, len(self.out))]]
        chunks = filled + self.parts
        return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]


def _narrow(x: np.ndarray, dtype: np.dtype, name: str, start: int, columns: Sequence[str] | None) -> np.ndarray:
    """Chunk ``x`` (rows ``start``...) cast to ``dtype``; a finite value that does not fit is refused."""
    if x.dtype == dtype:
        return x
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(x, dtype=dtype)
    bad = first_non_finite(out)
    if bad is not None and math.isfinite(float(x[(bad[0], *bad[1])])):
        check_finite(out, name, x, start=start, columns=columns)
    return out


def _load_array(path: Path, label_column: str | None, *, mmap: bool, finite: bool) -> Table:
    """An ``.npy`` (rows) or ``.npz`` (``X`` and optional ``y``) file, read by the one array reader."""
    check_table_options(path, label_column)  # the typed "tables only" error
    if path.suffix.lower() == ".npy":
        X, y = load_npy(path, "r" if mmap else None), None
    else:
        X, y = read_npz(path)
    if finite:
        for _ in open_source(path, _WHOLE_BATCH):  # the same check, naming the row, as the streaming reader
            pass
    return Table(X, y, None, [])


def read_table(
    path: str | os.PathLike[str],
    label_column: str | None = None,
    *,
    mmap: bool = False,
    feature_names: Sequence[str] | None = None,
    header: bool | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, y)`` from ``.npy``, ``.npz``, ``.csv`` or ``.parquet``: :func:`load_table` without the names.

    Returns
    -------
    X : ndarray of shape (n_rows, ...)
    y : ndarray of shape (n_rows,) or None
    """
    t = load_table(path, label_column, mmap=mmap, feature_names=feature_names, header=header)
    return t.X, t.y


def write_scores(path: str | os.PathLike[str] | None, scores: np.ndarray, labels: np.ndarray) -> str | None:
    """Write scores and labels atomically to ``.npy`` (structured), ``.npz``, ``.csv`` or ``.parquet``.

    With ``path=None`` the CSV text is returned instead (for stdout).
    """
    if path is None:
        buf = io.StringIO()
        with open_sink(None, SCORE_FIELDS, stdout=buf) as sink:
            sink.write(scores, labels)
        return buf.getvalue()
    with open_sink(path, SCORE_FIELDS) as sink:
        sink.write(scores, labels)
    return None
