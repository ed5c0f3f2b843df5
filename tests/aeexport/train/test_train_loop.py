"""Training loop: per-epoch history in the summary and checkpoint, trim_fraction, the epoch cap (issue 10)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aeexport.settings import TrainConfig
from aeexport.train import train_model
from aeruntime.errors import InvalidInputError


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 8)).astype(np.float32)
    return X[:200], X[200:]


def test_summary_holds_the_per_epoch_history_and_it_reaches_the_checkpoint(rows, tmp_path):
    from aeexport.train import load_checkpoint, save_checkpoint

    train, val = rows
    r = train_model(train, val, config=TrainConfig(epochs=4, patience=10, progress=False))
    h = r.summary()["history"]
    assert [e["epoch"] for e in h] == [1, 2, 3, 4] == [e["epoch"] for e in r.history]
    assert all(np.isfinite(e["train_loss"]) and np.isfinite(e["val_loss"]) for e in h)
    assert min(e["val_loss"] for e in h) == pytest.approx(r.best_val_loss)
    assert h[r.best_epoch - 1]["val_loss"] == r.best_val_loss
    save_checkpoint(tmp_path / "c", r.model, holdout=val, summary=r.summary())
    stored = json.loads((tmp_path / "c" / "config.json").read_text())["training"]["history"]
    assert stored == json.loads(json.dumps(h))
    _, config, _ = load_checkpoint(tmp_path / "c")
    assert len(config["training"]["history"]) == 4


@pytest.mark.parametrize("kind", ["sparse", "vae"])
def test_trim_fraction_is_refused_for_kinds_with_their_own_loss(rows, kind):
    train, val = rows
    cfg = TrainConfig(epochs=1, progress=False, trim_fraction=0.2)
    with pytest.raises(InvalidInputError, match=rf"trim_fraction=0.2 .* model kind '{kind}' trains on its own loss"):
        train_model(train, val, kind=kind, config=cfg)


@pytest.mark.parametrize("kind", ["dense", "denoising"])
def test_trim_fraction_changes_training_for_the_plain_loss(rows, kind):
    train, val = rows
    plain = train_model(train, val, kind=kind, config=TrainConfig(epochs=2, progress=False))
    trimmed = train_model(train, val, kind=kind, config=TrainConfig(epochs=2, progress=False, trim_fraction=0.25))
    assert plain.history[0]["train_loss"] != trimmed.history[0]["train_loss"]


def test_summary_says_whether_training_stopped_at_the_epoch_cap(rows):
    train, val = rows
    capped = train_model(train, val, config=TrainConfig(epochs=3, patience=10, progress=False))
    assert capped.hit_epoch_cap and capped.summary()["stopped_at_cap"] is True
    assert capped.summary()["epoch_cap"] == 3
    stopped = train_model(train, val, config=TrainConfig(epochs=50, patience=2, lr=1e-12, progress=False))
    assert len(stopped.history) < 50 and not stopped.hit_epoch_cap
