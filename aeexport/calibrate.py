"""Threshold calibration on held-out scores.

Scores are higher = more anomalous. The default puts the threshold at the
95th percentile of held-out *normal* rows' scores, so about 5% of normal rows
are flagged (a false-positive rate of ~5%).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from aeruntime.errors import InvalidInputError

__all__ = ["DEFAULT_PERCENTILE", "calibrate_threshold", "score_stats"]

#: default percentile of held-out normal scores used as the threshold
DEFAULT_PERCENTILE = 95.0


def score_stats(scores: np.ndarray) -> dict[str, float]:
    """Summary statistics of a score sample, stored next to the threshold."""
    s = np.asarray(scores, dtype=np.float64)
    q = np.percentile(s, [50, 90, 95, 99])
    return {
        "n": int(s.size), "mean": float(s.mean()), "std": float(s.std()), "min": float(s.min()),
        "p50": float(q[0]), "p90": float(q[1]), "p95": float(q[2]), "p99": float(q[3]), "max": float(s.max()),
    }


def calibrate_threshold(scores: np.ndarray, percentile: float = DEFAULT_PERCENTILE) -> dict[str, Any]:
    """Threshold at ``percentile`` of held-out normal ``scores`` (n,).

    Returns the manifest's ``threshold`` section: value, method, params, stats.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if s.size == 0 or not np.isfinite(s).all():
        raise InvalidInputError(
            f"threshold calibration needs finite held-out scores, got {s.size} values "
            f"({int((~np.isfinite(s)).sum())} non-finite)."
        )
    if not 0.0 < percentile < 100.0:
        raise InvalidInputError(f"percentile must be in (0, 100), got {percentile}.")
    value = float(np.percentile(s, percentile))
    return {
        "value": value,
        "method": "percentile",
        "params": {"percentile": float(percentile)},
        "expected_false_positive_rate": round(1.0 - percentile / 100.0, 6),
        "calibration_rows": int(s.size),
        "stats": score_stats(s),
    }
