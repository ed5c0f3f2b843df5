"""aeruntime.decisions against references (scipy's Benjamini-Hochberg, a float64 count), and bundles
exported before decisions (score-only scorers: ``tests/aeruntime/data/digits-dense-score-only``, the shipped
digits-dense before it was rebuilt with decisions) keep working unchanged."""

from __future__ import annotations

import numpy as np
import pytest

import aeruntime
from aeruntime.decisions import benjamini_hochberg, conformal_p_values, fpr_labels, graph_threshold


def test_benjamini_hochberg_matches_scipy():
    stats = pytest.importorskip("scipy.stats", reason="scipy is the reference")
    rng = np.random.default_rng(0)
    for m in (1, 10, 1000):
        n = 199  # conformal p-values: ties on a grid of 1/(n+1)
        p = np.concatenate([rng.integers(1, n + 2, m // 2 + 1) / (n + 1), rng.beta(0.2, 5, m)])[:m]
        for q in (0.01, 0.1, 0.3):
            want = (stats.false_discovery_control(p, method="bh") <= q).astype(np.int8)
            np.testing.assert_array_equal(benjamini_hochberg(p, q), want)


def test_p_values_and_fpr_labels_against_a_float64_count():
    rng = np.random.default_rng(1)
    cal, s = rng.gamma(2, size=333).astype(np.float32), rng.gamma(2, size=2000).astype(np.float32)
    s[:50] = cal[:50]  # exact ties count as >=
    want = (1 + (cal[None, :].astype(np.float64) >= s[:, None]).sum(1)) / 334
    p = conformal_p_values(s, cal)
    np.testing.assert_allclose(p, want, rtol=1e-7)
    for fpr in (0.01, 0.05, 0.5):
        m = int(np.floor(fpr * 334))
        np.testing.assert_array_equal(fpr_labels(p, 333, fpr), s > np.sort(cal)[333 - m])
    with pytest.raises(aeruntime.InvalidInputError, match=r"fpr must be a number in \(0, 1\)"):
        fpr_labels(p, 333, 1.5)


def test_graph_threshold_keeps_float64_labels_for_float32_scores():
    rng = np.random.default_rng(2)
    for t in rng.gamma(2, size=200):
        s = np.nextafter(np.float32(t), np.float32([-np.inf, np.inf, 0])).astype(np.float32)
        s = np.concatenate([s, [np.float32(t)]])
        np.testing.assert_array_equal(s > graph_threshold(t), s.astype(np.float64) > t)


def test_score_only_bundles_keep_working_and_say_why_p_values_are_missing(score_only_dense, synthetic_digits):
    X = synthetic_digits[0][:50]
    model = aeruntime.load(score_only_dense)
    assert model.calibration_size is None
    np.testing.assert_array_equal(model.predict(X), (model.score(X) > model.threshold).astype(np.int8))
    for call in (lambda: model.p_value(X), lambda: model.predict(X, fpr=0.1), lambda: model.predict(X, fdr=0.1)):
        with pytest.raises(aeruntime.InvalidInputError, match="scorer outputs score only. Re-export"):
            call()
