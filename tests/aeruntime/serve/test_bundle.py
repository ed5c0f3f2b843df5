"""The served bundle without a server (no MLServer needed): v2 tensors in, the manifest's outputs out."""

from __future__ import annotations

import numpy as np
import pytest

import aeruntime
from aeruntime.errors import InvalidInputError
from aeruntime.serve.bundle import ServedBundle, decode_tensor


@pytest.fixture(scope="module")
def model(shipped_dense):
    return aeruntime.load(shipped_dense, providers="cpu")


@pytest.mark.parametrize(
    "data",
    [
        lambda x: x.ravel().tolist(),  # flat, as the protocol writes it
        lambda x: x.tolist(),  # nested rows
        lambda x: x.astype("<f4").tobytes(),  # gRPC raw_input_contents
    ],
    ids=["flat", "nested", "raw"],
)
def test_decode_tensor_gives_the_rows(data):
    x = np.arange(6 * 64, dtype=np.float32).reshape(6, 64) / 7
    got = decode_tensor("x", "FP32", [6, 64], data(x))
    assert got.dtype == np.float32 and got.shape == (6, 64)
    np.testing.assert_array_equal(got, x)


def test_decode_tensor_refuses_what_the_row_rule_refuses():
    with pytest.raises(InvalidInputError, match=r"declares shape \[2, 3\] \(6 values\) but holds 5 values"):
        decode_tensor("x", "FP32", [2, 3], [1, 2, 3, 4, 5])
    with pytest.raises(InvalidInputError, match=r"X has dtype <U3 \(strings\), but the model expects real numbers"):
        decode_tensor("x", "BYTES", [1, 2], [b"abc", b"def"])
    with pytest.raises(InvalidInputError, match=r"X has dtype object \(Python objects: .*\), but the model expects"):
        decode_tensor("x", "FP32", [1, 2], [1.0, "high"])


class _InGraphDecisions:
    """The shipped bundle as if its scorer also output ``label`` (at another cut than the threshold)
    and ``p_value``, as bundles with in-graph decisions do; everything else is the real model."""

    def __init__(self, model):
        self._model = model
        self.cut = 0.3  # differs from the calibrated threshold: the graph's label must win

    def __getattr__(self, name):
        return getattr(self._model, name)

    @property
    def manifest(self):
        m = self._model.manifest
        m["graphs"]["scorer"]["outputs"] = ["score", "label", "p_value"]
        return m

    def _run(self, role, x):
        assert role == "scorer"
        s = self._model.score(x)
        return [s, (s > self.cut).astype(np.int8), np.exp(-s).astype(np.float32)]


def test_outputs_follow_the_manifest(model, synthetic_digits):
    X = synthetic_digits[0][:200]
    plain = ServedBundle("m", model)
    assert [(o.name, o.datatype) for o in plain.outputs] == [("score", "FP32"), ("label", "INT8")]
    out = plain.infer({"x": X})
    np.testing.assert_array_equal(out["score"], model.score(X))
    np.testing.assert_array_equal(out["label"], model.predict(X))

    decided = ServedBundle("m", _InGraphDecisions(model))
    assert [(o.name, o.datatype) for o in decided.outputs] == [
        ("score", "FP32"),
        ("label", "INT8"),
        ("p_value", "FP32"),
    ]
    out = decided.infer({"x": X})
    s = model.score(X)
    np.testing.assert_array_equal(out["label"], (s > 0.3).astype(np.int8))
    assert (out["label"] != model.predict(X)).any()  # the graph's label, not recomputed from the threshold
    np.testing.assert_allclose(out["p_value"], np.exp(-s), rtol=1e-6)
    assert decided.parameters()["outputs"] == ["score", "label", "p_value"]
