"""Parquet: ``ParquetFile.iter_batches`` with buffered page reads, re-cut into chunks.

``pre_buffer=False`` and a small ``buffer_size``: pages are read through a buffer
instead of whole column chunks, so memory follows the batch, not the row-group size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..fs.faults import os_fault
from ..validation import first_non_finite, shape_rows, value_error, where
from .common import Block, Selection, rebatch, row_major, select_columns, table_source
from .source import Chunk, Source

__all__ = ["parquet_source"]

#: Parquet read buffer: pages are read through it instead of whole column chunks
_PARQUET_BUFFER = 1 << 16


def _check_numeric(path: Path, schema: Any, features: list[str]) -> None:
    import pyarrow as pa

    def numeric(t: Any) -> bool:
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t))

    bad_types = [f"{n} ({schema.field(n).type})" for n in features if not numeric(schema.field(n).type)]
    if bad_types:
        raise InvalidInputError(
            f"{path}: every feature column must be numeric, but {bad_types[:10]} are not; "
            "drop or encode them, or name the label column with --label-column."
        )


def _feature_dtype(schema: Any, features: list[str], dtype: np.dtype | None) -> np.dtype:
    """``dtype``, or (None) the common type of the file's feature columns (e.g. int8 codes)."""
    if dtype is not None:
        return np.dtype(dtype)
    if not features:
        return np.dtype(np.float32)
    return np.dtype(np.result_type(*[schema.field(n).type.to_pandas_dtype() for n in features]))


def _check_nulls(path: Path, rb: Any, features: list[str], start: int) -> None:
    for name in features:
        col = rb.column(name)
        if col.null_count:
            r = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise InvalidInputError(
                f"{path}: missing value in column {name!r}, row {start + r}; every "
                "feature needs a number. Impute or drop that row first."
            )


def _labels(path: Path, rb: Any, label: str | None) -> np.ndarray | None:
    if label is None:
        return None
    try:
        return np.asarray(rb.column(label).to_numpy(zero_copy_only=False), dtype=np.float64)
    except (ValueError, TypeError):
        raise InvalidInputError(f"{path}: label column {label!r} holds non-numeric values.") from None


def _check_values(path: Path, rb: Any, x: np.ndarray, features: list[str], start: int) -> None:
    """NaN/Inf in the (cast) rows ``x``, named with the file's own value (so 1e39 reads as beyond float32)."""
    bad = first_non_finite(x)
    if bad is not None:
        r, elem = bad
        value = rb.column(features[elem[0]])[r].as_py()
        raise value_error(str(path), where(start + r, elem, x.shape[1:], features), value)


def _blocks(pf: Any, path: Path, sel: Selection, batch: int, dtype: np.dtype, finite: bool) -> Iterator[Block]:
    read_cols = [*sel.features, *([sel.label] if sel.label else []), *sel.ids]
    # Small reads (about 1 MB of features each), re-cut into chunks of `batch` rows: the
    # column readers then hold a few pages per column, not `batch` rows of every column.
    step = max(1024, min(batch, (1 << 20) // max(1, 4 * len(read_cols))))
    start = 0
    for rb in pf.iter_batches(batch_size=step, columns=read_cols, use_threads=False):
        _check_nulls(path, rb, sel.features, start)
        x = row_major(rb, sel.features, dtype)
        if finite:
            _check_values(path, rb, x, sel.features, start)
        yield x, _labels(path, rb, sel.label), {c: rb.column(c) for c in sel.ids}, rb.num_rows
        start += rb.num_rows
    if start == 0:
        yield np.empty((0, len(sel.features)), dtype), None, {}, 0


def parquet_source(
    path: Path,
    batch: int,
    sel_args: dict[str, Any],
    row_shape: tuple[int, ...] | None,
    dtype: np.dtype | None,
    finite: bool,
) -> Source:
    """Chunks of ``batch`` rows of a Parquet file's selected columns (``dtype=None``: the file's type)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path, memory_map=False, buffer_size=_PARQUET_BUFFER, pre_buffer=False)
    except (OSError, ValueError, pa.ArrowException) as exc:  # ArrowInvalid is a ValueError
        if isinstance(exc, OSError) and exc.errno is not None:  # the file system, not the bytes
            raise os_fault(exc, path, "read") from exc
        raise InvalidInputError(f"{path}: not a readable Parquet file ({exc}).") from None
    schema = pf.schema_arrow
    sel = select_columns(path, list(schema.names), **sel_args)
    _check_numeric(path, schema, sel.features)
    out_dtype = _feature_dtype(schema, sel.features, dtype)

    def gen() -> Iterator[Chunk]:
        for chunk in rebatch(_blocks(pf, path, sel, batch, out_dtype, finite), batch):
            chunk.x = shape_rows(chunk.x, row_shape)
            yield chunk

    n = pf.metadata.num_rows
    id_types = {c: schema.field(c).type for c in sel.ids}
    return table_source(path, gen(), sel, (n, n, "rows"), out_dtype, sel.features, id_types)
