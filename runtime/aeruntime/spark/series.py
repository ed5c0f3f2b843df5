"""Series bundles on Spark: one series per key, in time order, one output row per input row.

Driver side (:func:`series_frame`): the key and time columns are checked on the schema, the
rows are grouped by key with one shuffle (``repartition(key)``) and ordered by
``(key, time)`` within each partition (``sortWithinPartitions``), then one ``mapInArrow``.
Task side (:class:`SeriesPlan`): the Arrow batches of a partition arrive in (key, time)
order; each key's rows go through an :class:`aeruntime.series.WindowScorer` (the last W-1
rows carried from batch to batch, so a window spanning two batches is scored as in one
piece) and an :class:`aeruntime.series.AlarmRule`, both started afresh for every key, so
windows and alarms never cross keys. Memory is one Arrow batch plus W-1 rows per task.

Output per row: ``score`` (NaN for the first W-1 rows of a key: docs/bundle-format.md,
section 11), ``label`` (``score > threshold``, 0 during the warm-up), for a bundle whose scorer
outputs ``p_value`` the ``p_value`` of the window ending at the row (the graph's own output, as
:meth:`aeruntime.series.WindowScorer.decide`; NaN during the warm-up), ``warmup`` (1 for
the first W-1 rows) and ``alarm`` (the manifest's persistence rule). Refused in the task
with an :class:`~aeruntime.errors.InvalidInputError` naming the key: a time that repeats
within a key, a null time, a null/NaN/Inf feature (naming the column and the row), a key
with fewer than W rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..series import AlarmRule, WindowScorer
from .columns import check_new_columns, keep_columns, layout, quote, resolve_features
from .plan import BundleSpec, Plan, nonfinite_rows, worker_model

__all__ = ["TIME_TYPES", "SeriesPlan", "series_frame"]

#: Spark SQL type names accepted as the time column (they order the steps)
TIME_TYPES = ("byte", "short", "integer", "long", "float", "double", "decimal", "date", "timestamp", "timestamp_ntz")
_KEY, _TIME = "__aeruntime_key", "__aeruntime_time"


# ---------------------------------------------------------------------------- driver side
def _check_options(model: Any, job: Any) -> None:
    """What a series bundle cannot do, refused before any task (the same rule as ``aeruntime score``)."""
    if job.time is None:
        raise InvalidInputError(
            f"{str(model.path)!r} is a series bundle (windows of {model.input_shape[0]} steps): Spark has no row "
            "order, so pass time='col' (--time), the column that orders the steps, and key='col' (--key) for "
            "the column naming each series (a device)."
        )
    if job.fpr is not None or job.fdr is not None:
        raise InvalidInputError(
            "fpr/fdr label single rows by their p-values; a series bundle labels time steps by its threshold "
            "and alarm rule: drop fpr/fdr (--fpr/--fdr), or pass threshold (--threshold)."
        )
    if job.on_invalid != "fail" or job.engine != "mapInArrow":
        raise InvalidInputError(
            f"a series bundle scores with on_invalid='fail' and engine='mapInArrow' (got {job.on_invalid!r}, "
            f"{job.engine!r}): a step with a missing value leaves holes in W windows; drop or fill such rows first."
        )


def _check_order_columns(fields: dict[str, Any], key: str | None, time: str, features: list[str]) -> None:
    """``key`` and ``time`` are columns of the DataFrame, not features; ``time`` is a number, date or timestamp."""
    for what, name in (("key", key), ("time", time)):
        if name is None:
            continue
        if name not in fields:
            raise InvalidInputError(
                f"{what} column {name!r} is not in the DataFrame (columns: {', '.join(map(repr, fields))}); "
                f"pass one of its columns as {what}=."
            )
        if name in features:
            raise InvalidInputError(
                f"{what} column {name!r} is also a feature column; the {what} only groups or orders the steps: "
                "pass the bundle's feature columns in features=."
            )
    if key == time:
        raise InvalidInputError(f"key and time name the same column {time!r}; pass two different columns.")
    t = fields[time].dataType
    if t.typeName() not in TIME_TYPES:
        raise InvalidInputError(
            f"time column {time!r} has type {t.simpleString()}, but the steps are ordered by a number, a date or a "
            f"timestamp; cast it first, e.g. F.to_timestamp({time!r})."
        )


def _index(name: str | None, names: list[str], exprs: list[Any], hidden: str) -> int | None:
    """The Arrow index of column ``name`` (appended as ``hidden`` when it is not passed through)."""
    from pyspark.sql import functions as F

    if name is None:
        return None
    if name in names:
        return names.index(name)
    exprs.append(F.col(quote(name)).alias(hidden))
    names.append(hidden)
    return len(names) - 1


def _out_fields(model: Any, cols: Any, job: Any) -> list[Any]:
    from pyspark.sql.types import IntegerType, StructField

    return [
        *job.out_fields(model, cols),
        StructField("warmup", IntegerType(), True),
        StructField("alarm", IntegerType()),
    ]


def series_frame(df: Any, model: Any, features: Any, job: Any, spec: BundleSpec) -> Any:
    """The lazy DataFrame of ``aeruntime.spark.score`` on a series bundle (``job``: the score call's settings)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    _check_options(model, job)
    window, width = (int(d) for d in model.input_shape)
    cols, array_input = resolve_features(df, model, features, shape=(width,))
    fields = {f.name: f for f in df.schema.fields}
    _check_order_columns(fields, job.key, job.time, cols)
    keep_cols = keep_columns(df, job.keep)
    new_fields = _out_fields(model, cols, job)
    check_new_columns(new_fields, keep_cols)
    exprs, names, feat_idx, packed = layout(keep_cols, cols, array_input, fields)
    key_idx = _index(job.key, names, exprs, _KEY)
    time_idx = _index(job.time, names, exprs, _TIME)
    reader = Plan(
        spec=spec,
        op="score",
        keep=tuple(range(len(keep_cols))),
        features=feat_idx,
        array_input=array_input or packed,
        packed=packed,
        labels=tuple(cols),
        context=tuple(i for i in (key_idx, time_idx) if i is not None),
        names=tuple(names),
        out_names=tuple(f.name for f in new_fields),
        row_shape=(width,),
        out_width=0,
        output="array",
        batch_size=1,
        threshold=float(model.threshold),
        on_invalid="fail",
        report=job.report,
    )
    alarm = model.series["alarm"]
    plan = SeriesPlan(reader, key_idx, time_idx, job.key, job.time, window, (alarm["k"], alarm["n"], alarm["hold_off"]))
    selected = df.select(*exprs)
    order = [F.col(quote(names[i])) for i in (key_idx, time_idx) if i is not None]
    grouped = selected.repartition(order[0]) if job.key is not None else selected.repartition(1)
    return grouped.sortWithinPartitions(*order).mapInArrow(
        plan, StructType([fields[c] for c in keep_cols] + new_fields)
    )


# ---------------------------------------------------------------------------- task side
@dataclass
class _Series:
    """The series of one key being scored in this task."""

    key: Any
    scorer: WindowScorer
    rule: AlarmRule
    last_time: Any = None  # the time of its last row (a repeat across batches is caught too)
    rows: int = field(default=0)


@dataclass
class SeriesPlan:
    """The mapInArrow function of a series bundle: batches in (key, time) order -> one output row per row."""

    reader: Plan  # reads a batch's (n, C) features, names bad cells; its keep/names/threshold/report are the job's
    key: int | None  # Arrow index of the key column (None: the whole partition is one series)
    time: int  # Arrow index of the time column
    key_name: str | None
    time_name: str
    window: int
    alarm: tuple[int, int, int]  # k, n, hold_off
    _current: _Series | None = None

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        import os
        import socket

        task = replace(self, _current=None)  # a task's state, never the plan's (a worker may run several tasks)
        model, loaded = worker_model(self.reader.spec)
        rep = self.reader.report
        if rep is not None:
            rep.add_task(loaded, str(model.path), self.reader.spec.threads, f"{socket.gethostname()}:{os.getpid()}")
        offset = 0
        for batch in batches:
            if not batch.num_rows:
                continue
            out, n_anom = task._batch(model, batch, offset)
            offset += batch.num_rows
            if rep is not None:
                rep.add_batch(batch.num_rows, 0, n_anom)
            yield out
        task._finish()

    def _name(self, key: Any) -> str:
        return f"key {key!r} ({self.key_name!r})" if self.key_name is not None else "the series"

    def _finish(self) -> None:
        cur = self._current
        if cur is not None and cur.rows < self.window:
            raise InvalidInputError(
                f"{self._name(cur.key)} has {cur.rows} rows, fewer than the bundle's window of {self.window} rows; "
                f"a series needs at least one full window: drop the keys with fewer than {self.window} rows first."
            )

    def _starts(self, batch: Any) -> tuple[list[int], np.ndarray]:
        """(rows where a key's run begins in this batch, True where row i repeats the time of row i-1 of its key)."""
        import pyarrow.compute as pc

        n = batch.num_rows
        same = np.ones(n, bool)  # row i has the key of row i-1
        if self.key is not None:
            codes = pc.dictionary_encode(batch.column(self.key), null_encoding="encode").indices
            codes = codes.to_numpy(zero_copy_only=False)
            same[1:] = codes[1:] == codes[:-1]
        cur = self._current
        same[0] = cur is not None and (self.key is None or batch.column(self.key)[0].as_py() == cur.key)
        times = batch.column(self.time)
        if times.null_count:
            r = int(np.flatnonzero(~times.is_valid().to_numpy(zero_copy_only=False))[0])
            key = batch.column(self.key)[r].as_py() if self.key is not None else None
            raise InvalidInputError(
                f"{self._name(key)} has a null time ({self.time_name!r}); every step needs its time: drop or fill "
                "those rows first."
            )
        repeat = np.zeros(n, bool)
        repeat[1:] = pc.fill_null(pc.equal(times.slice(1), times.slice(0, n - 1)), False).to_numpy(zero_copy_only=False)
        repeat[0] = bool(same[0]) and times[0].as_py() == cur.last_time
        return [int(i) for i in np.flatnonzero(~same)], repeat & same

    def _batch(self, model: Any, batch: Any, offset: int) -> tuple[Any, int]:
        import pyarrow as pa

        reader, n = self.reader, batch.num_rows
        x = reader._matrix(batch, offset)
        bad = nonfinite_rows(x)
        if bad is not None:
            try:
                reader._raise_bad(batch, x, bad, offset)
            except InvalidInputError as exc:  # on_invalid='null' is no way out here
                text = str(exc).replace(", or on_invalid='null' to give those rows null outputs", "")
                raise InvalidInputError(f"{text} (on_invalid='null' does not apply to series bundles)") from None
        starts, repeat = self._starts(batch)
        if repeat.any():
            r = int(np.flatnonzero(repeat)[0])
            key = batch.column(self.key)[r].as_py() if self.key is not None else None
            raise InvalidInputError(
                f"{self._name(key)} has two rows at time {batch.column(self.time)[r].as_py()!r} ({self.time_name!r}); "
                "a step of a series has one row: drop the duplicates first, e.g. "
                f"df.dropDuplicates([{', '.join(repr(c) for c in (self.key_name, self.time_name) if c)}])."
            )
        decide = "p_value" in reader.out_names  # a decision scorer: the per-step p-value too
        scores, p_values = np.empty(n, np.float32), np.empty(n if decide else 0, np.float32)
        alarms = np.empty(n, np.int8)
        bounds = [0, *[s for s in starts if s], n]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if a in starts:
                self._finish()
                key = batch.column(self.key)[a].as_py() if self.key is not None else None
                self._current = _Series(key, WindowScorer(model, self._name(key)), AlarmRule(*self.alarm))
            cur = self._current
            if decide:
                scores[a:b], p_values[a:b] = cur.scorer.decide(x[a:b])
            else:
                scores[a:b] = cur.scorer.score(x[a:b])
            labels = np.where(np.isnan(scores[a:b]), 0, scores[a:b] > reader.threshold).astype(np.int8)
            alarms[a:b] = cur.rule.apply(labels)
            cur.rows += b - a
            cur.last_time = batch.column(self.time)[b - 1].as_py()
        warm = np.isnan(scores)
        labels = (~warm & (scores > reader.threshold)).astype(np.int32)
        arrays = [batch.column(i) for i in reader.keep] + [
            pa.array(scores, type=pa.float32()),
            pa.array(labels, type=pa.int32()),
            *([pa.array(p_values, type=pa.float32())] if decide else []),
            pa.array(warm.astype(np.int32), type=pa.int32()),
            pa.array(alarms.astype(np.int32), type=pa.int32()),
        ]
        names = [reader.names[i] for i in reader.keep] + list(reader.out_names)
        return pa.RecordBatch.from_arrays(arrays, names=names), int(labels.sum())
