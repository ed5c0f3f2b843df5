"""TrainConfig.members: dense models trained separately, side by side in one ensemble graph."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from aeexport.models.ensemble import EnsembleAutoencoder
from aeexport.settings import ExportOptions, TrainConfig
from aeexport.train import load_checkpoint, save_checkpoint, train_model
from aeruntime.errors import InvalidInputError


def _rows(n: int = 400, d: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3)) @ rng.normal(size=(3, d)) + 0.2 * rng.normal(size=(n, d))).astype(np.float32)


CFG = TrainConfig(epochs=3, patience=50, progress=False, scaler="robust", trim_fraction=0.35, seed=5)
OPTIONS = {"hidden": [16, 8], "latent_dim": 3, "dropout": 0.2}


@pytest.fixture(scope="module")
def members_and_ensemble():
    X = _rows()
    singles = [
        train_model(X[:320], X[320:], kind="dense", model_options=OPTIONS, config=dataclasses.replace(CFG, seed=5 + m))
        for m in range(3)
    ]
    ens = train_model(X[:320], X[320:], kind="dense", model_options=OPTIONS, config=dataclasses.replace(CFG, members=3))
    return X, singles, ens


def test_members_are_the_single_models_side_by_side(members_and_ensemble):
    """Member m is exactly the dense model trained with seed + m; the ensemble's score is the mean of
    the members' scores, its code their codes concatenated, its reconstruction their mean."""
    X, singles, ens = members_and_ensemble
    model = ens.model
    assert isinstance(model, EnsembleAutoencoder) and model.config.members == 3
    x = torch.from_numpy(X[:50])
    with torch.inference_mode():
        scores = [s.model.scorer_graph(x).numpy() for s in singles]
        codes = [s.model.encoder_graph(x).numpy() for s in singles]
        recons = [s.model.decoder_graph(s.model.encoder_graph(x)).numpy() for s in singles]
        np.testing.assert_allclose(model.scorer_graph(x).numpy(), np.mean(scores, axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.encoder_graph(x).numpy(), np.concatenate(codes, axis=1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            model.decoder_graph(model.encoder_graph(x)).numpy(), np.mean(recons, axis=0), rtol=1e-5, atol=1e-5
        )
    assert ens.model_report["member_best_epochs"] == [s.best_epoch for s in singles]
    assert ens.history == singles[0].history and ens.train_config.members == 3
    with torch.inference_mode():
        val = model.scorer_graph(torch.from_numpy(X[320:])).numpy()
    assert ens.best_val_loss == pytest.approx(float(val.mean()), rel=1e-5)


def test_members_checkpoint_round_trip(members_and_ensemble, tmp_path):
    X, _, ens = members_and_ensemble
    save_checkpoint(tmp_path / "c", ens.model, holdout=X[320:], summary=ens.summary())
    back, config, _ = load_checkpoint(tmp_path / "c")
    assert config["kind"] == "ensemble" and config["training"]["train_config"]["members"] == 3
    x = torch.from_numpy(X[:20])
    with torch.inference_mode():
        np.testing.assert_array_equal(back.scorer_graph(x).numpy(), ens.model.scorer_graph(x).numpy())


def test_members_refuse_other_kinds_and_mismatched_members():
    X = _rows(200)
    with pytest.raises(
        InvalidInputError, match=r"members=2 trains copies of a dense model, but the model kind is 'vae'"
    ):
        train_model(X[:160], X[160:], kind="vae", config=dataclasses.replace(CFG, members=2, trim_fraction=0.0))
    with pytest.raises(InvalidInputError, match=r"members must be >= 1"):
        TrainConfig(members=0)
    a = train_model(X[:160], X[160:], kind="dense", model_options=OPTIONS, config=CFG).model
    b = train_model(X[40:], X[:40], kind="dense", model_options=OPTIONS, config=CFG).model  # other rows: other scaler
    with pytest.raises(ValueError, match="one scaler"):
        EnsembleAutoencoder.from_members([a, b])
    c = train_model(X[:160], X[160:], kind="dense", model_options={**OPTIONS, "latent_dim": 4}, config=CFG).model
    with pytest.raises(ValueError, match="same widths"):
        EnsembleAutoencoder.from_members([a, c])


def test_members_bundle_scores_and_explains_through_aeruntime(members_and_ensemble, tmp_path):
    """The exported ensemble holds parity; explain decomposes it by the manifest's declared element
    error (squared error of the members' mean reconstruction), checked against numpy."""
    import aeruntime
    from aeexport.export import export_bundle

    X, _, ens = members_and_ensemble
    manifest = export_bundle(
        ens.model, tmp_path / "b", calibration_x=X[320:], options=ExportOptions(batches=(1, 7)), training=ens.summary()
    )
    assert manifest["parity"]["ok"] and manifest["score"]["name"] == "ensemble_mse"
    model = aeruntime.load(tmp_path / "b", providers="cpu")
    with torch.inference_mode():
        ref = ens.model.scorer_graph(torch.from_numpy(X[:7])).numpy()
    np.testing.assert_allclose(model.score(X[:7]), ref, rtol=1e-4, atol=1e-6)
    scale = np.asarray(manifest["scaler"]["scale"], dtype=np.float32)
    expected = ((X[:7] - model.reconstruct(X[:7])) / scale) ** 2
    np.testing.assert_allclose(model.feature_errors(X[:7]), expected, rtol=1e-4, atol=1e-6)
    top = model.explain(X[:7], top_k=2)
    np.testing.assert_array_equal(top.indices, np.argsort(-expected, axis=1, kind="stable")[:, :2])
