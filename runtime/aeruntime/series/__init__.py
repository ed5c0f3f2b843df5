"""Series bundles in the runtime: per-step causal scores, streams and alarms (numpy + onnxruntime).

A series bundle (docs/bundle-format.md, "Series bundles"; manifest checks in
:mod:`aeruntime.format.series`) scores windows ``(W, C)`` of a time series. Here:

- :mod:`.windows`: ``(n, C)`` rows -> ``(n-W+1, W, C)`` windows (a view) and chunked per-step
  scores (row t: the window ending at t; the first W-1 rows are warm-up, score NaN);
- :mod:`.stream`: :class:`SeriesStream` (``model.stream()``), ``push(row)`` / ``push_many(rows)``;
- :mod:`.alarm`: the persistence rule (k of the last n labels, then a hold-off);
- :mod:`aeruntime.jobs.series`: ``aeruntime score`` on a series file, one output row per input row.
"""

from __future__ import annotations

from .alarm import AlarmRule, alarms
from .stream import SeriesStream
from .windows import WindowScorer, score_series, sliding_windows

__all__ = ["AlarmRule", "SeriesStream", "WindowScorer", "alarms", "score_series", "sliding_windows"]
