"""Behaviour of the family's kinds: linear AE = PCA, sparsity, denoising, overcomplete warning, CLI options."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import aeruntime
from aeexport.data import make_split
from aeexport.export import export_bundle
from aeexport.models import OvercompleteWarning, build_model, make_config
from aeexport.settings import TrainConfig
from aeexport.train import corrupt, mse, psnr, train_model


@pytest.fixture(scope="module")
def plain_split(digits):
    """All digits, no anomaly class: 80% train, 20% held out."""
    return make_split(digits[0], None, val_fraction=0.2, seed=0)


def test_linear_autoencoder_reaches_pca(plain_split):
    """A linear AE (no activations, MSE) converges to PCA's reconstruction error with the same components."""
    from sklearn.decomposition import PCA

    k = 16
    result = train_model(
        plain_split.train,
        plain_split.val,
        kind="dense",
        model_options={"hidden": [], "latent_dim": k, "activation": "identity"},
        config=TrainConfig(epochs=60, batch_size=256, lr=1e-2, patience=60, min_delta=0, progress=False),
    )
    m = result.model
    with torch.no_grad():
        xs_train = m.scale(torch.from_numpy(plain_split.train))
        xs_val = m.scale(torch.from_numpy(plain_split.val))
        ae_train = float(m.row_error(xs_train).mean())
        ae_val = float(m.row_error(xs_val).mean())
    pca = PCA(n_components=k).fit(xs_train.numpy())
    pca_err = lambda xs: float(np.mean((pca.inverse_transform(pca.transform(xs)) - xs) ** 2))  # noqa: E731
    pca_train, pca_val = pca_err(xs_train.numpy()), pca_err(xs_val.numpy())
    # On the training rows PCA is the optimum of every rank-k linear map: the AE can only approach it.
    assert pca_train * (1 - 1e-3) <= ae_train <= pca_train * 1.02
    assert abs(ae_val / pca_val - 1) <= 0.02


def _train(kind, split, epochs, **options):
    return train_model(
        split.train,
        split.val,
        kind=kind,
        model_options=options,
        config=TrainConfig(epochs=epochs, patience=epochs, progress=False, seed=0),
    )


def test_sparse_kl_pulls_mean_activation_to_rho(plain_split):
    rho = 0.05
    free = _train("sparse", plain_split, 8, penalty="kl", weight=0.0, rho=rho)
    sparse = _train("sparse", plain_split, 8, penalty="kl", weight=1.0, rho=rho)
    a_free = free.model_report["mean_code_activation"]
    a_sparse = sparse.model_report["mean_code_activation"]
    assert abs(a_sparse - rho) < abs(a_free - rho) / 3
    # The reported activation is the mean of the encoder's output over the training rows.
    with torch.no_grad():
        z = sparse.model.encoder_graph(torch.from_numpy(plain_split.train)).numpy()
    assert sparse.model_report["mean_code_activation"] == pytest.approx(float(z.mean()), rel=1e-5)
    assert sparse.summary()["model_report"]["target_activation"] == rho


def test_sparse_l1_zeroes_more_of_the_code(plain_split):
    free = _train("sparse", plain_split, 5, penalty="l1", weight=0.0)
    sparse = _train("sparse", plain_split, 5, penalty="l1", weight=0.05)
    assert sparse.model_report["fraction_zero"] > free.model_report["fraction_zero"] + 0.1
    assert sparse.model_report["mean_code_activation"] < free.model_report["mean_code_activation"]


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_pepper"])
def test_corruption_is_training_time_only(noise):
    shape = (64,)
    model = build_model("denoising", make_config("denoising", shape, {"noise": noise, "noise_level": 0.3}), shape)
    xs = torch.randn(2000, 64)
    model.fit_data(xs)
    noisy = model.corrupt(xs, torch.Generator().manual_seed(0))
    changed = (noisy != xs).float().mean().item()
    if noise == "gaussian":
        assert float((noisy - xs).std()) == pytest.approx(0.3, rel=0.02)
    else:
        assert changed == pytest.approx(0.3, abs=0.01)
        hit = noisy != xs
        lo, hi = model.data_min.expand_as(xs)[hit], model.data_max.expand_as(xs)[hit]
        assert torch.all((noisy[hit] == lo) | (noisy[hit] == hi))
        if noise == "masking":
            assert torch.all(noisy[hit] == lo)
    # The exported path (eval mode, graph methods) never corrupts: same input, same output.
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.scorer_graph(xs[:5]), model.scorer_graph(xs[:5]))


def test_denoising_improves_held_out_digits(plain_split, tmp_path):
    """Denoised held-out digits are closer to the clean ones than the noisy input is."""
    half = len(plain_split.val) // 2
    result = train_model(
        plain_split.train,
        plain_split.val[:half],
        kind="denoising",
        model_options={"noise": "gaussian", "noise_level": 4.0, "hidden": [128], "latent_dim": 32},
        config=TrainConfig(epochs=10, lr=3e-3, scaler="none", progress=False, seed=0),
    )
    export_bundle(result.model, tmp_path / "b", calibration_x=plain_split.val[:half])
    model = aeruntime.load(tmp_path / "b", providers="cpu")
    clean = plain_split.val[half:]  # never seen in training or early stopping
    noisy = corrupt(clean, "gaussian", 0.25, data_range=(0, 16), seed=1)
    denoised = model.denoise(noisy)
    assert mse(denoised, clean) < 0.75 * mse(noisy, clean)
    assert psnr(denoised, clean, 16) > psnr(noisy, clean, 16) + 1.0


def test_overcomplete_without_regularizer_warns(plain_split):
    cfg = TrainConfig(epochs=1, progress=False)
    with pytest.warns(OvercompleteWarning, match="80 units for 64 input values"):
        train_model(plain_split.train, plain_split.val, kind="dense", model_options={"latent_dim": 80}, config=cfg)
    # Regularized overcomplete models and undercomplete ones train without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", OvercompleteWarning)
        for kind, opts in [
            ("sparse", {"latent_dim": 80}),
            ("denoising", {"latent_dim": 80}),
            ("dense", {"latent_dim": 80, "dropout": 0.1}),
            ("dense", {"latent_dim": 8}),
        ]:
            train_model(plain_split.train, plain_split.val, kind=kind, model_options=opts, config=cfg)


def test_bad_model_options_are_typed_errors():
    with pytest.raises(aeruntime.InvalidInputError, match="noise must be one of"):
        make_config("denoising", (64,), {"noise": "pink"})
    with pytest.raises(aeruntime.InvalidInputError, match="unknown option.*'beta'"):
        make_config("dense", (64,), {"beta": 1.0})
    with pytest.raises(aeruntime.InvalidInputError, match=r"expects images of shape \(C, H, W\)"):
        make_config("conv", (64,), {})


def test_cli_trains_a_kind_with_model_options(tmp_path):
    from aeexport.cli import main
    from aeexport.train import load_checkpoint

    out = tmp_path / "ckpt"
    res = CliRunner().invoke(
        main,
        [
            "train",
            "digits",
            "--model",
            "sparse",
            "--out",
            str(out),
            "--epochs",
            "1",
            "-q",
            "-o",
            "penalty=kl",
            "-o",
            "rho=0.1",
            "-o",
            "hidden=[24]",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "mean_code_activation" in res.output
    model, config, _ = load_checkpoint(out)
    assert model.kind == "sparse" and config["model_config"]["penalty"] == "kl"
    assert config["model_config"]["rho"] == 0.1 and config["model_config"]["hidden"] == [24]
    bad = CliRunner().invoke(
        main,
        [
            "train",
            "digits",
            "--model",
            "vae",
            "--out",
            str(tmp_path / "x"),
            "--epochs",
            "1",
            "-q",
            "-o",
            "score=median",
        ],
    )
    assert bad.exit_code == 2
    assert "score must be one of ['mse', 'neg_elbo']" in bad.output and "Traceback" not in bad.output
