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


def test_beta_quantile_matches_scipy():
    stats = pytest.importorskip("scipy.stats", reason="scipy is the reference")
    from aeruntime.decisions import beta_quantile

    for a, b in ((1, 1), (1, 241), (12, 231), (205, 3891), (4000, 96)):
        for q in (0.025, 0.05, 0.5, 0.95, 0.975):
            assert beta_quantile(q, a, b) == pytest.approx(stats.beta.ppf(q, a, b), rel=1e-9, abs=1e-12)


def test_operating_point_of_the_shipped_bundle_against_scipy_and_its_labels():
    """The rank, threshold and interval of ``predict(fpr=)`` on models/digits-dense: the threshold is the
    stored calibration score whose ``score >`` gives exactly ``predict(x, fpr)``; the interval is the Beta law
    of the order statistic, as the manifest's ``expected_false_positive_rate_interval``."""
    stats = pytest.importorskip("scipy.stats", reason="scipy is the reference")
    onnx = pytest.importorskip("onnx", reason="onnx reads the stored calibration scores as the reference")
    from tests.conftest import ROOT

    bundle = ROOT / "models" / "digits-dense"
    init = next(i for i in onnx.load(str(bundle / "scorer.onnx")).graph.initializer if "calibration_scores" in i.name)
    cal = onnx.numpy_helper.to_array(init).reshape(-1)
    cal = np.sort(cal[np.isfinite(cal)])
    model = aeruntime.load(bundle, providers="cpu")
    n = model.calibration_size
    assert n == cal.size
    X = np.random.default_rng(3).random((400, 64)).astype(np.float32) * 8
    s = model.score(X)
    for fpr in (0.01, 0.05, 0.2):
        op = model.operating_point(fpr)
        m = int(np.floor(fpr * (n + 1)))
        assert (op.rank, op.calibration_scores, op.expected_fpr) == (m, n, m / (n + 1))
        assert op.threshold == float(cal[n - m])
        np.testing.assert_array_equal(model.predict(X, fpr=fpr), (s > op.threshold).astype(np.int8))
        lo, hi = stats.beta.ppf([0.05, 0.95], m, n + 1 - m)
        assert (op.low, op.high, op.level) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9), 0.9)
    # the manifest's interval of the calibrated 95th-percentile threshold is the same law at its rank
    band = model._manifest["threshold"]["expected_false_positive_rate_interval"]
    assert model.operating_point(0.05).low == pytest.approx(band["low"], abs=0.01)
    with pytest.raises(aeruntime.InvalidInputError, match=r"fpr 0.001 is below the p-value resolution"):
        model.operating_point(0.001)


def test_score_cli_prints_the_operating_point_on_stderr(tmp_path):
    from click.testing import CliRunner

    from aeruntime.cli import main
    from tests.conftest import ROOT

    bundle = ROOT / "models" / "digits-dense"
    np.save(tmp_path / "x.npy", np.random.default_rng(4).random((30, 64)).astype(np.float32) * 8)
    res = CliRunner().invoke(
        main, ["score", str(bundle), str(tmp_path / "x.npy"), "--fpr", "0.05", "--out", str(tmp_path / "o.csv")]
    )
    assert res.exit_code == 0, res.output
    op = aeruntime.load(bundle).operating_point(0.05)
    assert op.line() in res.stderr.splitlines()
    assert f"score > {op.threshold:.6g}" in op.line() and f"[{op.low:.4g}, {op.high:.4g}]" in op.line()


def test_operating_point_without_readable_calibration_scores_still_gives_the_rank_and_interval():
    """Without the stored scores (a graph that lacks the initializer, or an .ort file where onnxruntime's
    flatbuffer classes are missing) the threshold is unknown, the rank and the interval are not; no error."""
    from aeruntime.decisions import operating_point
    from aeruntime.format.proto import read_initializer

    op = operating_point(0.05, 99)
    assert (op.rank, op.threshold, op.expected_fpr) == (5, None, 0.05)
    assert "score > ? (the calibration score ranked 5 from the top of 99)" in op.line()
    assert read_initializer(b"", "aeexport_calibration_scores") is None
