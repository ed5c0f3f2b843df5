"""Every kind in the registry: trains, exports with parity, runs in aeruntime like torch.

Parametrized over ``REGISTRY``: adding a kind there adds it here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aeruntime
from aeexport.data import as_model_input, binary_labels, make_split
from aeexport.export import PARITY_BATCHES, export_bundle
from aeexport.models import REGISTRY
from aeexport.settings import TrainConfig
from aeexport.train import train_model

TOL = dict(rtol=1e-4, atol=1e-5)
BATCHES = (1, 7, 1024)  # one row, an odd batch, a large batch (drawn with replacement)


@pytest.fixture(scope="session", params=list(REGISTRY))
def family_bundle(request, digits, tmp_path_factory):
    """(kind, trained model, bundle dir, held-out rows in the kind's input shape); 2 epochs is enough for parity."""
    kind = request.param
    X, y = digits
    rank = REGISTRY[kind].input_rank  # 2: a series kind reads each digit as 8 steps of 8 columns
    Xk = X.reshape(len(X), 8, 8) if rank == 2 else as_model_input(X, rank, (1, 8, 8))
    split = make_split(Xk, binary_labels(y, 0), val_fraction=0.15, test_fraction=0.2, seed=0)
    result = train_model(
        split.train, split.val, kind=kind, config=TrainConfig(epochs=2, patience=2, progress=False, seed=0)
    )
    out = tmp_path_factory.mktemp("family") / kind
    export_bundle(result.model, out, calibration_x=split.val, training=result.summary())
    return kind, result.model, out, split.test


def test_export_parity_report_covers_every_graph_and_batch(family_bundle):
    kind, model, bundle, _ = family_bundle
    manifest = aeruntime.load(bundle, providers="cpu").manifest
    assert manifest["model"]["kind"] == kind
    report = manifest["parity"]
    assert report["ok"] and report["max_abs"] <= 1e-4
    checks = [f"encoder:{name}" for name in model.encoder_outputs] + ["decoder", "reconstruction", "score"]
    seen = {(r["check"], r["batch"]) for r in report["rows"]}
    for b in PARITY_BATCHES:
        for check in checks:
            assert (check, b) in seen, (check, b)
    assert set(PARITY_BATCHES) >= {1, 1024} and any(b % 2 == 1 and b > 1 for b in PARITY_BATCHES)
    assert all(r["ok"] for r in report["rows"])
    assert manifest["graphs"]["encoder"]["outputs"] == list(model.encoder_outputs)


@pytest.mark.parametrize("batch", BATCHES)
def test_aeruntime_matches_torch(family_bundle, batch):
    kind, model, bundle, X = family_bundle
    x = X[np.random.default_rng(batch).integers(0, len(X), size=batch)]
    rt = aeruntime.load(bundle, providers="cpu")  # no kind passed: the manifest tells it
    assert rt.kind == kind and rt.input_shape == model.input_shape
    with torch.inference_mode():
        xt = torch.from_numpy(x)
        enc = model.encoder_graph(xt)
        enc = [e.numpy() for e in enc] if isinstance(enc, tuple) else [enc.numpy()]
        x_hat = model.decoder_graph(torch.from_numpy(enc[0])).numpy()
        score = model.scorer_graph(xt).numpy()
    np.testing.assert_allclose(rt.encode(x), enc[0], **TOL)
    if rt.is_variational:
        mu, logvar = rt.posterior(x)
        np.testing.assert_allclose(mu, enc[0], **TOL)
        np.testing.assert_allclose(logvar, enc[1], **TOL)
    else:
        assert len(enc) == 1
    np.testing.assert_allclose(rt.decode(enc[0]), x_hat, **TOL)
    np.testing.assert_allclose(rt.reconstruct(x), x_hat, **TOL)
    np.testing.assert_allclose(rt.denoise(x), x_hat, **TOL)
    s = rt.score(x)
    assert s.shape == (batch,)
    np.testing.assert_allclose(s, score, **TOL)


def test_wrong_input_rank_names_the_expected_shape(family_bundle):
    kind, model, bundle, X = family_bundle
    rt = aeruntime.load(bundle, providers="cpu")
    if REGISTRY[kind].input_rank == 3:  # an image model fed flat rows
        wrong, expected = X.reshape(len(X), -1), r"\(n_rows, 1, 8, 8\).*reshape\(-1, 1, 8, 8\)"
    elif REGISTRY[kind].input_rank == 2:  # a series model fed flat rows
        wrong, expected = X.reshape(len(X), -1), r"\(n_rows, 8, 8\).*reshape\(-1, 8, 8\)"
    else:  # a row model fed images
        wrong, expected = X.reshape(len(X), 1, 8, 8), r"\(n_rows, 64\).*reshape\(-1, 64\)"
    for method in (rt.score, rt.encode, rt.reconstruct, rt.predict):
        with pytest.raises(aeruntime.InvalidInputError, match=expected):
            method(wrong)


def test_conv_works_on_28x28_with_dynamic_batch(tmp_path):
    rng = np.random.default_rng(0)
    # Blurry blobs: smooth images of shape (1, 28, 28).
    yy, xx = np.mgrid[:28, :28]
    centers = rng.uniform(6, 22, size=(96, 2))
    X = np.exp(-((yy - centers[:, :1, None]) ** 2 + (xx - centers[:, 1:, None]) ** 2) / 20.0)[:, None]
    X = X.astype(np.float32)
    result = train_model(X[:80], X[80:], kind="conv", config=TrainConfig(epochs=1, progress=False, scaler="none"))
    model = result.model
    assert model.feature_shape == (32, 7, 7)
    manifest = export_bundle(model, tmp_path / "b", calibration_x=X[80:])
    assert manifest["parity"]["ok"]
    assert manifest["input"]["shape"] == [1, 28, 28]
    rt = aeruntime.load(tmp_path / "b", providers="cpu")
    for b in (1, 3, 16):
        assert rt.reconstruct(X[:b]).shape == (b, 1, 28, 28)
        with torch.inference_mode():
            np.testing.assert_allclose(rt.score(X[:b]), model.scorer_graph(torch.from_numpy(X[:b])).numpy(), **TOL)


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 7, 7), (1, 28, 28), (2, 5, 9), (1, 1, 1)])
def test_conv_decoder_inverts_the_encoder_shape(shape):
    from aeexport.models import build_model, make_config

    model = build_model("conv", make_config("conv", shape, {"latent_dim": 4}), shape).eval()
    with torch.no_grad():
        z = model.encode(torch.zeros(3, *shape))
        assert z.shape == (3, 4)
        assert model.decode(z).shape == (3, *shape)
