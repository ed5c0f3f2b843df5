"""Threshold calibration methods on synthetic scores with known distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score

from aeexport.data import as_binary_labels
from aeexport.export import CALIBRATORS, calibrate
from aeruntime.errors import InvalidInputError


def test_percentile_and_contamination_match_known_quantiles():
    rng = np.random.default_rng(0)
    s = rng.exponential(1.0, 200_000)  # quantile q of Exp(1): -log(1 - q)
    p = calibrate(s, "percentile", 99.0)
    assert p["method"] == "percentile" and p["params"] == {"percentile": 99.0}
    assert p["value"] == pytest.approx(-np.log(0.01), rel=0.02)
    c = calibrate(s, "contamination", 0.1)
    assert c["method"] == "contamination" and c["params"] == {"contamination": 0.1}
    assert c["value"] == pytest.approx(-np.log(0.1), rel=0.01)
    assert c["flagged_share"] == pytest.approx(0.1, abs=1e-3)
    assert c["stats"]["n"] == s.size and c["stats"]["p50"] == pytest.approx(np.log(2), rel=0.02)


def test_default_is_95th_percentile():
    s = np.arange(1, 1001, dtype=float)
    assert calibrate(s)["value"] == pytest.approx(np.percentile(s, 95))


def test_target_fpr_holds_on_fresh_normal_data():
    rng = np.random.default_rng(1)
    clean = rng.gamma(2.0, 1.0, 5_000)  # scores of clean validation rows
    fresh = rng.gamma(2.0, 1.0, 200_000)  # new normal rows from the same distribution
    for target in (0.01, 0.05, 0.2):
        t = calibrate(clean, "target_fpr", target)
        assert t["calibration_false_positive_rate"] <= target
        assert t["value"] == pytest.approx(stats.gamma(2.0).ppf(1 - target), rel=0.05)
        fpr = float((fresh > t["value"]).mean())
        # binomial tolerance of the calibration sample: 4 standard errors
        assert abs(fpr - target) < 4 * np.sqrt(target * (1 - target) / clean.size)


def test_f1_optimal_on_planted_case():
    rng = np.random.default_rng(2)
    normal = rng.normal(0, 1, 900)
    anomalous = rng.normal(4, 1, 100)
    s = np.concatenate([normal, anomalous])
    y = np.r_[np.zeros(900), np.ones(100)]
    t = calibrate(s, "f1", y=y)
    assert t["method"] == "f1"
    best = f1_score(y, s > t["value"])
    assert t["f1"] == pytest.approx(best)
    # brute force over every cut between sorted scores: nothing beats it
    cuts = np.sort(s)
    brute = max(f1_score(y, s > c, zero_division=0) for c in cuts[::5])
    assert best >= brute - 1e-12
    # the planted boundary sits between the two means
    assert 1.0 < t["value"] < 3.5


def test_registry_lists_methods():
    assert set(CALIBRATORS) == {"percentile", "contamination", "target_fpr", "f1"}


@pytest.mark.parametrize(
    "method, param, y, match",
    [
        ("nope", None, None, "threshold method must be one of .*, got 'nope'"),
        ("f1", None, None, "needs labels"),
        ("f1", None, np.r_[np.zeros(5), np.ones(4), [2]], r"must be 0 \(normal\) and 1 \(anomaly\).*\[0, 1, 2\]"),
        ("f1", None, np.zeros(10), "both normal"),
        ("target_fpr", 1.5, None, r"target false-positive rate must be in \(0, 1\)"),
        ("contamination", 0.7, None, r"contamination must be in \(0, 0.5\)"),
    ],
)
def test_bad_calibration_input(method, param, y, match):
    with pytest.raises(InvalidInputError, match=match):
        calibrate(np.linspace(0, 1, 10), method, param, y=y)


def test_non_finite_scores_rejected():
    with pytest.raises(InvalidInputError, match="1 non-finite"):
        calibrate(np.array([0.1, np.inf, 0.2]), "target_fpr", 0.1)


def test_third_class_label_message():
    with pytest.raises(InvalidInputError, match="3 distinct"):
        as_binary_labels([0, 1, 2, 1])


@pytest.mark.parametrize("n, percentile", [(485, 96.0), (242, 95.0), (60, 90.0)])
def test_the_fpr_interval_is_the_order_statistic_interval_and_covers_its_level(n, percentile):
    """The stored interval against scipy's Beta quantiles computed here, and against simulation:
    the FPR on unseen normals of ``np.percentile`` of n uniform scores (1 - threshold) falls in it
    at least 90% of the time (a little more: the interval spans the two order statistics
    ``np.percentile`` interpolates between)."""
    from aeexport.export import fpr_interval

    section = calibrate(np.linspace(0, 1, n), "percentile", percentile)
    band = section["expected_false_positive_rate_interval"]
    assert section["calibration_rows"] == n and band["level"] == 0.9
    h = (n - 1) * percentile / 100 + 1  # np.percentile's 1-based position
    lo_k, hi_k = int(np.ceil(h)), int(np.floor(h))
    assert band["low"] == pytest.approx(stats.beta.ppf(0.05, n - lo_k + 1, lo_k))
    assert band["high"] == pytest.approx(stats.beta.ppf(0.95, n - hi_k + 1, hi_k))
    assert band["low"] < 1 - percentile / 100 < band["high"]
    whole = fpr_interval(n, float(hi_k))  # an order statistic itself: the Beta(n - k + 1, k) interval
    assert (whole["low"], whole["high"]) == pytest.approx(
        (stats.beta.ppf(0.05, n - hi_k + 1, hi_k), stats.beta.ppf(0.95, n - hi_k + 1, hi_k))
    )
    rng = np.random.default_rng(0)
    fpr = 1 - np.percentile(rng.random((20_000, n)), percentile, axis=1)
    inside = ((fpr >= band["low"]) & (fpr <= band["high"])).mean()
    assert 0.9 <= inside < 0.97, inside


def test_target_fpr_stores_the_interval_of_its_order_statistic():
    n, rate = 300, 0.05
    section = calibrate(np.linspace(0, 1, n), "target_fpr", rate)
    k = int(np.ceil((n - 1) * (1 - rate))) + 1  # method="higher": this order statistic (1-based)
    band = section["expected_false_positive_rate_interval"]
    assert band["low"] == pytest.approx(stats.beta.ppf(0.05, n - k + 1, k))
    assert band["high"] == pytest.approx(stats.beta.ppf(0.95, n - k + 1, k))
