"""Decisions in the Node consumer (issue 34): ``label`` and ``p_value`` read from the scorer graph;
``--threshold T`` gives the labels the graph gives with T fed to its ``threshold`` input (aeruntime feeds
it; onnxruntime-node cannot, so Node applies the graph's float32 rule to the graph's score); ``--fpr`` by
aeruntime.decisions' rank rule; all equal to aeruntime on the same bundle and rows. Old score-only bundles keep their ``score,label`` output.

Needs ``node`` (else skipped) and ``npm ci --prefix examples/node`` (else fails, as the other Node tests).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import MODELS, SHIPPED_ROWS
from tests.e2e.node.test_node_consumer import NODE, node_modules, ok, rows_for, run_node  # noqa: F401

pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not installed")


@pytest.fixture(scope="module")
def decided(dense_bundle, digits, tmp_path_factory):
    """(model, rows, .npy path) of the fresh decision bundle."""
    import aeruntime

    model = aeruntime.load(dense_bundle, providers="cpu")
    assert model.manifest["graphs"]["scorer"]["outputs"] == ["score", "label", "p_value"]
    X = rows_for(model.manifest, digits).astype(np.float32)
    path = tmp_path_factory.mktemp("decide") / "x.npy"
    np.save(path, X)
    return model, X, path


def _json(*args) -> dict:
    return json.loads(ok("score", *args, "--json"))


def test_label_and_p_value_come_from_the_graph_equal_to_aeruntime(decided, dense_bundle):
    model, X, path = decided
    score, label, p = model.decide(X)
    out = _json(dense_bundle, path)
    np.testing.assert_allclose(out["scores"], score, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(out["labels"], label.astype(np.int8))
    np.testing.assert_array_equal(np.asarray(out["p_values"], np.float32), p)  # the graph's float32, exactly
    np.testing.assert_array_equal(np.asarray(out["p_values"], np.float32), model.p_value(X))
    assert out["calibration_scores"] == model.calibration_size and out["fpr"] is None
    assert 0 < label.sum() < len(X) and len(np.unique(p)) > 5  # both labels and many p-values exercised

    lines = ok("score", dense_bundle, path).strip().splitlines()
    assert lines[0] == "score,label,p_value"
    got = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])
    np.testing.assert_array_equal(got[:, 1].astype(np.int8), label.astype(np.int8))
    np.testing.assert_array_equal(got[:, 2].astype(np.float32), p)


def test_no_onnxruntime_warning_about_the_threshold_input(decided, dense_bundle):
    _, _, path = decided
    r = run_node("score", dense_bundle, path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [ln for ln in r.stderr.splitlines() if ln.startswith("bundle ")], r.stderr
    r = run_node("inspect", dense_bundle / "scorer.onnx")
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_threshold_labels_equal_the_graph_fed_that_threshold(decided, dense_bundle):
    import aeruntime

    model, X, path = decided
    t = float(np.median(model.score(X)))
    moved = aeruntime.load(dense_bundle, providers="cpu", threshold=t)
    want = moved.predict(X)
    assert not np.array_equal(want, model.predict(X))  # the operating point really moved
    out = _json(dense_bundle, path, "--threshold", repr(t))
    np.testing.assert_array_equal(out["labels"], want)
    np.testing.assert_array_equal(out["labels"], moved.decide(X)[1].astype(np.int8))  # the graph's label at t
    assert out["threshold"] == t


@pytest.mark.parametrize("fpr", [0.05, 0.2, 0.5])
def test_fpr_labels_equal_aeruntime_predict_fpr(decided, dense_bundle, fpr):
    model, X, path = decided
    want = model.predict(X, fpr=fpr)
    out = _json(dense_bundle, path, "--fpr", str(fpr))
    np.testing.assert_array_equal(out["labels"], want)
    assert out["fpr"] == fpr and out["n_anomalies"] == int(want.sum())
    # --fpr wins over --threshold, as aeruntime score --threshold T --fpr A
    both = _json(dense_bundle, path, "--threshold", "0", "--fpr", str(fpr))
    np.testing.assert_array_equal(both["labels"], want)


@pytest.mark.parametrize("fpr", [0.01, 0.05, 0.5])
def test_fpr_prints_aeruntimes_operating_point_line(decided, dense_bundle, fpr):
    """Node says what --fpr means as aeruntime score --fpr does: the threshold it amounts to (the calibration
    score read from the graph) and the interval of the false-positive rate, on stderr, word for word."""
    model, _, path = decided
    r = run_node("score", dense_bundle, path, "--fpr", str(fpr))
    assert r.returncode == 0, r.stderr
    want = model.operating_point(fpr)
    assert want.threshold is not None
    assert r.stderr.splitlines()[0] == want.line()


def test_fpr_errors_are_aeruntimes(decided, dense_bundle):
    model, _, path = decided
    too_small = 0.5 / (model.calibration_size + 1)
    r = run_node("score", dense_bundle, path, "--fpr", str(too_small))
    assert r.returncode == 2 and "[INVALID_INPUT]" in r.stderr and "below the p-value resolution" in r.stderr, r.stderr
    with pytest.raises(aeruntime_error(), match="below the p-value resolution"):
        model.predict(np.zeros((1, *model.input_shape), np.float32), fpr=too_small)
    r = run_node("score", dense_bundle, path, "--fpr", "1.5")
    assert r.returncode == 2 and "fpr must be a number in (0, 1), got" in r.stderr, r.stderr


def aeruntime_error():
    from aeruntime.errors import InvalidInputError

    return InvalidInputError


@pytest.mark.parametrize("name", SHIPPED_ROWS)
def test_shipped_bundles_score_only_or_decisions_as_aeruntime(name, digits, tmp_path):
    """A score-only bundle keeps ``score,label`` and refuses --fpr; a rebuilt one decides as aeruntime."""
    import aeruntime

    bundle = MODELS / name
    model = aeruntime.load(bundle, providers="cpu")
    X = rows_for(model.manifest, digits).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    header = ok("score", bundle, tmp_path / "x.npy").splitlines()[0]
    r = run_node("score", bundle, tmp_path / "x.npy", "--fpr", "0.1", "--json")
    if model.calibration_size is None:
        assert header == "score,label"
        assert r.returncode == 2 and "needs a bundle whose scorer outputs p_value" in r.stderr, r.stderr
    else:
        assert header == "score,label,p_value"
        assert r.returncode == 0, r.stderr
        np.testing.assert_array_equal(json.loads(r.stdout)["labels"], model.predict(X, fpr=0.1))
