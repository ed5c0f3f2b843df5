"""Variational bundles: deterministic scores, negative ELBO on request, seeded sampling only."""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import aeruntime
from aeexport.export import export_bundle
from aeexport.settings import TrainConfig
from aeexport.train import train_model
from tests.conftest import SUBPROCESS_ENV


@pytest.fixture(scope="module")
def vae_bundles(digits_split, tmp_path_factory):
    """One trained VAE exported twice: default score (mean-decoding MSE) and score=neg_elbo."""
    result = train_model(
        digits_split.train, digits_split.val, kind="vae", config=TrainConfig(epochs=4, progress=False, seed=0)
    )
    root = tmp_path_factory.mktemp("vae")
    export_bundle(result.model, root / "mse", calibration_x=digits_split.val)
    elbo_model = copy.deepcopy(result.model)
    elbo_model.config.score = "neg_elbo"
    export_bundle(elbo_model, root / "elbo", calibration_x=digits_split.val)
    return result.model, root / "mse", root / "elbo"


def _graph_ops(path):
    import onnx

    return {n.op_type for n in onnx.load(str(path)).graph.node}


def test_no_random_op_in_any_graph(vae_bundles):
    _, mse_dir, elbo_dir = vae_bundles
    for d in (mse_dir, elbo_dir):
        for g in ("encoder.onnx", "decoder.onnx", "scorer.onnx"):
            ops = _graph_ops(d / g)
            assert not {o for o in ops if o.startswith("Random") or o in {"Bernoulli", "Multinomial"}}, (g, ops)


def test_score_is_deterministic_twice_and_across_processes(vae_bundles, digits_split, tmp_path):
    _, bundle, _ = vae_bundles
    x = digits_split.test[:64]
    model = aeruntime.load(bundle, providers="cpu")
    first, second = model.score(x), model.score(x)
    assert np.array_equal(first, second)
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, numpy as np, aeruntime; m = aeruntime.load(sys.argv[1], providers='cpu'); "
        "np.save(sys.argv[3], m.score(np.load(sys.argv[2])))"
    )
    outs = []
    for i in range(2):
        out = tmp_path / f"s{i}.npy"
        subprocess.run(
            [sys.executable, "-c", code, str(bundle), str(tmp_path / "x.npy"), str(out)],
            env=SUBPROCESS_ENV,
            check=True,
            capture_output=True,
            timeout=120,
        )
        outs.append(np.load(out, allow_pickle=False))
    assert np.array_equal(outs[0], outs[1])
    assert np.array_equal(outs[0], first)


def test_default_score_is_mean_decoding_mse(vae_bundles, digits_split):
    _, bundle, _ = vae_bundles
    model = aeruntime.load(bundle, providers="cpu")
    m = model.manifest
    assert m["score"]["name"] == "mse"
    x = digits_split.test[:40]
    scale = np.asarray(m["scaler"]["scale"], np.float32)
    expected = (((x - model.decode(model.encode(x))) / scale) ** 2).mean(axis=1)
    np.testing.assert_allclose(model.score(x), expected, rtol=1e-4, atol=1e-5)


def test_negative_elbo_on_request(vae_bundles, digits_split):
    _, mse_dir, elbo_dir = vae_bundles
    model = aeruntime.load(elbo_dir, providers="cpu")
    m = model.manifest
    assert m["score"]["name"] == "neg_elbo" and m["score"]["direction"] == "higher_is_more_anomalous"
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(elbo_dir / "scorer.onnx")).metadata_props}
    assert json.loads(meta["aeexport.score"])["name"] == "neg_elbo"
    # Independent numpy computation from the encoder and decoder graphs.
    x = digits_split.test[:40]
    scale = np.asarray(m["scaler"]["scale"], np.float64)
    mu, logvar = (a.astype(np.float64) for a in model.posterior(x))
    rec = 0.5 * (((x - model.decode(mu.astype(np.float32))) / scale) ** 2).sum(axis=1)
    kl = -0.5 * (1 + logvar - mu**2 - np.exp(logvar)).sum(axis=1)
    expected = rec + 0.5 * x.shape[1] * math.log(2 * math.pi) + kl
    np.testing.assert_allclose(model.score(x), expected, rtol=1e-4)
    # Same weights, other score: the encoders are identical, the scores differ.
    other = aeruntime.load(mse_dir, providers="cpu")
    np.testing.assert_array_equal(other.encode(x), model.encode(x))
    assert not np.allclose(other.score(x), model.score(x))


def test_sample_is_seeded(vae_bundles):
    model_t, bundle, _ = vae_bundles
    model = aeruntime.load(bundle, providers="cpu")
    a, b, c = model.sample(6, seed=3), model.sample(6, seed=3), model.sample(6, seed=4)
    assert a.shape == (6, 64)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    # It is the decoder applied to numpy's N(0, I) draws with that seed.
    z = np.random.default_rng(3).standard_normal((6, 16), dtype=np.float32)
    with torch.inference_mode():
        np.testing.assert_allclose(a, model_t.decoder_graph(torch.from_numpy(z)).numpy(), rtol=1e-4, atol=1e-4)


def test_encode_sample_reparameterizes(vae_bundles, digits_split):
    _, bundle, _ = vae_bundles
    model = aeruntime.load(bundle, providers="cpu")
    x = digits_split.test[:3]
    z1, z2 = model.encode(x, sample=True, seed=7), model.encode(x, sample=True, seed=7)
    z3 = model.encode(x, sample=True, seed=8)
    assert np.array_equal(z1, z2) and not np.allclose(z1, z3)
    mu, logvar = model.posterior(x)
    np.testing.assert_array_equal(model.encode(x), mu)  # sample=False: the posterior mean
    # Many draws of one row: their mean and spread are mu and exp(logvar / 2).
    many = model.encode(np.repeat(x[:1], 4000, axis=0), sample=True, seed=0)
    sd = np.exp(0.5 * logvar[0])
    np.testing.assert_allclose(many.mean(axis=0), mu[0], atol=float(0.1 * sd.max()))
    np.testing.assert_allclose(many.std(axis=0), sd, rtol=0.08)


def test_sampling_needs_a_seed_and_a_variational_bundle(vae_bundles, dense_bundle, digits_split):
    _, bundle, _ = vae_bundles
    model = aeruntime.load(bundle, providers="cpu")
    x = digits_split.test[:2]
    with pytest.raises(aeruntime.InvalidInputError, match="explicit seed"):
        model.encode(x, sample=True)
    with pytest.raises(aeruntime.InvalidInputError, match="explicit seed"):
        model.sample(2, seed=None)
    with pytest.raises(aeruntime.InvalidInputError, match="n must be a positive int"):
        model.sample(0, seed=1)
    dense = aeruntime.load(dense_bundle, providers="cpu")
    assert not dense.is_variational and model.is_variational
    with pytest.raises(aeruntime.InvalidInputError, match=r"needs a variational bundle.*\['z'\]"):
        dense.sample(2, seed=0)
    with pytest.raises(aeruntime.InvalidInputError, match="needs a variational bundle"):
        dense.encode(x, sample=True, seed=0)


def test_neg_elbo_without_scorer_matches_the_exported_scorer(vae_bundles, digits_split, tmp_path):
    """docs/bundle-format.md section 6: without scorer.onnx the runtime computes manifest['score'] itself."""
    _, _, elbo_dir = vae_bundles
    b = tmp_path / "elbo"
    shutil.copytree(elbo_dir, b)
    m = json.loads((b / "manifest.json").read_text())
    m["graphs"].pop("scorer")
    m["files"] = {k: v for k, v in m["files"].items() if k != "scorer.onnx" and not k.startswith("test_data/scorer")}
    (b / "manifest.json").write_text(json.dumps(m))
    (b / "scorer.onnx").unlink()
    x = digits_split.test[:40]
    np.testing.assert_allclose(
        aeruntime.load(b, providers="cpu").score(x), aeruntime.load(elbo_dir, providers="cpu").score(x), rtol=1e-5
    )
