"""aeruntime against torch: every method, every parity batch size, providers, import boundary."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import aeruntime
from aeexport.export import PARITY_BATCHES
from tests.conftest import MODELS

ATOL, RTOL = 1e-5, 1e-4


def _torch(model, x):
    with torch.inference_mode():
        xt = torch.from_numpy(x)
        z = model.encoder_graph(xt)
        return {"z": z.numpy(), "x_hat": model.decoder_graph(z).numpy(), "score": model.scorer_graph(xt).numpy()}


@pytest.fixture(scope="module")
def rt(dense_bundle):
    return aeruntime.load(dense_bundle, providers="cpu")


@pytest.mark.parametrize("batch", PARITY_BATCHES)
def test_every_method_matches_torch_at_each_batch_size(rt, dense_trained, digits_split, batch):
    rng = np.random.default_rng(batch)
    x = digits_split.test[rng.integers(0, len(digits_split.test), batch)]
    ref = _torch(dense_trained.model, x)
    z = rt.encode(x)
    assert z.shape == (batch, 16) and z.dtype == np.float32
    np.testing.assert_allclose(z, ref["z"], atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(rt.decode(ref["z"]), ref["x_hat"], atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(rt.reconstruct(x), ref["x_hat"], atol=ATOL, rtol=RTOL)
    s = rt.score(x)
    assert s.shape == (batch,)
    np.testing.assert_allclose(s, ref["score"], atol=ATOL, rtol=RTOL)
    np.testing.assert_array_equal(rt.predict(x), (s > rt.threshold).astype(np.int8))


def test_score_is_mse_in_scaled_space_higher_is_more_anomalous(rt, digits_split):
    x = digits_split.test[:64]
    m = rt.manifest
    scale = np.asarray(m["scaler"]["scale"], np.float32)
    expected = (((x - rt.reconstruct(x)) / scale) ** 2).mean(axis=1)
    np.testing.assert_allclose(rt.score(x), expected, rtol=1e-4, atol=1e-6)
    # higher = more anomalous: digit 0 (never seen in training) scores above the normal digits
    y = digits_split.y_test
    s = rt.score(digits_split.test)
    assert np.median(s[y == 1]) > np.median(s[y == 0])


def test_export_parity_report_covers_all_checks_and_batches(dense_bundle):
    report = json.loads((dense_bundle / "manifest.json").read_text())["parity"]
    assert report["ok"] is True
    seen = {(r["check"], r["batch"]) for r in report["rows"]}
    for b in PARITY_BATCHES:
        for check in ("encoder:z", "decoder", "reconstruction", "score"):
            assert (check, b) in seen
    assert any(c.startswith("golden:") for c, _ in seen)
    assert all(r["max_abs"] <= report["tolerance"]["atol"] + 1e-3 for r in report["rows"])


def test_threshold_is_calibrated_percentile_and_overridable(dense_bundle, digits_split):
    m = aeruntime.load(dense_bundle, providers="cpu")
    thr = m.manifest["threshold"]
    assert thr["method"] == "percentile" and thr["params"]["percentile"] == 95.0
    assert m.threshold == pytest.approx(np.percentile(m.score(digits_split.val), 95), rel=1e-5)
    assert np.mean(m.predict(digits_split.val)) == pytest.approx(0.05, abs=0.01)
    low = aeruntime.load(dense_bundle, providers="cpu", threshold=0.0)
    assert low.threshold == 0.0 and low.predict(digits_split.val).all()
    m.threshold = 1e9
    assert not m.predict(digits_split.val).any()


def test_float64_lists_and_views_score_like_float32(rt, digits_split):
    x = np.ascontiguousarray(digits_split.test[:9])
    ref = rt.score(x)
    np.testing.assert_array_equal(rt.score(x.astype(np.float64)), ref)
    np.testing.assert_array_equal(rt.score(x.tolist()), ref)
    wide = np.zeros((9, 128), np.float32)
    wide[:, ::2] = x
    np.testing.assert_array_equal(rt.score(wide[:, ::2]), ref)  # non-contiguous view
    np.testing.assert_array_equal(rt.score(x.astype(">f4")), ref)  # big-endian


@pytest.mark.gpu
def test_cuda_provider_really_runs_on_cuda(dense_bundle, digits_split):
    m = aeruntime.load(dense_bundle, providers="cuda")
    assert m.providers[0] == "CUDAExecutionProvider"
    cpu = aeruntime.load(dense_bundle, providers="cpu")
    np.testing.assert_allclose(m.score(digits_split.test), cpu.score(digits_split.test), rtol=1e-3, atol=1e-5)


def test_shipped_digits_dense_bundle_verifies():
    from aeexport.export import verify_bundle

    report = verify_bundle(MODELS / "digits-dense")
    assert report["ok"], report
    assert any(r["check"].startswith("golden:scorer") for r in report["rows"])
