"""``model.stream()``: score a live series one row at a time, in fixed memory.

A :class:`SeriesStream` keeps the last W rows in a ring buffer stored twice over
(``2W`` rows: row i is written at ``i mod W`` and ``i mod W + W``), so the window ending at
the newest row is always one contiguous slice, fed to onnxruntime without a copy (on CPU,
through an IO binding made once per ring offset: a step is one ``run_with_iobinding``, with
no feed dictionary and no output allocation; ``benchmarks/bench_series_stream.py``).

- :meth:`SeriesStream.push` takes one row ``(C,)`` and returns the score of the window that
  ends at it, or None during the warm-up (the first W-1 rows);
- :meth:`SeriesStream.push_many` takes rows ``(m, C)`` and returns their scores ``(m,)``
  (NaN during the warm-up): the same numbers as batch scoring of the same series;
- after each accepted row, :attr:`label` (score > threshold, 0 during the warm-up) and
  :attr:`alarm` (the manifest's persistence rule, :mod:`aeruntime.series.alarm`) describe it.

A refused row (wrong width, NaN or Inf) raises :class:`~aeruntime.errors.InvalidInputError`
naming its index in the stream (rows accepted so far count from 0) and **leaves the stream
unchanged**: the buffer, the row count, the label and the alarm state are those before the
call, so the caller may skip the row or push a corrected one. ``push_many`` is all or
nothing: a batch with one refused row accepts none of its rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..providers import CPU
from ..validation import check_finite
from .alarm import AlarmRule
from .windows import WindowScorer

__all__ = ["SeriesStream"]


class SeriesStream:
    """Stateful per-step scoring of one series with a series bundle (see the module docstring)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.window, self.columns = (int(d) for d in model.input_shape)
        self.rows = 0  # rows accepted so far (the index the next row gets)
        self.label = 0  # label of the last accepted row
        self.alarm = 0  # alarm of the last accepted row
        self._buf = np.zeros((2 * self.window, self.columns), dtype=np.float32)
        self._alarms = AlarmRule.from_manifest(model.manifest["series"])
        self._threshold = model.threshold  # as at stream(): a later change of model.threshold is not seen
        self._row_shape = (self.columns,)
        self._run = model._score_fn  # the scorer session's runner (what model.score calls per chunk)
        self._bound = _BoundWindows(model, self._buf, self.window)  # CPU: one IO binding per ring offset

    def _check(self, x: np.ndarray, shape: tuple[int, ...], what: str) -> None:
        if x.shape != shape:
            raise InvalidInputError(
                f"stream {what} {self.rows} has shape {x.shape}, expected {shape} "
                f"(rows of {self.columns} values); the stream is unchanged: push rows of the bundle's columns."
            )

    def _finite(self, x: np.ndarray) -> None:
        try:
            check_finite(x, "stream", start=self.rows)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{exc} The stream is unchanged: skip the row or push a corrected one.") from None

    def push(self, row: Any) -> float | None:
        """Score of the window ending at ``row`` (C,), or None during the warm-up (the first W-1 rows)."""
        x = np.asarray(row, dtype=np.float32)
        if x.shape != self._row_shape:
            self._check(x, self._row_shape, "row")
        # one dot product (NaN/Inf make it non-finite) spares the element-wise check of every row
        if not math.isfinite(x.dot(x)) and not np.isfinite(x).all():
            self._finite(x[None])
        w, slot = self.window, self.rows % self.window
        buf = self._buf
        buf[slot] = buf[slot + w] = x
        self.rows += 1
        if self.rows < w:
            self.label, self.alarm = 0, self._alarms.step(0)
            return None
        start = self.rows % w  # the window ending at the newest row is buf[start : start + w]
        # the window is float32, contiguous and finite (checked above); on CPU it is bound in place
        bound = self._bound
        score = bound.run(start) if bound.ok else float(self._run(buf[None, start : start + w])[0])
        self.label = label = 1 if score > self._threshold else 0
        self.alarm = self._alarms.step(label)
        return score

    def push_many(self, rows: Any) -> np.ndarray:
        """Scores (m,) float32 of rows (m, C) pushed in order; NaN during the warm-up. All or nothing."""
        x = np.asarray(rows, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.columns:
            self._check(x, (len(x) if x.ndim else 1, self.columns), "rows from")
        self._finite(x)
        if not len(x):
            return np.empty(0, dtype=np.float32)
        scorer = WindowScorer(self.model, "stream")
        scorer.rows, scorer._carry = self.rows, self._history()
        scores = scorer.score(x)
        for i in range(max(len(x) - self.window, 0), len(x)):  # the last W rows into the ring
            slot = (self.rows + i) % self.window
            self._buf[slot] = self._buf[slot + self.window] = x[i]
        self.rows += len(x)
        labels = np.where(np.isnan(scores), 0, scores > self._threshold).astype(np.int8)
        alarms = self._alarms.apply(labels)
        self.label, self.alarm = int(labels[-1]), int(alarms[-1])
        return scores

    def _history(self) -> np.ndarray:
        """The last min(rows, W-1) rows pushed, oldest first (W-1 rows ending at the newest)."""
        keep = min(self.rows, self.window - 1)
        end = (self.rows - 1) % self.window + self.window + 1  # one past the newest row's second copy
        return self._buf[end - keep : end].copy()


class _BoundWindows:
    """The scorer run in place on the ring buffer: one onnxruntime IO binding per offset of the
    window in the doubled ring (made on first use), each binding the (1, W, C) slice of the buffer
    (an OrtValue sharing its memory) and one preallocated (1,) score; a step is then one
    ``run_with_iobinding``, with no feed dictionary, no input copy and no output allocation.
    Only on CPU sessions (``ok`` False otherwise: the model's runner is used)."""

    def __init__(self, model: Any, buf: np.ndarray, window: int) -> None:
        info = model._graphs["scorer"]
        self._sess = model._session("scorer")
        self.ok = self._sess.get_providers() == [CPU]
        self._inp, self._out_name = info["inputs"][0], info["outputs"][0]
        self._buf, self._w = buf, window
        self._out = np.zeros(1, dtype=np.float32)
        self._bindings: list[Any] = [None] * window

    def _bind(self, start: int) -> Any:
        import onnxruntime as ort

        b = self._sess.io_binding()
        view = self._buf[None, start : start + self._w]
        b.bind_ortvalue_input(self._inp, ort.OrtValue.ortvalue_from_numpy(view))
        b.bind_ortvalue_output(self._out_name, ort.OrtValue.ortvalue_from_numpy(self._out))
        self._bindings[start] = b
        return b

    def run(self, start: int) -> float:
        """Score of the window ``buf[start : start + W]``."""
        b = self._bindings[start] or self._bind(start)
        self._sess.run_with_iobinding(b)
        return float(self._out[0])
