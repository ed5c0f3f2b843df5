"""`--preset tabular`: the tabular defaults from the command line; explicit options still win."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from aeexport.cli import main
from aeexport.settings import TrainConfig, apply_preset, tabular_config, tabular_model_options
from aeruntime.errors import InvalidInputError


def test_apply_preset_fills_only_what_was_not_given():
    cfg, opts = apply_preset("tabular", "dense", TrainConfig(epochs=7), {"latent_dim": 4}, 4000, 21, {"epochs"})
    tab = tabular_config(4000)
    assert cfg.epochs == 7  # explicit
    assert (cfg.patience, cfg.batch_size, cfg.trim_fraction) == (tab.patience, tab.batch_size, 0.35)
    assert opts == {**tabular_model_options(21), "latent_dim": 4}
    same = apply_preset("default", "dense", TrainConfig(), {}, 4000, 21)
    assert same == (TrainConfig(), {})
    with pytest.raises(InvalidInputError, match="--preset tabular configures the dense model, but --model is 'conv'"):
        apply_preset("tabular", "conv", TrainConfig(), {}, 100, 64)


def test_cli_run_with_the_tabular_preset(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 10)).astype(np.float32)
    y = np.zeros(600, np.int64)
    X[:30] += 4.0
    y[:30] = 1
    np.savez(tmp_path / "t.npz", X=X, y=y)
    r = CliRunner().invoke(
        main,
        [
            "run",
            str(tmp_path / "t.npz"),
            "--out",
            str(tmp_path / "o"),
            "--preset",
            "tabular",
            "--patience",
            "3",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    m = json.loads((tmp_path / "o" / "bundle" / "manifest.json").read_text())
    assert m["model"]["config"]["hidden"] == [128, 64] and m["model"]["config"]["latent_dim"] == 8
    assert m["model"]["config"]["dropout"] == 0.2
    tc = m["training"]["train_config"]
    assert tc["trim_fraction"] == 0.35 and tc["epochs"] == 60 and tc["patience"] == 3
    assert s["roc_auc"] > 0.9  # shifted rows are easy anomalies
