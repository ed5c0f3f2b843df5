"""Threshold calibration on held-out scores.

Scores are higher = more anomalous; a row is flagged when ``score > threshold``.
The default puts the threshold at the 95th percentile of held-out *normal*
rows' scores, so about 5% of normal rows are flagged (a false-positive rate of
~5%). The methods (:data:`CALIBRATORS`):

- ``percentile`` (param ``percentile``, default 95): that percentile of the scores;
- ``contamination`` (param ``contamination``, default 0.05): the share of the
  calibration rows expected to be anomalous, flagged as such (PyOD's
  ``contamination``; the rows may contain anomalies);
- ``target_fpr`` (param ``fpr``, default 0.05): on *clean* normal rows, the
  smallest threshold whose empirical false-positive rate is at most ``fpr``;
- ``f1`` (needs labels, 1 = anomaly): the threshold that maximizes F1 on the
  labelled calibration rows.

Every method returns the manifest's ``threshold`` section: ``value``,
``method``, ``params``, ``calibration_rows`` and ``stats`` of the scores;
``percentile`` and ``target_fpr`` also the ``expected_false_positive_rate_interval``
(:func:`fpr_interval`): where the false-positive rate on unseen normal rows lies,
given how few rows set the threshold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aeruntime.errors import InvalidInputError, check_choice

from ..data import as_binary_labels
from ..settings import DEFAULT_PERCENTILE

__all__ = ["CALIBRATORS", "FPR_INTERVAL_LEVEL", "calibrate", "calibrate_threshold", "fpr_interval", "score_stats"]

#: probability that the false-positive rate on unseen normal rows lies in the stored interval
FPR_INTERVAL_LEVEL = 0.9


def fpr_interval(n: int, position: float, level: float = FPR_INTERVAL_LEVEL) -> dict[str, float]:
    """Interval of the false-positive rate of a threshold at order statistic ``position`` of ``n`` scores.

    ``position`` is 1-based and may be fractional (``np.percentile`` interpolates between the order
    statistics ``floor`` and ``ceil`` of it). For continuous scores of normal rows the share of the
    normal distribution above order statistic k is Beta(n - k + 1, k) distributed, exactly; the
    interval runs from that share's ``(1 - level) / 2`` quantile for k = ceil(position) to its
    ``(1 + level) / 2`` quantile for k = floor(position), so it holds at least ``level`` of the
    chance. It says how far the FPR on unseen normal rows may land from the nominal rate by the
    luck of which rows were held out (not whether those rows are like the unseen ones).
    """
    from scipy.stats import beta

    lo_k = min(n, max(1, math.ceil(position - 1e-9)))
    hi_k = min(n, max(1, math.floor(position + 1e-9)))
    return {
        "level": float(level),
        "low": float(beta.ppf((1 - level) / 2, n - lo_k + 1, lo_k)),
        "high": float(beta.ppf((1 + level) / 2, n - hi_k + 1, hi_k)),
    }


def score_stats(scores: np.ndarray) -> dict[str, float]:
    """Summary statistics of a score sample, stored next to the threshold."""
    s = np.asarray(scores, dtype=np.float64)
    q = np.percentile(s, [50, 90, 95, 99])
    return {
        "n": int(s.size),
        "mean": float(s.mean()),
        "std": float(s.std()),
        "min": float(s.min()),
        "p50": float(q[0]),
        "p90": float(q[1]),
        "p95": float(q[2]),
        "p99": float(q[3]),
        "max": float(s.max()),
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
        "expected_false_positive_rate_interval": fpr_interval(s.size, (s.size - 1) * percentile / 100.0 + 1),
        "calibration_rows": int(s.size),
        "stats": score_stats(s),
    }


def _finite_scores(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if s.size == 0 or not np.isfinite(s).all():
        raise InvalidInputError(
            f"threshold calibration needs finite held-out scores, got {s.size} values "
            f"({int((~np.isfinite(s)).sum())} non-finite)."
        )
    return s


def _section(value: float, method: str, params: dict[str, float], s: np.ndarray, **extra: Any) -> dict[str, Any]:
    return {
        "value": float(value),
        "method": method,
        "params": params,
        **extra,
        "calibration_rows": int(s.size),
        "stats": score_stats(s),
    }


def _contamination(scores: np.ndarray, contamination: float = 0.05, y: Any = None) -> dict[str, Any]:
    s = _finite_scores(scores)
    if not 0.0 < contamination < 0.5:
        raise InvalidInputError(f"contamination must be in (0, 0.5), got {contamination}.")
    value = float(np.quantile(s, 1.0 - contamination))
    return _section(
        value, "contamination", {"contamination": float(contamination)}, s, flagged_share=float((s > value).mean())
    )


def _target_fpr(scores: np.ndarray, fpr: float = 0.05, y: Any = None) -> dict[str, Any]:
    s = _finite_scores(scores)
    if not 0.0 < fpr < 1.0:
        raise InvalidInputError(f"target false-positive rate must be in (0, 1), got {fpr}.")
    # "higher": the threshold is one of the scores, so at most fpr * n rows lie strictly above it.
    value = float(np.quantile(s, 1.0 - fpr, method="higher"))
    return _section(
        value,
        "target_fpr",
        {"fpr": float(fpr)},
        s,
        expected_false_positive_rate=float(fpr),
        expected_false_positive_rate_interval=fpr_interval(s.size, math.ceil((s.size - 1) * (1.0 - fpr)) + 1),
        calibration_false_positive_rate=float((s > value).mean()),
    )


def _f1(scores: np.ndarray, param: Any = None, y: Any = None) -> dict[str, Any]:
    from sklearn.metrics import precision_recall_curve

    s = _finite_scores(scores)
    if y is None:
        raise InvalidInputError(
            "threshold method 'f1' needs labels (1 = anomaly) for the calibration rows; "
            "pass calibration_y, or use percentile / contamination / target_fpr."
        )
    labels = as_binary_labels(y, s.size, "calibration labels")
    if labels.min() == labels.max():
        raise InvalidInputError(
            "threshold method 'f1' needs both normal (0) and anomalous (1) calibration rows, "
            f"got only class {int(labels[0])}."
        )
    precision, recall, thresholds = precision_recall_curve(labels, s)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-300)
    best = int(np.argmax(f1))
    t = thresholds[best]  # sklearn flags score >= t; we flag score > value: step just below t
    below = s[s < t]
    value = float((below.max() + t) / 2.0) if below.size else float(np.nextafter(t, -np.inf))
    return _section(
        value, "f1", {}, s, f1=float(f1[best]), precision=float(precision[best]), recall=float(recall[best])
    )


def _percentile(scores: np.ndarray, percentile: float = DEFAULT_PERCENTILE, y: Any = None) -> dict[str, Any]:
    return calibrate_threshold(scores, percentile)


#: method name -> function(scores, param, y=labels) returning the manifest's threshold section
CALIBRATORS: dict[str, Any] = {
    "percentile": _percentile,
    "contamination": _contamination,
    "target_fpr": _target_fpr,
    "f1": _f1,
}


def calibrate(
    scores: np.ndarray, method: str = "percentile", param: float | None = None, y: np.ndarray | None = None
) -> dict[str, Any]:
    """Calibrate a threshold on held-out ``scores`` (n,) with ``method`` (see :data:`CALIBRATORS`).

    Parameters
    ----------
    scores : ndarray of shape (n_rows,)
        Held-out scores, higher = more anomalous.
    method : str
        ``percentile``, ``contamination``, ``target_fpr`` or ``f1``.
    param : float, optional
        The method's parameter (percentile, contamination share, target FPR); ``None``
        for its default. ``f1`` takes none.
    y : ndarray of shape (n_rows,), optional
        0/1 labels (1 = anomaly); required by ``f1``.
    """
    check_choice("threshold method", method, sorted(CALIBRATORS))
    fn = CALIBRATORS[method]
    return fn(scores, y=y) if param is None else fn(scores, param, y=y)
