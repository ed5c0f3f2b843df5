"""Issue 34: the decision heads bench_decisions.py measures against the shipped one (benchmarks/_alternative_heads.py)
compute the same p-values and labels as the numpy reference, so their timings compare like with like."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from aeruntime.decisions import conformal_p_values  # noqa: E402


@pytest.fixture
def heads(bench_import):
    return bench_import("_alternative_heads")


def _identity_scorer() -> onnx.ModelProto:
    """A 'scorer' whose score is its input (batch,), so the head sees exactly the scores a test feeds."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["score"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch"])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)


def _calibrations():
    rng = np.random.default_rng(0)
    yield "lognormal", rng.lognormal(0, 1.5, 1023)
    yield "ties", np.repeat(rng.uniform(0, 1, 40), 25)[:1000]
    yield "heavy tail", np.concatenate([rng.uniform(0, 1, 990), rng.uniform(1e3, 1e6, 33)])
    yield "one score", np.array([2.5])
    yield "negative", rng.normal(-5, 2, 300)


@pytest.mark.parametrize("add", ["add_grid_head", "add_broadcast_head"])
@pytest.mark.parametrize("case,calibration", list(_calibrations()), ids=[c for c, _ in _calibrations()])
def test_alternative_head_equals_the_numpy_reference(heads, add, case, calibration):
    cal = np.sort(np.asarray(calibration, np.float32))
    thr = float(np.quantile(cal, 0.95))
    model = getattr(heads, add)(_identity_scorer(), cal, thr)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    edges = np.concatenate([cal, np.nextafter(cal, np.float32(np.inf)), np.nextafter(cal, np.float32(-np.inf))])
    wide = rng.uniform(float(cal[0]) - 10, float(cal[-1]) * 2 + 10, 2000)
    scores = np.concatenate([edges, wide, [np.inf, -np.inf, 3e38, -3e38, 0.0]]).astype(np.float32)
    score, label, p = sess.run(None, {"x": scores})
    np.testing.assert_array_equal(score, scores)
    np.testing.assert_array_equal(p, conformal_p_values(scores, cal))
    np.testing.assert_array_equal(label, scores > np.float32(thr))


def test_grid_head_gives_a_nan_score_the_references_p_value(heads):
    cal = np.sort(np.random.default_rng(2).lognormal(0, 1, 500).astype(np.float32))
    sess = ort.InferenceSession(
        heads.add_grid_head(_identity_scorer(), cal, 1.0).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    _, label, p = sess.run(None, {"x": np.array([np.nan], np.float32)})
    assert p[0] == conformal_p_values(np.array([np.nan], np.float32), cal)[0] == np.float32(1 / 501)
    assert not label[0]
