"""Per-step causal scores: row t gets the score of the window of W rows ending at t.

- :func:`sliding_windows`: ``(n, C)`` rows -> ``(n-W+1, W, C)`` windows, a strided view
  (no copy; a batch of windows is copied once, when it is fed to onnxruntime);
- :class:`WindowScorer`: scores a long series chunk after chunk, carrying the last W-1 rows,
  so a window that spans two chunks is scored exactly as in one piece. Rows in = rows out:
  the first W-1 rows of the series are warm-up (score NaN; their label is 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..validation import check_finite

__all__ = ["WindowScorer", "score_series", "sliding_windows"]

#: input bytes per onnxruntime call (as Model.score: the intermediates stay in cache)
_FEED_BYTES = 4 << 20


def sliding_windows(rows: np.ndarray, window: int) -> np.ndarray:
    """``(n, C)`` -> ``(n - window + 1, window, C)``: every window of ``window`` consecutive rows (a view)."""
    if rows.ndim != 2:
        raise InvalidInputError(f"a series is a 2-D array (rows, columns), got shape {rows.shape}.")
    if len(rows) < window:
        return np.empty((0, window, rows.shape[1]), dtype=rows.dtype)
    return np.lib.stride_tricks.sliding_window_view(rows, window, axis=0).transpose(0, 2, 1)


class WindowScorer:
    """Chunked per-step scores of one series with ``model`` (a series bundle: input shape ``(W, C)``).

    Call :meth:`score` with consecutive chunks of rows; each returns one float32 score per row,
    NaN for the warm-up rows (the first W-1 rows of the series).
    """

    def __init__(self, model: Any, name: str = "series") -> None:
        self.model = model
        self.window, self.columns = (int(d) for d in model.input_shape)
        self.name = name
        self.rows = 0  # rows scored so far
        self._carry = np.empty((0, self.columns), dtype=np.float32)  # the last <= W-1 rows
        self._feed = max(1, _FEED_BYTES // (4 * self.window * self.columns))

    def score(self, rows: Any) -> np.ndarray:
        """Scores (m,) float32 of the next ``m`` rows ``(m, C)`` of the series (NaN: warm-up).

        Raises :class:`InvalidInputError` naming the row (counted from the series' first row)
        for a wrong width or a NaN/Inf; the scorer's state is then unchanged.
        """
        return self._steps(rows, lambda w: (self.model.score(w),))[0]

    def decide(self, rows: Any) -> tuple[np.ndarray, np.ndarray]:
        """``score`` and ``p_value`` (m,) float32 each of the next ``m`` rows, both NaN in the warm-up: the
        decision scorer's outputs (:meth:`aeruntime.Model.decide`) on the window ending at each row."""
        return self._steps(rows, lambda w: self.model.decide(w)[::2])  # type: ignore[return-value]

    def _steps(self, rows: Any, run: Any) -> tuple[np.ndarray, ...]:
        """The outputs of ``run`` (a batch of windows -> a tuple of (batch,) arrays) per row, NaN in the warm-up."""
        x = np.asarray(rows, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.columns:
            raise InvalidInputError(
                f"{self.name}: rows from {self.rows} have shape {x.shape}, expected (rows, {self.columns}): "
                f"the bundle's windows are {self.window} rows of {self.columns} columns; pass those columns."
            )
        check_finite(x, self.name, start=self.rows)
        ext = np.concatenate([self._carry, x]) if len(self._carry) else x
        win = sliding_windows(ext, self.window)
        outs: list[np.ndarray] = []
        first = len(x) - len(win)  # rows of this chunk still in warm-up
        for i in range(0, len(win), self._feed):
            got = run(np.ascontiguousarray(win[i : i + self._feed]))
            outs = outs or [np.full(len(x), np.nan, dtype=np.float32) for _ in got]
            for out, values in zip(outs, got, strict=True):
                out[first + i : first + i + self._feed] = values
        self._carry = ext[max(len(ext) - (self.window - 1), 0) :].copy()
        self.rows += len(x)
        if not outs:  # every row of the chunk is warm-up
            outs = [np.full(len(x), np.nan, dtype=np.float32) for _ in range(2)]
        return tuple(outs)


def score_series(model: Any, rows: Any, chunk_rows: int = 65536) -> np.ndarray:
    """Per-step scores (n,) float32 of a whole series ``(n, C)``: NaN for the first W-1 rows (warm-up)."""
    x = np.asarray(rows)
    scorer = WindowScorer(model)
    if len(x) == 0:
        return np.empty(0, dtype=np.float32)
    return np.concatenate([scorer.score(x[i : i + chunk_rows]) for i in range(0, len(x), chunk_rows)])
