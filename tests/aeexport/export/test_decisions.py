"""Decisions in the graph: ``scorer.onnx`` of a freshly exported bundle outputs ``score``, ``label`` and
``p_value``, checked with onnxruntime alone against numpy from the calibration scores stored in the graph;
the ``threshold`` input moves the labels without re-export; every variant keeps the decisions exact."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

import aeruntime
from aeexport.export import CALIBRATION, MAX_CALIBRATION, calibration_table
from aeruntime.format import ALLOWED_OPS

BATCHES = (1, 7, 1024)


def _graph(bundle):
    """The scorer's ONNX graph (read with onnx only to get the stored calibration scores) and a plain session."""
    proto = onnx.load(bundle / "scorer.onnx")
    cal = next(numpy_helper.to_array(i) for i in proto.graph.initializer if i.name == CALIBRATION)
    return (
        proto,
        cal[np.isfinite(cal)],
        ort.InferenceSession(str(bundle / "scorer.onnx"), providers=["CPUExecutionProvider"]),
    )


def _numpy_p(scores, cal):
    """(1 + #{c >= s}) / (n + 1), counted in float64 by broadcasting (the definition, not the search)."""
    s = np.asarray(scores, np.float64)[:, None]
    return (1 + (np.asarray(cal, np.float64)[None, :] >= s).sum(1)) / (cal.size + 1)


def _rows(digits, n, seed=0):
    X, _ = digits
    rng = np.random.default_rng(seed)
    # half real rows, half off the data (scores above every calibration score, p = 1/(n+1))
    rows = X[rng.integers(0, len(X), n)].copy()
    rows[n // 2 :] += rng.normal(0, 6, rows[n // 2 :].shape).astype(np.float32)
    return rows.astype(np.float32)


@pytest.mark.parametrize("batch", BATCHES)
def test_onnxruntime_alone_gives_score_label_p_value(dense_bundle, digits, batch):
    manifest = json.loads((dense_bundle / "manifest.json").read_text())
    proto, cal, sess = _graph(dense_bundle)
    assert [o.name for o in sess.get_outputs()] == ["score", "label", "p_value"] == manifest["decisions"]["outputs"]
    assert [i.name for i in sess.get_inputs()] == ["x"]  # the threshold input is optional
    assert [i.name for i in sess.get_overridable_initializers()] == ["threshold"]
    assert (
        cal.size == manifest["decisions"]["p_value"]["calibration_scores"] == manifest["threshold"]["calibration_rows"]
    )
    assert np.all(np.diff(cal) >= 0)
    rows = _rows(digits, batch, seed=batch)
    score, label, p = sess.run(None, {"x": rows})
    assert label.dtype == np.bool_ and p.dtype == np.float32 and score.shape == label.shape == p.shape == (batch,)
    thr = manifest["threshold"]["value"]
    away = np.abs(score.astype(np.float64) - thr) > 1e-6 * max(1.0, abs(thr))
    np.testing.assert_array_equal(label[away], (score.astype(np.float64) > thr)[away])
    np.testing.assert_allclose(p, _numpy_p(score, cal), rtol=1e-7, atol=0)


def test_p_values_are_exact_at_ties_with_calibration_scores(dense_bundle):
    """Scores equal to stored calibration scores count themselves (>=): the search is exact, not approximate."""
    _, cal, _ = _graph(dense_bundle)
    from aeexport.export import decision_reference

    ref = decision_reference(cal, cal, float(cal.max()))
    np.testing.assert_allclose(ref["p_value"], _numpy_p(cal, cal), rtol=1e-7)
    assert not ref["label"].any()


def test_threshold_input_moves_labels_without_re_export(dense_bundle, digits):
    _, _, sess = _graph(dense_bundle)
    rows = _rows(digits, 300)
    default = sess.run(None, {"x": rows})
    score = default[0]
    for q in (10, 50, 90):
        t = np.float32(np.percentile(score, q))
        s2, label, p = sess.run(None, {"x": rows, "threshold": np.asarray(t, np.float32)})
        np.testing.assert_array_equal(label, score > t)
        np.testing.assert_array_equal(p, default[2])  # p-values do not depend on the threshold
        assert 0 < label.sum() < len(rows)
    # the runtime feeds it too: load(threshold=...) changes the graph's labels
    model = aeruntime.load(dense_bundle, threshold=float(np.percentile(score, 50)))
    np.testing.assert_array_equal(model.predict(rows), (score > np.float32(np.percentile(score, 50))).astype(np.int8))


def test_fpr_and_fdr_against_numpy_and_scipy(dense_bundle, digits):
    from scipy.stats import false_discovery_control

    _, cal, _ = _graph(dense_bundle)
    model = aeruntime.load(dense_bundle)
    rows = _rows(digits, 500, seed=3)
    score, p = model.score(rows), model.p_value(rows)
    np.testing.assert_allclose(p, _numpy_p(score, cal), rtol=1e-7)
    n = cal.size
    for fpr in (0.05, 0.1, 0.25):
        m = int(np.floor(fpr * (n + 1)))
        threshold = np.sort(cal)[n - m]  # the m-th largest calibration score
        np.testing.assert_array_equal(model.predict(rows, fpr=fpr), (score > threshold).astype(np.int8))
    for q in (0.05, 0.1, 0.2):
        want = (false_discovery_control(_numpy_p(score, cal), method="bh") <= q).astype(np.int8)
        np.testing.assert_array_equal(model.predict(rows, fdr=q), want)
    with pytest.raises(aeruntime.InvalidInputError, match=r"below the p-value resolution 1/\(n\+1\)"):
        model.predict(rows, fpr=0.5 / (n + 1))
    with pytest.raises(aeruntime.InvalidInputError, match="not both"):
        model.predict(rows, fpr=0.1, fdr=0.1)


def test_calibration_is_bounded_by_evenly_spaced_order_statistics():
    rng = np.random.default_rng(0)
    scores = rng.gamma(2.0, size=20000)
    table = calibration_table(scores)
    assert table.size == MAX_CALIBRATION and np.all(np.diff(table) >= 0)
    probe = rng.gamma(2.0, size=2000)
    # p-values from the kept order statistics stay within the resolution of those from all scores
    assert np.abs(_numpy_p(probe, table) - _numpy_p(probe, scores)).max() <= 2.0 / (MAX_CALIBRATION + 1)


def test_decision_ops_are_allowed_and_the_graph_checks(dense_bundle):
    proto = onnx.load(dense_bundle / "scorer.onnx")
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert ops <= ALLOWED_OPS[""]
    assert {"Gather", "Less", "Greater"} <= ops
    # about 2 sqrt(n) compares per row, never one per stored score: a (blocks, B) table, B = ceil(sqrt(n + 1))
    table = next(numpy_helper.to_array(i) for i in proto.graph.initializer if i.name == CALIBRATION)
    n = int(np.isfinite(table).sum())
    assert table.shape == (-(-(n + 1) // table.shape[1]), int(np.ceil(np.sqrt(n + 1))))


@pytest.mark.parametrize("kind", ["int8-dynamic", "int8-static", "fp16", "ort"])
def test_variants_keep_exact_decisions(dense_bundle, digits, tmp_path, kind):
    """Each variant's graph labels and p-values equal numpy on its own scores and stored calibration scores."""
    from aeexport.export import decision_reference
    from aeexport.variants import make_variant

    manifest = make_variant(dense_bundle, kind, tmp_path / kind, X=digits[0][:600])
    assert manifest["graphs"]["scorer"]["outputs"] == ["score", "label", "p_value"]
    # the variant's calibration scores are in its graph; the ORT variant (the fp32 graph, identical
    # scores) carries the parent's unchanged
    _, cal, _ = _graph(dense_bundle if kind == "ort" else tmp_path / kind)
    model = aeruntime.load(tmp_path / kind)
    assert model.calibration_size == cal.size
    thr = model.threshold
    for b in BATCHES:
        rows = _rows(digits, b, seed=b)
        score, label, p = model.decide(rows)
        away = np.abs(score.astype(np.float64) - thr) > 1e-6 * max(1.0, abs(thr))
        np.testing.assert_array_equal(label[away], (score > thr)[away])
        np.testing.assert_array_equal(p, decision_reference(score, cal, thr)["p_value"])


@pytest.mark.parametrize("option", [("--fpr", "0.1"), ("--fdr", "0.2"), ()])
def test_score_cli_writes_p_values_and_labels_at_the_operating_point(dense_bundle, digits, tmp_path, option):
    from click.testing import CliRunner

    from aeruntime.cli import main

    rows = _rows(digits, 400, seed=5)
    np.save(tmp_path / "rows.npy", rows)
    result = CliRunner().invoke(main, ["score", str(dense_bundle), str(tmp_path / "rows.npy"), *option])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "score,label,p_value"
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    model = aeruntime.load(dense_bundle)
    kw = {option[0][2:]: float(option[1])} if option else {}
    np.testing.assert_array_equal(table[:, 1], model.predict(rows, **kw))
    np.testing.assert_allclose(table[:, 2], model.p_value(rows), rtol=1e-6)
