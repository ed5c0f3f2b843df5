"""The alarm (persistence) rule on per-step labels: the one implementation in Python.

Rule (docs/bundle-format.md, "Series bundles"; the manifest's ``series.alarm``): an alarm is
raised at step t when at least ``k`` of the labels of steps ``t-n+1 .. t`` are 1 (steps before
the first count as 0, warm-up steps have label 0), and no alarm was raised at steps
``t-hold_off .. t-1``. ``k = n = 1, hold_off = 0``: the alarm is the label.

:class:`AlarmRule` is stateful so that a series scored in chunks, or pushed row by row,
gives the same alarms as in one piece: it carries the last ``n-1`` labels and the steps left
in the hold-off.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["AlarmRule", "alarms"]


class AlarmRule:
    """``k`` of the last ``n`` labels, then ``hold_off`` quiet steps; :meth:`apply` chunk after chunk."""

    def __init__(self, k: int = 1, n: int = 1, hold_off: int = 0) -> None:
        if not 1 <= k <= n or hold_off < 0:
            raise ValueError(f"alarm rule needs 1 <= k <= n and hold_off >= 0, got k={k}, n={n}, hold_off={hold_off}")
        self.k, self.n, self.hold_off = int(k), int(n), int(hold_off)
        self._tail = np.zeros(self.n - 1, dtype=np.int64)  # labels of the last n-1 steps, oldest first
        self._quiet = 0  # steps at the start of the next chunk that are still in a hold-off

    @classmethod
    def from_manifest(cls, series: dict[str, Any]) -> AlarmRule:
        """The rule of a manifest's ``series`` section."""
        a = series["alarm"]
        return cls(a["k"], a["n"], a["hold_off"])

    def apply(self, labels: Any) -> np.ndarray:
        """Alarms (m,) int8 for the next ``m`` per-step labels (m,) of 0/1, continuing the previous chunk."""
        lab = np.asarray(labels).astype(np.int64, copy=False).reshape(-1)
        m = len(lab)
        ext = np.concatenate([self._tail, lab])
        csum = np.concatenate([[0], np.cumsum(ext)])
        counts = csum[self.n :] - csum[:m]  # labels in the n steps ending at each new step
        out = np.zeros(m, dtype=np.int8)
        hits = np.flatnonzero(counts >= self.k)
        if self.hold_off == 0:
            out[hits[hits >= self._quiet]] = 1
            next_free = self._quiet
        else:
            next_free = self._quiet  # first index of this chunk at which an alarm may be raised
            for i in hits[hits >= self._quiet]:  # candidates only: sparse where anomalies are rare
                if i >= next_free:
                    out[i] = 1
                    next_free = i + self.hold_off + 1
        self._quiet = max(next_free - m, 0)
        if self.n > 1:
            self._tail = ext[len(ext) - (self.n - 1) :].copy()
        return out


def alarms(labels: Any, k: int = 1, n: int = 1, hold_off: int = 0) -> np.ndarray:
    """The alarms (m,) int8 of a whole series of per-step labels (m,) (one :class:`AlarmRule` pass)."""
    return AlarmRule(k, n, hold_off).apply(labels)
