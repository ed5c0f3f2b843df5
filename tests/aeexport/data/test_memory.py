"""aeexport.data: mapped pages and freed heap handed back after scaling; the tabular batch cap."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from aeexport.data import SCALERS, release_mapped, robust_scaler, trim_heap
from aeexport.settings import TABULAR_MAX_BATCH, TrainConfig, tabular_config
from aeexport.train import train_model

linux_only = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc/self/status (Linux)")


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.fixture
def mapped(tmp_path) -> tuple[np.ndarray, np.ndarray]:
    """A 64 MB float32 ``.npy`` opened read-only as a memmap, and its values in memory."""
    X = np.random.default_rng(0).standard_normal((500_000, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    return np.load(tmp_path / "x.npy", mmap_mode="r", allow_pickle=False), X


@linux_only
def test_released_pages_leave_the_resident_set_and_the_values_unchanged(mapped):
    M, X = mapped
    before = rss_kb()
    total = float(np.asarray(M, dtype=np.float64).sum())  # touches every page of the map
    touched = rss_kb()
    assert touched - before > 40_000, "reading the map should have made its 64 MB resident"
    assert release_mapped(M) is True
    assert touched - rss_kb() > 40_000, "the map's pages are still resident after release_mapped"
    np.testing.assert_array_equal(M, X)  # faulted back in from the file, unchanged
    assert float(np.asarray(M, dtype=np.float64).sum()) == total


@pytest.mark.parametrize("view", [lambda m: m[1000:2000], lambda m: m[::3], lambda m: m.reshape(-1)])
def test_a_view_of_a_map_releases_its_map(mapped, view):
    assert release_mapped(view(mapped[0])) is True


def test_arrays_in_memory_and_writable_maps_are_left_alone(tmp_path, mapped):
    X = mapped[1]
    assert release_mapped(X) is False
    assert release_mapped(X[:10]) is False
    assert release_mapped([1.0, 2.0]) is False
    W = np.lib.format.open_memmap(tmp_path / "w.npy", mode="w+", dtype=np.float32, shape=(1000, 4))
    W[:] = 7.0  # dirty pages not yet written back: dropping them would lose data
    assert release_mapped(W) is False
    assert float(W.sum()) == 28_000.0


def test_trim_heap_changes_no_value_with_or_without_pyarrow(mapped):
    X = mapped[1]
    expected = X.copy()
    trim_heap()
    import pyarrow  # noqa: F401 - loaded: its pool is released too

    assert "pyarrow" in sys.modules
    trim_heap()
    np.testing.assert_array_equal(X, expected)


@pytest.mark.parametrize(
    ("n_rows", "batch"),
    [(1_000, 64), (400_000, 10_000), (655_360, TABULAR_MAX_BATCH), (2_000_000, TABULAR_MAX_BATCH), (10**8, 16_384)],
)
def test_the_tabular_batch_is_n_over_40_up_to_the_cap(n_rows, batch):
    assert tabular_config(n_rows).batch_size == batch


def test_training_from_a_map_gives_the_weights_of_training_in_memory(tmp_path):
    X = np.random.default_rng(1).standard_normal((600, 6)).astype(np.float32)
    np.save(tmp_path / "t.npy", X)
    M = np.load(tmp_path / "t.npy", mmap_mode="r", allow_pickle=False)
    cfg = TrainConfig(epochs=3, batch_size=64, seed=0, progress=False)
    rows = np.arange(0, 500)
    a = train_model(M, M[500:], rows=rows, config=cfg, model_options={"hidden": [8], "latent_dim": 3})
    b = train_model(X, X[500:], rows=rows, config=cfg, model_options={"hidden": [8], "latent_dim": 3})
    assert a.history == b.history
    for k, v in a.model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), b.model.state_dict()[k].numpy())
    np.testing.assert_array_equal(M, X)  # the file's rows are intact after their pages were released


def test_each_epoch_records_its_training_and_validation_seconds(tmp_path):
    X = np.random.default_rng(2).standard_normal((300, 5)).astype(np.float32)
    r = train_model(X[:250], X[250:], config=TrainConfig(epochs=4, batch_size=50, seed=0, progress=False))
    assert len(r.epoch_seconds) == len(r.history) == len(r.summary()["epoch_seconds"])
    assert all(t > 0 and v > 0 for t, v in r.epoch_seconds)
    assert sum(t + v for t, v in r.epoch_seconds) <= r.seconds


@pytest.mark.parametrize("order", ["sorted", "random", "repeated"])
@pytest.mark.parametrize("where", ["map", "memory"])
def test_row_blocks_fill_the_values_of_fancy_indexing(tmp_path, order, where):
    from aeexport.data import row_blocks

    X = np.random.default_rng(4).standard_normal((10_000, 3)).astype(np.float32)
    np.save(tmp_path / "r.npy", X)
    src = np.load(tmp_path / "r.npy", mmap_mode="r", allow_pickle=False) if where == "map" else X
    rng = np.random.default_rng(5)
    rows = {
        "sorted": np.arange(0, 10_000, 3),
        "random": rng.permutation(10_000)[:7_000],
        "repeated": rng.integers(0, 10_000, 7_000),  # not distinct: the in-order path
    }[order]
    out = np.full((len(rows), 3), np.nan, np.float32)
    for at, part in row_blocks(src, rows, 1024):
        out[at] = part
    np.testing.assert_array_equal(out, X[rows])


SCALER_CHILD = r"""
import sys
import numpy as np
import aeexport.data._memory as memory
from aeexport.data import fit_scaler

if sys.argv[2] == "keep":  # what a reader without release_mapped would hold
    memory.release_mapped = lambda X: False
M = np.load(sys.argv[1], mmap_mode="r", allow_pickle=False)
rows = np.random.default_rng(0).permutation(len(M))[: len(M) * 4 // 5]
before = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
mean, scale = fit_scaler(M, "standard", rows)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(hwm - before, float(mean.sum()))
"""


@linux_only
def test_fitting_the_scaler_on_a_random_split_of_a_map_never_makes_the_map_resident(tmp_path):
    """A random split read by index would touch every page of the file; read front to back with the
    pages released after each block, the peak grows by the column copies, not by the file."""
    import subprocess

    from tests.conftest import SUBPROCESS_ENV

    X = np.random.default_rng(6).standard_normal((1_000_000, 32)).astype(np.float32)  # 128 MB
    np.save(tmp_path / "m.npy", X)
    del X
    got = {}
    for mode in ("release", "keep"):
        p = subprocess.run(
            [sys.executable, "-c", SCALER_CHILD, str(tmp_path / "m.npy"), mode],
            env=SUBPROCESS_ENV,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert p.returncode == 0, p.stderr
        kb, total = p.stdout.split()
        got[mode] = (int(kb) / 1024, float(total))
    assert got["release"][1] == got["keep"][1]  # the same statistics either way
    assert got["release"][0] < got["keep"][0] - 64, got  # at least half the 128 MB map never resident


def _zero_inflated_columns(n: int, k: int) -> np.ndarray:
    """(n, k) float64: a spike at 0 and a broad tail (the robust scaler's dispersed rule fires on these)."""
    rng = np.random.default_rng(4)
    return np.where(rng.random((n, k)) < 0.7, 0.0, rng.exponential(5.0, (n, k)))


@pytest.mark.parametrize("kind", ["robust", "robust-iqr", "standard", "minmax"])
def test_a_fit_gives_the_same_statistics_and_leaves_a_callers_array_alone(kind):
    X = np.column_stack([_zero_inflated_columns(20_000, 3), np.random.default_rng(5).normal(size=(20_000, 3))])
    kept = X.copy()
    fitted = SCALERS[kind].fit(X)
    assert np.array_equal(X, kept), "a fit must not touch the caller's rows"
    for a, b in zip(fitted, SCALERS[kind].fit(kept.copy()), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_robust_fit_holds_one_temporary_of_its_columns_at_most():
    """tracemalloc sees numpy's buffers: the dispersed rule counts block by block, so the peak is one
    temporary of the columns at a time (the quantiles' copy, then the standard deviation's; it was two at once)."""
    import tracemalloc

    X = _zero_inflated_columns(400_000, 8)  # 25.6 MB, one column chunk of fit_scaler
    tracemalloc.start()
    robust_scaler(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1.3 * X.nbytes, f"peak {peak / X.nbytes:.2f} x the columns"
