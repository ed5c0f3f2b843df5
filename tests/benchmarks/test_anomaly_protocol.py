"""Issue 23: the two-half protocol of benchmarks/anomaly.py (fixed, disjoint, covering, seeded halves;
the choice made on one half and measured on the other)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def anomaly(bench_import):
    return bench_import("anomaly")


SETS = [f"{i}_set{i}" for i in range(1, 25)]


def test_halves_are_fixed_disjoint_covering_and_seeded(anomaly):
    a, b = anomaly.halves(SETS)
    assert len(a) == len(b) == 12
    assert set(a).isdisjoint(b) and sorted(a + b) == sorted(SETS)
    assert anomaly.halves(list(reversed(SETS))) == (a, b)  # fixed: the input order does not matter
    assert anomaly.halves(SETS, seed=anomaly.HALVES_SEED) == (a, b)
    # the recorded seed's permutation of the sorted names, computed independently
    names = sorted(SETS)
    order = np.random.default_rng(anomaly.HALVES_SEED).permutation(24)
    assert a == sorted(names[i] for i in order[:12])
    other = anomaly.halves(SETS, seed=anomaly.HALVES_SEED + 1)
    assert other != (a, b) and set(other[0]) | set(other[1]) == set(SETS)
    assert [len(h) for h in anomaly.halves(SETS[:5])] == [2, 3]


def _recs(means: dict[str, dict[str, float]]) -> list[dict]:
    """Records of two seeds per (detector, set) whose mean is ``means[detector][set]``."""
    return [
        {"dataset": s, "detector": d, "seed": seed, "roc_auc": m + (0.01 if seed else -0.01), "nonfinite": 0}
        for d, per in means.items()
        for s, m in per.items()
        for seed in (0, 1)
    ]


def test_cross_check_chooses_on_one_half_and_measures_on_the_other(anomaly):
    a, b = anomaly.halves(SETS)
    # ae-v3 is best on half A but poor on B; ae is best on B: each direction picks its own winner
    means = {
        "ae": {**{s: 0.70 for s in a}, **{s: 0.90 for s in b}},
        "ae-v3": {**{s: 0.80 for s in a}, **{s: 0.60 for s in b}},
        "pyod-IForest": {s: 0.75 for s in SETS},
    }
    text = anomaly.cross_check(_recs(means), 2, ["ae", "ae-v3"], ["pyod-IForest"])
    assert "| ae-v3 | 0.800 | 0.600 |" in text and "| ae | 0.700 | 0.900 |" in text
    assert "| A | ae-v3 | 0.800 | B | 0.600 | 0.750 | no |" in text
    assert "| B | ae | 0.900 | A | 0.700 | 0.750 | no |" in text
    means["ae-v3"] = {s: 0.85 for s in SETS}  # best on both halves and above IForest on both held-out halves
    text = anomaly.cross_check(_recs(means), 2, ["ae", "ae-v3"], ["pyod-IForest", "ae"])
    assert "| A | ae-v3 | 0.850 | B | 0.850 | 0.750 | 0.900 | no |" in text  # loses to ae on B
    assert "| B | ae | 0.900 | A | 0.700 | 0.750 | 0.700 | no |" in text
    # a detector missing a seed on a set has no half mean there
    recs = [r for r in _recs(means) if not (r["detector"] == "ae" and r["dataset"] == a[0] and r["seed"] == 1)]
    assert "| ae | - | 0.900 |" in anomaly.cross_check(recs, 2, ["ae"], ["pyod-IForest"])
