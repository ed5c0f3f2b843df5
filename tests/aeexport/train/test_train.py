"""Training: determinism, scaler, defaults, early stopping, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aeexport.data import fit_scaler
from aeexport.models.dense import DenseAutoencoder, DenseConfig, default_widths
from aeexport.settings import TrainConfig
from aeexport.train import load_checkpoint, save_checkpoint, train_model
from aeruntime.errors import InvalidInputError


def _train(split, seed=0, epochs=4):
    cfg = TrainConfig(epochs=epochs, patience=50, progress=False, seed=seed)
    return train_model(split.train, split.val, kind="dense", config=cfg)


def test_training_is_bit_for_bit_deterministic_on_cpu(digits_split):
    a, b = _train(digits_split), _train(digits_split)
    for (name, ta), tb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(ta, tb), name
    assert a.history == b.history


def test_another_seed_gives_other_weights(digits_split):
    a, c = _train(digits_split, seed=0), _train(digits_split, seed=1)
    w = "encoder.0.weight"
    assert not torch.equal(a.model.state_dict()[w], c.model.state_dict()[w])


def test_scaler_is_fitted_on_training_rows_only(digits_split, dense_trained):
    m = dense_trained.model
    mean, scale = fit_scaler(digits_split.train, "standard")
    np.testing.assert_allclose(m.scaler_mean.numpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(m.scaler_scale.numpy(), scale, rtol=1e-6)
    # and not on all rows: the held-out rows move the mean
    all_mean, _ = fit_scaler(np.concatenate([digits_split.train, digits_split.val]), "standard")
    assert not np.allclose(m.scaler_mean.numpy(), all_mean)
    # constant pixels (digits' first column is always 0) pass through with scale 1
    assert m.scaler_scale.numpy()[0] == 1.0


def test_training_reduces_validation_loss_and_keeps_best_epoch(digits_split):
    res = _train(digits_split, epochs=12)
    vals = [h["val_loss"] for h in res.history]
    assert vals[-1] < vals[0]
    assert res.best_val_loss == pytest.approx(min(vals))
    # the returned weights are the best epoch's: re-measure their validation loss
    with torch.no_grad():
        xs = res.model.scale(torch.from_numpy(digits_split.val))
        assert float(res.model.row_error(xs).mean()) == pytest.approx(res.best_val_loss, rel=1e-5)


def test_early_stopping_stops_before_the_epoch_cap(digits_split):
    cfg = TrainConfig(epochs=500, patience=2, min_delta=0.5, progress=False)
    res = train_model(digits_split.train, digits_split.val, config=cfg)
    assert len(res.history) == 3  # epoch 1 sets the best; two stale epochs stop it


@pytest.mark.parametrize(
    ("n_features", "hidden", "latent"),
    [(64, [32], 16), (6, [8], 2), (500, [250], 64), (100, [50], 25)],
)
def test_default_widths_fit_any_feature_count(n_features, hidden, latent):
    assert default_widths(n_features) == (hidden, latent)
    cfg = DenseConfig(n_features=n_features)
    model = DenseAutoencoder(cfg)
    x = torch.randn(3, n_features)
    assert model.encode(x).shape == (3, latent)
    assert model.decode(model.encode(x)).shape == (3, n_features)


def test_digits_default_is_the_classic_shape_without_its_flaws():
    model = DenseAutoencoder(DenseConfig(n_features=64))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 16), (16, 32), (32, 64)]
    # no activation after the code, none after the reconstruction of standardized data
    assert isinstance(model.encoder[-1], torch.nn.Linear)
    assert isinstance(model.decoder[-1], torch.nn.Linear)
    # so the latent and the output can be negative
    z = model.encode(torch.randn(256, 64))
    assert (z < 0).any() and (model.decode(z) < 0).any()


def test_minmax_scaler_gives_sigmoid_output(digits_split):
    cfg = TrainConfig(epochs=2, progress=False, scaler="minmax")
    res = train_model(digits_split.train, digits_split.val, config=cfg)
    assert isinstance(res.model.decoder[-1], torch.nn.Sigmoid)
    assert res.model.config.output_activation == "sigmoid"


def test_checkpoint_roundtrip_is_safetensors_and_json(tmp_path, dense_trained, digits_split):
    path = save_checkpoint(
        tmp_path / "ckpt", dense_trained.model, holdout=digits_split.val, summary=dense_trained.summary()
    )
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "holdout.safetensors", "model.safetensors"]
    assert json.loads((path / "config.json").read_text())["kind"] == "dense"
    model, config, holdout = load_checkpoint(path)
    for (k, a), b in zip(dense_trained.model.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), k
    np.testing.assert_array_equal(holdout, digits_split.val)


def test_bad_training_inputs_raise_typed_errors(digits_split):
    with pytest.raises(InvalidInputError, match="expects rows of rank 1"):
        train_model(
            digits_split.train.reshape(-1, 1, 8, 8),
            digits_split.val.reshape(-1, 1, 8, 8),
            config=TrainConfig(epochs=1, progress=False),
        )
    with pytest.raises(InvalidInputError, match="scaler must be one of"):
        TrainConfig(scaler="quantile")  # "robust" became a scaler in issue 11


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_device_without_cuda_is_a_typed_error(digits_split):
    with pytest.raises(InvalidInputError, match="device 'cuda' was requested"):
        train_model(digits_split.train, digits_split.val, config=TrainConfig(epochs=1, device="cuda", progress=False))


@pytest.mark.gpu
def test_training_on_cuda_matches_cpu_closely(digits_split):
    cfg = dict(epochs=3, patience=50, progress=False, seed=0)
    cpu = train_model(digits_split.train, digits_split.val, config=TrainConfig(device="cpu", **cfg))
    gpu = train_model(digits_split.train, digits_split.val, config=TrainConfig(device="cuda", **cfg))
    assert gpu.device.startswith("cuda")
    assert gpu.best_val_loss == pytest.approx(cpu.best_val_loss, rel=1e-2)
