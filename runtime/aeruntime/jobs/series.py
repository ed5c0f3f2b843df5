"""``aeruntime score BUNDLE series.csv|.npy|.parquet`` for a series bundle: one output row per input row.

The input's rows are the time steps in file order, each of the bundle's C columns (tables are
matched by the bundle's feature names, as for rows; the time column, if any, is not a
feature: it is ignored unless passed through with ``--id-column``). They are read in chunks
of ``batch_size`` rows and scored by a :class:`~aeruntime.series.windows.WindowScorer` that
carries the last W-1 rows, so memory stays flat and a chunk boundary changes nothing. Each
output row holds ``score`` (float32, NaN during the warm-up), ``label`` (int8, 0 during the
warm-up), for a bundle whose scorer outputs ``p_value`` the conformal ``p_value`` of the step's
window (float32, NaN during the warm-up: the graph's own output, as ``aescore --stream`` and Spark
give it), ``warmup`` (int8, 1 for the first W-1 rows) and ``alarm`` (int8, the manifest's
persistence rule, :mod:`aeruntime.series.alarm`).

A series shorter than the window is refused before anything is written. The time column
(``time_column``, else the bundle's ``series.time_column`` when the table has it) is checked
chunk by chunk (:mod:`aeruntime.series.times`): a time stamp that repeats or goes back is refused
naming the row (nothing is written); irregular gaps are counted (``JobResult.extra["gaps"]``,
``["first_gap_row"]``, ``["gap_warning"]``), not refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..series.alarm import AlarmRule
from ..series.times import TimeCheck
from ..series.windows import WindowScorer
from ..tables import open_source
from ..tables.sinks import Field, check_output_path, open_sink
from . import JobResult, progress

__all__ = ["SERIES_DECISION_FIELDS", "SERIES_FIELDS", "score_series_file"]

#: ``aeruntime score`` output of a series bundle
SERIES_FIELDS = (Field("score", "<f4"), Field("label", "i1"), Field("warmup", "i1"), Field("alarm", "i1"))
#: ... of a series bundle whose scorer outputs ``p_value`` (the column order of Spark and ``aescore --stream``)
SERIES_DECISION_FIELDS = (*SERIES_FIELDS[:2], Field("p_value", "<f4"), *SERIES_FIELDS[2:])


def score_series_file(
    model: Any,
    input: Any,
    out: Any,
    *,
    batch_size: int = 65536,
    label_column: str | None = None,
    id_columns: Sequence[str] = (),
    show_progress: bool = True,
    stdout: Any = None,
    header: bool | None = None,
    time_column: str | None = None,
) -> JobResult:
    """Stream the series in ``input`` through ``model`` into ``out`` (None: CSV on stdout); see the module."""
    check_output_path(out, list(id_columns), inputs=[input])
    window = model.input_shape[0]

    def source_with(ids: Sequence[str]) -> Any:
        return open_source(
            input,
            batch_size,
            label_column=label_column,
            row_shape=tuple(model.input_shape[1:]),
            feature_names=model.feature_names,
            id_columns=ids,
            read_labels=False,
            header=header,
        )

    source, time_name = _time_source(source_with, list(id_columns), time_column, model.series["time_column"])
    times = TimeCheck(time_name) if time_name else None
    scorer, rule = WindowScorer(model, str(input)), AlarmRule.from_manifest(model.manifest["series"])
    decides = model.calibration_size is not None
    fields = SERIES_DECISION_FIELDS if decides else SERIES_FIELDS
    pending: list[tuple[Any, ...]] = []  # outputs held until the series is known to reach one window
    alarms = anomalies = 0
    with (
        open_sink(out, fields, ids=_kept(source.id_types, id_columns), stdout=stdout) as sink,
        progress(source.total if show_progress else 0, source.unit, "scoring") as bar,
    ):
        for chunk in source:
            if len(chunk):
                if times is not None:
                    times.check(chunk.ids[time_name])
                ids = {k: v for k, v in chunk.ids.items() if k in id_columns}
                scores, *p_value = scorer.decide(chunk.x) if decides else (scorer.score(chunk.x),)
                warm = np.isnan(scores)
                labels = (~warm & (scores > model.threshold)).astype(np.int8)
                alarm = rule.apply(labels)
                alarms += int(alarm.sum())
                anomalies += int(labels.sum())
                pending.append((scores, labels, *p_value, warm.astype(np.int8), alarm, ids))
                if scorer.rows >= window:
                    for *arrays, ids in pending:
                        sink.write(*arrays, ids=ids)
                    pending.clear()
            bar.update(chunk.progress)
        if scorer.rows < window:
            raise InvalidInputError(
                f"{input}: the series has {scorer.rows} rows, fewer than the bundle's window of {window} rows; "
                f"expected at least {window} rows (one full window) to score."
            )
    extra: dict[str, Any] = {"alarms": alarms}
    if times is not None:
        extra.update(gaps=times.gaps, first_gap_row=times.first_gap, gap_warning=times.warning(str(input)))
    ignored = [c for c in source.ignored if c != time_name]
    return JobResult(sink.rows, anomalies, ignored, source.by_name, model.threshold, extra)


def _time_source(source_with: Any, ids: list[str], given: str | None, recorded: str | None) -> tuple[Any, str | None]:
    """The source, reading the time column beside the features, and its name (None: no time check).

    ``given`` (``--time-column``) must be in the file; the bundle's ``recorded`` one is checked when
    the file has it (a table whose unused columns include it), else not at all.
    """
    if given is not None:
        return source_with(ids if given in ids else [*ids, given]), given
    source = source_with(ids)
    if recorded is None or (recorded not in source.ignored and recorded not in ids):
        return source, None
    if recorded in ids:
        return source, recorded
    return source_with([*ids, recorded]), recorded


def _kept(id_types: dict[str, Any], id_columns: Sequence[str]) -> dict[str, Any]:
    """The pass-through columns the user asked for (the time column is read for its check only)."""
    return {k: v for k, v in id_types.items() if k in id_columns}
