"""The time column of a series file: time stamps must strictly increase; irregular gaps are flagged.

Rule (docs/bundle-format.md, "Series bundles", "Time column"): the time column (``aeruntime score
--time-column NAME``, else the bundle's ``series.time_column`` when the file has that column) is
read chunk by chunk beside the features (never a feature). A time stamp equal to or earlier than
the one before is **refused**: :class:`~aeruntime.errors.InvalidInputError` naming the row (counted
from 0, data rows only), nothing written. A step longer than :data:`GAP_FACTOR` times the
*reference step* (the median step of the first chunk) is an **irregular gap**: it is flagged, not
refused (the windows are W rows, whatever time they span): :class:`TimeCheck` counts the gaps and
names the first; ``aeruntime score`` prints one warning line with them.

Time stamps are numbers, or dates/times (ISO 8601 text, or Parquet timestamps), compared as
nanoseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = ["GAP_FACTOR", "TimeCheck", "as_times"]

#: a step longer than this many reference steps is an irregular gap (flagged)
GAP_FACTOR = 1.5


def as_times(values: Any, name: str, start: int) -> np.ndarray:
    """Time stamps (n,): float64 (numbers) or int64 nanoseconds (dates); a typed error otherwise."""
    arr = np.asarray(values.to_numpy(zero_copy_only=False) if hasattr(values, "to_numpy") else values)
    if arr.dtype.kind in "OUS":  # text (CSV pass-through columns): numbers first, then dates
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            pass
    if arr.dtype.kind in "iuf":
        out, missing = arr.astype(np.float64), ~np.isfinite(arr.astype(np.float64))
    else:
        try:
            dates = arr.astype("datetime64[ns]")
        except (ValueError, TypeError):
            first = next((str(v) for v in arr.tolist() if _bad_time(v)), str(arr[0]) if len(arr) else "")
            raise InvalidInputError(
                f"time column {name!r} from row {start}: {first!r} is not a time stamp; expected numbers or "
                f"ISO 8601 dates/times (2026-01-31T12:00:00): fix the column or pass the right --time-column."
            ) from None
        out, missing = dates.astype(np.int64), np.isnat(dates)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InvalidInputError(
            f"time column {name!r}: row {start + i} has no time stamp ({arr[i]!r}); "
            "expected one increasing time stamp per row: fill or drop that row."
        )
    return out


def _bad_time(v: Any) -> bool:
    try:
        np.datetime64(v, "ns")
        return False
    except (ValueError, TypeError):
        return True


class TimeCheck:
    """Chunk by chunk: strictly increasing time stamps (else a typed error naming the row), irregular gaps counted."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows = 0  # rows checked so far
        self.gaps = 0  # irregular gaps seen
        self.first_gap: int | None = None  # row of the first irregular gap
        self.step: float | None = None  # the reference step
        self._last: np.ndarray | None = None  # the last time stamp (1,)

    def check(self, values: Any) -> None:
        """Check the next chunk's time stamps (n,) (numbers, dates or a pyarrow array of them)."""
        t = as_times(values, self.name, self.rows)
        if not len(t):
            return
        ext = t if self._last is None else np.concatenate([self._last, t])
        steps = np.diff(ext)
        back = np.flatnonzero(steps <= 0)
        if len(back):
            i = int(back[0]) + (self.rows if self._last is not None else self.rows + 1)
            what = "repeats" if steps[back[0]] == 0 else "goes back"
            raise InvalidInputError(
                f"time column {self.name!r} {what} at row {i}: expected strictly increasing time stamps "
                f"(one row per step, in time order); sort the file by {self.name!r} or drop the repeated rows."
            )
        if self.step is None and len(steps):
            self.step = float(np.median(steps))
        if self.step is not None:
            gaps = np.flatnonzero(steps > GAP_FACTOR * self.step)
            if len(gaps) and self.first_gap is None:
                self.first_gap = int(gaps[0]) + (self.rows if self._last is not None else self.rows + 1)
            self.gaps += len(gaps)
        self._last = t[-1:]
        self.rows += len(t)

    def warning(self, source: str) -> str | None:
        """One line about the irregular gaps, or None when there were none."""
        if not self.gaps:
            return None
        return (
            f"warning: {source}: {self.gaps} irregular time step(s) in column {self.name!r} (longer than "
            f"{GAP_FACTOR:g}x the median step {self.step:g}), the first at row {self.first_gap}: rows may be "
            "missing there; each window is still W consecutive rows."
        )
