"""Issue 24: the image preset, chosen by ``--preset auto`` on images, and its plateau learning-rate schedule."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from aeexport.cli import main
from aeexport.settings import (
    IMAGE_PERCENTILE,
    IMAGE_VAL_FRACTION,
    TrainConfig,
    apply_preset,
    choose_preset,
    image_config,
    preset_percentile,
    split_config,
)
from aeexport.train import train_model
from aeruntime.errors import InvalidInputError


def test_auto_chooses_the_image_preset_on_images_only():
    assert choose_preset("auto", image=True) == "image"
    assert choose_preset("auto", image=False) == "tabular"
    assert choose_preset("auto", image=True, explicit={"kind"}) == "default"  # an explicit --model
    assert choose_preset("default", image=True) == "default"
    cfg, opts = apply_preset("auto", "dense", TrainConfig(), {}, 811, 64, image=True)
    assert (cfg.scaler, cfg.lr, cfg.lr_schedule, cfg.min_delta, cfg.val_fraction) == (
        "minmax",
        3e-3,
        "plateau",
        1e-3,
        IMAGE_VAL_FRACTION,
    )
    assert (cfg.epochs, cfg.patience, cfg.trim_fraction) == (300, 20, 0.0)  # the generic budget
    assert opts == {"hidden": [32], "latent_dim": 8}  # n/2, n/8 of the 64 pixels
    assert apply_preset("image", "dense", TrainConfig(), {}, 1, 256)[1] == {"hidden": [128], "latent_dim": 32}
    explicit_cfg, explicit_opts = apply_preset(
        "auto", "dense", TrainConfig(lr=1e-2), {"latent_dim": 4}, 811, 64, {"lr"}, image=True
    )
    assert explicit_cfg.lr == 1e-2 and explicit_opts == {"hidden": [32], "latent_dim": 4}  # explicit wins
    assert apply_preset("auto", "conv", TrainConfig(), {}, 811, 64, {"kind"}, image=True) == (TrainConfig(), {})
    with pytest.raises(InvalidInputError, match="--preset image configures the dense model"):
        apply_preset("image", "conv", TrainConfig(), {}, 811, 64)


def test_the_split_takes_the_preset_val_fraction_unless_given():
    assert split_config("auto", TrainConfig(), image=True).val_fraction == IMAGE_VAL_FRACTION
    assert split_config("auto", TrainConfig(), image=False).val_fraction == 0.15  # tabular: unchanged
    assert split_config("auto", TrainConfig(), {"kind"}, image=True).val_fraction == 0.15
    assert split_config("auto", TrainConfig(val_fraction=0.2), {"val_fraction"}, image=True).val_fraction == 0.2
    assert preset_percentile("auto", image=True) == IMAGE_PERCENTILE == 96.0
    assert preset_percentile("auto", image=False) is None and preset_percentile("auto", {"kind"}, image=True) is None
    assert image_config(0) == dataclasses.replace(
        TrainConfig(), scaler="minmax", lr=3e-3, lr_schedule="plateau", min_delta=1e-3, val_fraction=0.3
    )


def test_cli_train_on_digits_uses_the_image_preset_and_its_split(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["train", "digits", "--out", str(tmp_path / "i"), "--epochs", "1", "-q"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "i" / "config.json").read_text())
    tc = meta["training"]["train_config"]
    assert (tc["scaler"], tc["lr_schedule"], tc["val_fraction"]) == ("minmax", "plateau", 0.3)
    assert meta["dataset"]["val_rows"] == 485  # floor(0.3 * 1619 normal rows): the split used the preset's
    assert meta["model_config"]["hidden"] == [32] and meta["model_config"]["latent_dim"] == 8
    r = runner.invoke(
        main, ["train", "digits", "--out", str(tmp_path / "d"), "--epochs", "1", "-q", "--model", "dense"]
    )
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "d" / "config.json").read_text())
    assert meta["training"]["train_config"]["scaler"] == "standard" and meta["dataset"]["val_rows"] == 242


def test_lr_schedule_is_a_cli_option_with_its_choices():
    r = CliRunner().invoke(main, ["train", "--help"])
    assert "--lr-schedule [none|plateau]" in r.output
    r = CliRunner().invoke(main, ["train", "digits", "--out", "x", "--lr-schedule", "cosine"])
    assert r.exit_code == 2
    with pytest.raises(InvalidInputError, match="lr_schedule must be one of"):
        TrainConfig(lr_schedule="cosine")


def test_the_plateau_schedule_lowers_the_lr_as_torch_reduce_lr_on_plateau_does():
    """Noise rows: the validation loss soon stops improving by min_delta (20% here), so the schedule halves the
    learning rate; each epoch's recorded lr is what torch's scheduler, fed the same validation
    losses, gives (factor 0.5, patience 5, threshold min_delta, relative)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 6)).astype(np.float32)
    cfg = TrainConfig(epochs=30, patience=40, lr=1e-2, lr_schedule="plateau", min_delta=0.2, progress=False)
    r = train_model(X[:120], X[120:], model_options={"hidden": [8], "latent_dim": 2}, config=cfg)
    lrs = [h["lr"] for h in r.history]
    assert lrs[0] == 1e-2 and min(lrs) < 1e-2 / 2  # lowered at least twice
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.lr)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=5, threshold=0.2)
    for h in r.history:
        assert h["lr"] == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12), h
        ref.step(h["val_loss"])
    plain = train_model(X[:120], X[120:], config=dataclasses.replace(cfg, lr_schedule="none", epochs=3))
    assert "lr" not in plain.history[0]  # no schedule: the history is as before
