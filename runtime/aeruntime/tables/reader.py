""":func:`open_source`: the one entry point of the readers, by file suffix."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..fs.faults import fault_of
from .arrow import require_pyarrow
from .header import header_default
from .npy import array_source, npy_source, read_npz
from .source import INPUT_SUFFIXES, Source, existing_file, no_array_options

__all__ = ["open_source"]


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
    header: bool | None = None,
) -> Source:
    """Open ``path`` (``.npy``, ``.npz``, ``.csv``, ``.parquet``/``.pq``) for chunks of <= ``batch_size`` rows.

    Parameters
    ----------
    label_column : str, optional
        Tables only (an error for arrays): a column read as labels (``Chunk.y``), not as a feature.
    row_shape : tuple of int, optional
        The model's row shape: flat table rows of matching size are reshaped to it.
    feature_names : sequence of str, optional
        Tables only: select and order the features by name (:func:`aeruntime.validation.match_columns`;
        extra columns go to ``Source.ignored``). None: every other column, in file order.
    id_columns : sequence of str
        Tables only: columns passed through untouched (``Chunk.ids``).
    dtype : numpy dtype or None, default float32
        Of table feature chunks; None keeps a Parquet file's type (CSV: float32). Arrays keep theirs.
    finite : bool, default True
        Raise :class:`InvalidInputError` naming the row (and line, column) of the first NaN/Inf.
    npz_key : str or sequence of str
        The array read from an ``.npz`` archive (the first of these names present).
    read_labels : bool, default True
        False: the label column is skipped, not parsed (scoring needs no labels, which
        may then be text such as "normal" / "attack").
    header : bool or None, default None
        CSV only (ignored for other formats): True, the first line is a header; False,
        it is data; None, decided by the rule of :mod:`aeruntime.tables.header` (on the
        command line: ``--header/--no-header``, and the decision is printed on stderr).
        With ``row_shape``, a CSV read by position is refused on its first line when its
        width is wrong, before anything is parsed.
    """
    path = existing_file(path)
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}.")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        no_array_options(path, label_column, id_columns)
        if suffix == ".npy":
            return npy_source(path, batch_size, row_shape, finite)
        return array_source(path, read_npz(path, npz_key)[0], batch_size, row_shape, finite)
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InvalidInputError(
            f"{path}: unsupported input type {suffix!r}; expected one of {', '.join(INPUT_SUFFIXES)}."
        )
    require_pyarrow(f"{path}: reading {suffix.lstrip('.').upper()}")
    sel_args = {"feature_names": list(feature_names) if feature_names else None, "label_column": label_column}
    sel_args.update(id_columns=list(id_columns), read_labels=read_labels)
    if suffix == ".csv":
        from .csv_reader import csv_source

        if header is None:
            header = header_default()
        with fault_of(path, "read"):  # the first lines are read here (npy/npz/parquet map their own)
            return csv_source(path, batch_size, sel_args, row_shape, np.dtype(dtype or np.float32), finite, header)
    from .parquet import parquet_source

    return parquet_source(path, batch_size, sel_args, row_shape, dtype, finite)
