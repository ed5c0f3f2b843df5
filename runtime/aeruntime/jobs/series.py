"""``aeruntime score BUNDLE series.csv|.npy|.parquet`` for a series bundle: one output row per input row.

The input's rows are the time steps in file order, each of the bundle's C columns (tables are
matched by the bundle's feature names, as for rows; the time column, if any, is not a
feature: it is ignored unless passed through with ``--id-column``). They are read in chunks
of ``batch_size`` rows and scored by a :class:`~aeruntime.series.windows.WindowScorer` that
carries the last W-1 rows, so memory stays flat and a chunk boundary changes nothing. Each
output row holds ``score`` (float32, NaN during the warm-up), ``label`` (int8, 0 during the
warm-up), ``warmup`` (int8, 1 for the first W-1 rows) and ``alarm`` (int8, the manifest's
persistence rule, :mod:`aeruntime.series.alarm`).

A series shorter than the window is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..series.alarm import AlarmRule
from ..series.windows import WindowScorer
from ..tables import open_source
from ..tables.sinks import Field, check_output_path, open_sink
from . import JobResult, progress

__all__ = ["SERIES_FIELDS", "score_series_file"]

#: ``aeruntime score`` output of a series bundle
SERIES_FIELDS = (Field("score", "<f4"), Field("label", "i1"), Field("warmup", "i1"), Field("alarm", "i1"))


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
) -> JobResult:
    """Stream the series in ``input`` through ``model`` into ``out`` (None: CSV on stdout); see the module."""
    check_output_path(out, list(id_columns), inputs=[input])
    window = model.input_shape[0]
    source = open_source(
        input,
        batch_size,
        label_column=label_column,
        row_shape=tuple(model.input_shape[1:]),
        feature_names=model.feature_names,
        id_columns=id_columns,
        read_labels=False,
        header=header,
    )
    scorer, rule = WindowScorer(model, str(input)), AlarmRule.from_manifest(model.manifest["series"])
    pending: list[tuple[Any, ...]] = []  # outputs held until the series is known to reach one window
    alarms = anomalies = 0
    with (
        open_sink(out, SERIES_FIELDS, ids=source.id_types, stdout=stdout) as sink,
        progress(source.total if show_progress else 0, source.unit, "scoring") as bar,
    ):
        for chunk in source:
            if len(chunk):
                scores = scorer.score(chunk.x)
                warm = np.isnan(scores)
                labels = (~warm & (scores > model.threshold)).astype(np.int8)
                alarm = rule.apply(labels)
                alarms += int(alarm.sum())
                anomalies += int(labels.sum())
                pending.append((scores, labels, warm.astype(np.int8), alarm, chunk.ids))
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
    return JobResult(sink.rows, anomalies, source.ignored, source.by_name, model.threshold, {"alarms": alarms})
