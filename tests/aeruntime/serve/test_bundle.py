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


def test_outputs_follow_the_manifest(model, score_only_dense, synthetic_digits):
    X = synthetic_digits[0][:200]
    old = aeruntime.load(score_only_dense, providers="cpu")  # a score-only scorer: label from the threshold
    plain = ServedBundle("m", old)
    assert [(o.name, o.datatype) for o in plain.outputs] == [("score", "FP32"), ("label", "INT8")]
    out = plain.infer({"x": X})
    np.testing.assert_array_equal(out["score"], old.score(X))
    np.testing.assert_array_equal(out["label"], old.predict(X))

    decided = ServedBundle("m", model)  # the shipped bundle: label and p_value from its scorer graph
    assert [(o.name, o.datatype) for o in decided.outputs] == [
        ("score", "FP32"),
        ("label", "INT8"),
        ("p_value", "FP32"),
    ]
    out = decided.infer({"x": X})
    s, label, p = model.decide(X)
    np.testing.assert_array_equal(out["score"], s)
    np.testing.assert_array_equal(out["label"], label.astype(np.int8))
    np.testing.assert_array_equal(out["p_value"], p)
    assert decided.parameters()["outputs"] == ["score", "label", "p_value"]


def test_a_served_threshold_is_fed_to_the_decision_scorer(shipped_dense, synthetic_digits):
    X = synthetic_digits[0][:200]
    s = aeruntime.load(shipped_dense, providers="cpu").score(X)
    cut = float(np.median(s))  # far from the calibrated threshold: half the rows flip
    served = ServedBundle("m", aeruntime.load(shipped_dense, providers="cpu", threshold=cut))
    out = served.infer({"x": X})
    np.testing.assert_array_equal(out["label"], (s > np.float32(cut)).astype(np.int8))
