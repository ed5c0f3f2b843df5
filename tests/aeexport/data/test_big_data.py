"""Training on big data (issue 21): float32 reads, splits by index, chunked scaler statistics."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from aeexport.data import SCALERS, fit_scaler, load_dataset, make_split
from aeexport.settings import TrainConfig
from aeexport.train import train_model
from aeruntime.errors import InvalidInputError
from aeruntime.tables import load_table


def _reference_scaler(X: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The scaler as fitted before issue 21: one float64 copy of the whole matrix."""
    mean, scale = SCALERS[kind].fit(X.astype(np.float64))
    return mean.astype(np.float32), np.where(scale < 1e-8, 1.0, scale).astype(np.float32)


@pytest.mark.parametrize("kind", sorted(SCALERS))
@pytest.mark.parametrize("shape", [(2000, 33), (500, 1), (300, 1, 8, 8)])
def test_chunked_scaler_is_bit_identical_to_the_whole_matrix_fit(kind, shape):
    rng = np.random.default_rng(3)
    X = (rng.standard_normal(shape) * 4 + rng.integers(0, 3, size=shape)).astype(np.float32)
    rows = rng.permutation(len(X))[: len(X) * 2 // 3]
    for got, want in [(fit_scaler(X, kind), _reference_scaler(X, kind))] + [
        (fit_scaler(X, kind, rows), _reference_scaler(X[rows], kind))
    ]:
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_training_by_index_gives_the_weights_of_training_on_the_copied_rows(digits):
    X, y = digits
    split = make_split(X.astype(np.float32), (y == 0).astype(int), seed=0)
    cfg = TrainConfig(epochs=3, patience=50, progress=False, seed=0)
    by_index = train_model(split.X, split.val, config=cfg, rows=split.train_rows)
    copied = train_model(split.train, split.val, config=cfg)
    for (name, a), b in zip(by_index.model.state_dict().items(), copied.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert by_index.history == copied.history
    assert split.n_train == len(split.train) == len(split.X) - len(split.val) - int((y == 0).sum())


def test_tables_are_read_as_float32_chunk_by_chunk(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((70_000, 3))  # more than one reader chunk (65,536 rows)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({f"f{j}": X[:, j] for j in range(3)}), path)
    t = load_table(path, dtype=np.float32)
    assert t.X.dtype == np.float32
    np.testing.assert_array_equal(t.X, X.astype(np.float32))
    ds = load_dataset(str(path))
    assert ds.X.dtype == np.float32 and ds.feature_names == ["f0", "f1", "f2"]


def test_a_value_beyond_float32_is_refused_naming_its_row(tmp_path):
    X = np.zeros((70_000, 2))
    X[66_000, 1] = 1e300  # in the second chunk: the row counts from the file's start
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1]}), path)
    with pytest.raises(InvalidInputError, match=r"(?s)66000.*'b'.*float32"):
        load_dataset(str(path))


def test_npy_is_memory_mapped_not_read(tmp_path):
    X = np.random.default_rng(1).standard_normal((100, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    ds = load_dataset(str(tmp_path / "x.npy"))
    assert isinstance(ds.X, np.memmap) or isinstance(ds.X.base, np.memmap)
    np.testing.assert_array_equal(ds.X, X)


def test_auto_threads_keep_small_batches_on_one_thread():
    from aeexport.settings import AUTO_THREADS_BATCH, TrainConfig
    from aeexport.train import effective_threads

    assert TrainConfig().threads == -1
    assert effective_threads(-1, 64) == effective_threads(-1, AUTO_THREADS_BATCH - 1) == 1
    assert effective_threads(-1, AUTO_THREADS_BATCH) == 0  # torch's default: the cores
    assert effective_threads(3, 64) == 3 and effective_threads(1, 10**6) == 1  # an explicit count wins


def test_auto_threads_give_the_weights_of_one_thread_on_small_data(digits_split):
    a = train_model(digits_split.train, digits_split.val, config=TrainConfig(epochs=2, progress=False))
    b = train_model(digits_split.train, digits_split.val, config=TrainConfig(epochs=2, progress=False, threads=1))
    for (name, ta), tb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(ta, tb), name


def test_progress_is_silent_when_stderr_is_not_a_terminal(digits_split, capfd):
    train_model(digits_split.train, digits_split.val, config=TrainConfig(epochs=2, progress=True))
    assert capfd.readouterr().err == ""
