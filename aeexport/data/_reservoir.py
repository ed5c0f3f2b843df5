"""A seeded uniform sample of at most N rows in one streaming pass (``--max-rows``).

Reservoir sampling by random keys: every row seen draws a key ``u ~ U(0, 1)`` from
``numpy.random.default_rng(seed)`` (one draw per row, in file order), and the sample is the
rows with the N smallest keys, a uniform sample without replacement of all rows seen. After
each chunk only the N smallest are kept, so memory is N rows plus one chunk, whatever the
file's size. With labels the sample is stratified: one reservoir per label value, and at the
end each class keeps its share of N in proportion to the rows of it seen (largest remainders),
its rows again those with the smallest keys (memory: at most N rows per class; the share rule is
:func:`quotas`, which the Spark sample, :mod:`aeexport.data`, uses too). The rows kept are
returned in file order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Reservoir", "SampleInfo", "quotas"]

#: how :class:`Reservoir` draws its sample (``SampleInfo.method``)
RESERVOIR_METHOD = "reservoir (random keys), uniform without replacement"


@dataclass
class SampleInfo:
    """Provenance of a sample: written into the checkpoint's and the bundle's training section.

    ``source``: where the rows were sampled ("file": :class:`Reservoir` over a file; "spark":
    :func:`aeexport.data.sample`), ``method``: how.
    """

    rows_seen: int
    rows_kept: int
    seed: int
    stratified: bool
    max_rows: int
    source: str = "file"
    method: str = RESERVOIR_METHOD

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_rows": self.max_rows,
            "rows_seen": self.rows_seen,
            "rows_kept": self.rows_kept,
            "seed": self.seed,
            "stratified": self.stratified,
            "source": self.source,
            "method": self.method,
        }


def quotas(seen: Mapping[Any, int], max_rows: int) -> dict[Any, int]:
    """Rows kept per class of a stratified sample: ``max_rows`` shared in proportion to the rows ``seen``
    of each class (largest remainders, ties by the class's name); every row when there are at most ``max_rows``."""
    total = sum(seen.values())
    if total <= max_rows:
        return dict(seen)
    exact = {c: max_rows * s / total for c, s in seen.items()}
    quota = {c: int(e) for c, e in exact.items()}
    by_remainder = sorted(exact, key=lambda c: (quota[c] - exact[c], str(c)))
    for c in by_remainder[: max_rows - sum(quota.values())]:
        quota[c] += 1
    return quota


@dataclass
class _Pool:
    """The rows with the smallest keys so far: keys (k,), file positions (k,), rows (k, *row_shape)."""

    keys: np.ndarray
    pos: np.ndarray
    x: np.ndarray
    y: np.ndarray | None
    seen: int = 0

    def merge(self, keys: np.ndarray, pos: np.ndarray, x: np.ndarray, y: np.ndarray | None, cap: int) -> None:
        self.seen += len(keys)
        keys, pos = np.concatenate([self.keys, keys]), np.concatenate([self.pos, pos])
        x = np.concatenate([self.x, x])
        y = None if y is None or self.y is None else np.concatenate([self.y, y])
        if len(keys) > cap:
            keep = np.argpartition(keys, cap - 1)[:cap]
            keys, pos, x = keys[keep], pos[keep], x[keep]
            y = None if y is None else y[keep]
        self.keys, self.pos, self.x, self.y = keys, pos, x, y

    def smallest(self, k: int) -> np.ndarray:
        """Indices of the ``k`` smallest keys."""
        return np.argsort(self.keys, kind="stable")[:k]


@dataclass
class Reservoir:
    """Feed chunks with :meth:`add` (rows (n, *row_shape), labels (n,) or None); :meth:`result` gives the sample."""

    max_rows: int
    seed: int
    stratified: bool = False
    _rng: np.random.Generator = field(init=False, repr=False)
    _pools: dict[Any, _Pool] = field(default_factory=dict, init=False, repr=False)
    _seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def add(self, x: np.ndarray, y: np.ndarray | None = None) -> None:
        keys = self._rng.random(len(x))
        pos = np.arange(self._seen, self._seen + len(x))
        self._seen += len(x)
        if not self.stratified or y is None:
            self._pool(None, x, y).merge(keys, pos, x, y, self.max_rows)
            return
        for label in np.unique(y):
            m = y == label
            self._pool(label.item(), x, y).merge(keys[m], pos[m], x[m], y[m], self.max_rows)

    @property
    def rows_seen(self) -> int:
        return self._seen

    def _pool(self, label: Any, x: np.ndarray, y: np.ndarray | None) -> _Pool:
        if label not in self._pools:
            empty_y = None if y is None else y[:0]
            self._pools[label] = _Pool(np.empty(0), np.empty(0, np.int64), x[:0], empty_y)
        return self._pools[label]

    def result(self) -> tuple[np.ndarray, np.ndarray | None, SampleInfo]:
        """The sample in file order: rows (k, *row_shape), labels (k,) or None, and its provenance."""
        quota = quotas({c: p.seen for c, p in self._pools.items()}, self.max_rows)
        picks = [(p, p.smallest(quota[c])) for c, p in self._pools.items()]
        pos = np.concatenate([p.pos[i] for p, i in picks])
        order = np.argsort(pos, kind="stable")
        x = np.concatenate([p.x[i] for p, i in picks])[order]
        labelled = all(p.y is not None for p, _ in picks)
        y = np.concatenate([p.y[i] for p, i in picks])[order] if labelled else None
        info = SampleInfo(self._seen, len(x), self.seed, self.stratified and labelled, self.max_rows)
        return x, y, info
