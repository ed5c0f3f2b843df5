"""The alarm (persistence) rule on per-step labels: the one implementation in Python.

Rule (docs/bundle-format.md, "Series bundles"; the manifest's ``series.alarm``): an alarm is
raised at step t when at least ``k`` of the labels of steps ``t-n+1 .. t`` are 1 (steps before
the first count as 0, warm-up steps have label 0), and no alarm was raised at steps
``t-hold_off .. t-1``. ``k = n = 1, hold_off = 0``: the alarm is the label.

:class:`AlarmRule` is a small state machine (the last ``n`` labels in a ring, their count,
the steps left in the hold-off): :meth:`AlarmRule.step` takes one label, :meth:`AlarmRule.apply`
a chunk (one ``step`` per label), so a series scored in chunks, or pushed row by row, gives
the same alarms as in one piece.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["AlarmRule", "alarms"]


class AlarmRule:
    """``k`` of the last ``n`` labels, then ``hold_off`` quiet steps; :meth:`step` one label at a time."""

    __slots__ = ("_count", "_pos", "_quiet", "_ring", "hold_off", "k", "n")

    def __init__(self, k: int = 1, n: int = 1, hold_off: int = 0) -> None:
        if not 1 <= k <= n or hold_off < 0:
            raise ValueError(f"alarm rule needs 1 <= k <= n and hold_off >= 0, got k={k}, n={n}, hold_off={hold_off}")
        self.k, self.n, self.hold_off = int(k), int(n), int(hold_off)
        self._ring = [0] * self.n  # the labels of the last n steps
        self._pos = 0  # where the next label goes in the ring
        self._count = 0  # sum of the ring
        self._quiet = 0  # steps left in the hold-off after the last alarm

    @classmethod
    def from_manifest(cls, series: dict[str, Any]) -> AlarmRule:
        """The rule of a manifest's ``series`` section."""
        a = series["alarm"]
        return cls(a["k"], a["n"], a["hold_off"])

    def step(self, label: int) -> int:
        """The alarm (0 or 1) of the next step, whose label is ``label`` (0 or 1)."""
        ring, pos = self._ring, self._pos
        self._count += label - ring[pos]
        ring[pos] = label
        self._pos = pos + 1 if pos + 1 < self.n else 0
        if self._quiet:
            self._quiet -= 1
            return 0
        if self._count >= self.k:
            self._quiet = self.hold_off
            return 1
        return 0

    def apply(self, labels: Any) -> np.ndarray:
        """Alarms (m,) int8 of the next ``m`` per-step labels (m,) of 0/1, continuing the previous chunk."""
        step = self.step
        flat = np.asarray(labels).reshape(-1)
        return np.fromiter((step(v) for v in flat.astype(np.int64).tolist()), dtype=np.int8, count=len(flat))


def alarms(labels: Any, k: int = 1, n: int = 1, hold_off: int = 0) -> np.ndarray:
    """The alarms (m,) int8 of a whole series of per-step labels (m,) (one :class:`AlarmRule` pass)."""
    return AlarmRule(k, n, hold_off).apply(labels)
