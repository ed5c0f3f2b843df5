"""What every reader yields: :class:`Chunk` and :class:`Source`; input suffixes and option checks."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..fs.faults import check_input_file, fault_of

#: suffixes of the tables (named columns)
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
#: every input type :func:`aeruntime.tables.open_source` reads
INPUT_SUFFIXES = (".npy", ".npz", *TABLE_SUFFIXES)


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
    header_note : str or None
        CSV: whether the first line was read as a header, and why (one line).
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
        self.header_note: str | None = None

    def __iter__(self) -> Iterator[Chunk]:
        with fault_of(self.path, "read"):  # a file removed or unreadable mid-way: FileSystemError
            yield from self._chunks


def existing_file(path: str | os.PathLike[str]) -> Path:
    """``Path(path)`` if it is a readable regular file: the one check (:func:`aeruntime.fs.faults.check_input_file`)."""
    return check_input_file(path)


def label_index(path: Path, header: list[str] | None, label_column: str) -> int:
    """Column index of ``label_column`` in a header, or a typed error listing the columns."""
    if header is None or label_column not in header:
        raise InvalidInputError(
            f"{path}: label column {label_column!r} not found; the columns are "
            f"{header if header else '(no header row)'}. Pass one of those names."
        )
    return header.index(label_column)


def check_table_options(
    path: str | os.PathLike[str], label_column: str | None = None, id_columns: Sequence[str] = ()
) -> None:
    """Refuse ``--label-column``/``--id-column`` for inputs without named columns (.npy, .npz)."""
    if Path(path).suffix.lower() not in TABLE_SUFFIXES:
        no_array_options(Path(path), label_column, id_columns)


def no_array_options(path: Path, label_column: str | None, id_columns: Sequence[str]) -> None:
    """The typed errors for ``--label-column``/``--id-column`` given with an array input."""
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
