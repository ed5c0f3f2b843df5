"""aeexport.train.train_split: the split's raw rows are handed to training and freed once scaled.

A table read into memory (CSV, Parquet, .npz) is held by nobody but the split when ``aeexport train``
and ``run`` reach the epochs, so its memory is free before they start; the result is the one of
``train_model`` on the same rows.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner

import aeexport.train._loop
import aeexport.train._prepare
from aeexport.cli import main
from aeexport.data import Dataset, make_split
from aeexport.pipeline import run_pipeline
from aeexport.settings import RunSettings, TrainConfig, TrainSettings
from aeexport.train import train_model, train_split
from aeruntime.errors import InvalidInputError

OPTIONS = {"hidden": [8], "latent_dim": 3}


def _rows(n: int = 600, d: int = 6) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)


def _write(path: Path, X: np.ndarray) -> Path:
    names = [f"f{j}" for j in range(X.shape[1])]
    if path.suffix == ".parquet":
        pq.write_table(pa.table({n: X[:, j] for j, n in enumerate(names)}), path)
    elif path.suffix == ".csv":
        np.savetxt(path, X, delimiter=",", header=",".join(names), comments="", fmt="%.7g")
    else:  # .npz
        np.savez(path, X=X)
    return path


@pytest.mark.parametrize(("kind", "members"), [("dense", 1), ("vae", 1), ("sparse", 1), ("denoising", 1), ("dense", 2)])
def test_train_split_gives_the_weights_of_train_model_and_drops_the_rows(kind, members):
    X = _rows()
    cfg = TrainConfig(epochs=3, batch_size=64, seed=3, progress=False, members=members)
    ref = make_split(X, None, seed=3)
    reference = train_model(ref.X, ref.val, kind=kind, model_options=OPTIONS, config=cfg, rows=ref.train_rows)
    split = make_split(X.copy(), None, seed=3)
    handed = train_split(split, kind=kind, model_options=OPTIONS, config=cfg)

    assert split.X is None and split.n_rows == len(X) and split.n_train == len(split.train_rows)
    assert handed.history == reference.history
    for name, value in reference.model.state_dict().items():
        torch.testing.assert_close(handed.model.state_dict()[name], value, rtol=0, atol=0, msg=name)
    with pytest.raises(InvalidInputError, match="handed to training and dropped"):
        _ = split.train


def _watch_rows(monkeypatch) -> dict[str, object]:
    """Record a weak reference to the rows ``load_dataset`` returns, and whether it was dead when the epochs began."""
    seen: dict[str, object] = {}
    load, run_epochs = aeexport.train._prepare.load_dataset, aeexport.train._loop._run_epochs

    def loading(*args, **kwargs):
        ds = load(*args, **kwargs)
        seen["rows"] = weakref.ref(ds.X)
        return ds

    def epochs(*args, **kwargs):
        seen.setdefault("alive_at_epochs", seen["rows"]() is not None)
        return run_epochs(*args, **kwargs)

    monkeypatch.setattr(aeexport.train._prepare, "load_dataset", loading)
    monkeypatch.setattr(aeexport.train._loop, "_run_epochs", epochs)
    return seen


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".npz"])
@pytest.mark.parametrize("command", ["train", "run"])
def test_a_table_read_into_memory_is_freed_before_the_epochs(tmp_path, monkeypatch, command, suffix):
    data = _write(tmp_path / f"rows{suffix}", _rows())
    seen = _watch_rows(monkeypatch)
    args = [command, str(data), "--out", str(tmp_path / "out"), "--epochs", "2", "--quiet"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert seen["alive_at_epochs"] is False, "the loaded rows were still referenced when the epochs began"
    assert "rows" in seen and seen["rows"]() is None


def test_a_dataset_given_in_memory_keeps_its_rows(tmp_path):
    X = _rows()
    ds = Dataset(X, None, "mine")
    run_pipeline(ds, tmp_path / "run", RunSettings(TrainSettings(config=TrainConfig(epochs=2, progress=False))))

    assert ds.X is X and np.array_equal(X, _rows())
