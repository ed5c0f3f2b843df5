"""Issue 23: early-stopping rules (TrainConfig.stop_rule, aeexport.train) and growing batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from aeexport.settings import STOP_RULES, TrainConfig
from aeexport.train import STOP_CRITERIA, loss_entropy, train_model
from aeexport.train._loop import _epoch_batch_size
from aeruntime.errors import InvalidInputError


def _rows(n: int = 400, d: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3)) @ rng.normal(size=(3, d)) + 0.2 * rng.normal(size=(n, d))).astype(np.float32)


def test_loss_entropy_matches_scipy():
    rng = np.random.default_rng(0)
    e = rng.gamma(0.5, size=500)
    assert loss_entropy(torch.from_numpy(e)) == pytest.approx(entropy(e), rel=1e-12)
    assert loss_entropy(torch.ones(64)) == pytest.approx(np.log(64))
    assert loss_entropy(torch.tensor([0.0, 0.0, 5.0])) == pytest.approx(0.0)
    assert loss_entropy(torch.zeros(8)) == pytest.approx(np.log(8))  # a perfect fit: all rows equal


def test_the_registry_names_the_config_choices():
    assert set(STOP_CRITERIA) == set(STOP_RULES) == {"val", "entropy"}


def test_entropy_rule_keeps_the_epoch_of_lowest_training_loss_entropy():
    X = _rows()
    cfg = TrainConfig(epochs=25, patience=4, min_delta=0.0, progress=False, stop_rule="entropy", seed=3, lr=1e-2)
    result = train_model(X[:320], X[320:], model_options={"hidden": [16], "latent_dim": 2}, config=cfg)
    ent = [h["entropy"] for h in result.history]
    assert result.best_epoch == 1 + int(np.argmin(ent))
    assert len(result.history) == min(cfg.epochs, result.best_epoch + cfg.patience)
    assert result.best_val_loss == pytest.approx(result.history[result.best_epoch - 1]["val_loss"])
    model = result.model
    with torch.inference_mode():  # the kept weights are the best epoch's: their entropy is the logged one
        got = loss_entropy(model.row_error(model.scale(torch.from_numpy(X[:320]))))
    assert got == pytest.approx(ent[result.best_epoch - 1], rel=1e-6)


def test_val_rule_is_the_validation_loss():
    X = _rows()
    cfg = TrainConfig(epochs=12, patience=3, min_delta=0.0, progress=False, seed=3, lr=1e-2)
    result = train_model(X[:320], X[320:], model_options={"hidden": [16], "latent_dim": 2}, config=cfg)
    val = [h["val_loss"] for h in result.history]
    assert "entropy" not in result.history[0]
    assert result.best_epoch == 1 + int(np.argmin(val)) and result.best_val_loss == min(val)


def test_batches_grow_by_batch_growth_up_to_the_rows():
    cfg = TrainConfig(batch_size=64, batch_growth=1.5)
    assert [_epoch_batch_size(cfg, e, 300) for e in (1, 2, 3, 4, 5)] == [64, 96, 144, 216, 300]
    assert _epoch_batch_size(TrainConfig(batch_size=64), 40, 300) == 64


def test_bad_stop_rule_and_growth_are_refused():
    with pytest.raises(InvalidInputError, match=r"stop_rule must be one of \['val', 'entropy'\], got 'loss'"):
        TrainConfig(stop_rule="loss")
    with pytest.raises(InvalidInputError, match=r"batch_growth must be >= 1 .*got 0.5"):
        TrainConfig(batch_growth=0.5)


def test_the_cli_option_is_derived_from_the_field(tmp_path):
    import json

    from click.testing import CliRunner

    from aeexport.cli import main

    np.save(tmp_path / "rows.npy", _rows(200))
    args = ["train", str(tmp_path / "rows.npy"), "--out", str(tmp_path / "t"), "--epochs", "3", "-q"]
    r = CliRunner().invoke(main, [*args, "--stop-rule", "entropy"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "t" / "config.json").read_text())["training"]
    assert meta["train_config"]["stop_rule"] == "entropy" and "entropy" in meta["history"][0]
    r = CliRunner().invoke(main, [*args, "--stop-rule", "loss"])
    assert r.exit_code != 0 and "'loss' is not one of 'val', 'entropy'" in r.output
