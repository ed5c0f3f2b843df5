"""``--max-rows``: a seeded uniform reservoir sample in one pass, stratified by label, bounded in memory."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from scipy.stats import chisquare

from aeexport.cli import main
from aeexport.data import Reservoir, load_dataset

MIX = (0.5, 0.3, 0.2)  # shares of the categories 0, 1, 2


def _sorted_mix(tmp_path, n=20_000):
    """A Parquet file whose column 'cat' holds the categories of MIX in blocks (all 0s first, then 1s, 2s),
    so the first rows are not a sample of the mix; column 'pos' holds the row number."""
    cat = np.repeat([0.0, 1.0, 2.0], [int(n * s) for s in MIX])
    path = tmp_path / "mix.parquet"
    pq.write_table(pa.table({"cat": cat, "pos": np.arange(n, dtype=np.float64), "z": np.zeros(n)}), path)
    return path, n


def test_the_sample_follows_the_mix_of_the_whole_file(tmp_path):
    path, n = _sorted_mix(tmp_path)
    ds = load_dataset(str(path), max_rows=3000, seed=0)
    assert ds.X.shape == (3000, 3)
    counts = np.bincount(ds.X[:, 0].astype(int), minlength=3)
    assert chisquare(counts, np.array(MIX) * 3000).pvalue > 1e-3
    # and the positions are spread evenly over the file (ten equal parts), in file order
    pos = ds.X[:, 1]
    assert np.all(np.diff(pos) > 0)
    assert chisquare(np.bincount((pos * 10 // n).astype(int), minlength=10)).pvalue > 1e-3
    # the first 3000 rows (all category 0) fail the same test: the test can fail
    assert chisquare(np.bincount(np.zeros(3000, int), minlength=3), np.array(MIX) * 3000).pvalue < 1e-100
    assert ds.sample == {**ds.sample, "rows_seen": n, "rows_kept": 3000, "seed": 0, "stratified": False}


def test_same_seed_same_rows_other_seed_other_rows(tmp_path):
    path, _ = _sorted_mix(tmp_path)
    a, b = (load_dataset(str(path), max_rows=500, seed=7).X[:, 1] for _ in range(2))
    c = load_dataset(str(path), max_rows=500, seed=8).X[:, 1]
    np.testing.assert_array_equal(a, b)
    assert len(np.intersect1d(a, c)) < 100  # two independent 2.5% samples share ~12 rows


def test_a_cap_above_the_row_count_keeps_every_row_in_order(tmp_path):
    path, n = _sorted_mix(tmp_path, n=1000)
    ds, whole = load_dataset(str(path), max_rows=5000), load_dataset(str(path))
    np.testing.assert_array_equal(ds.X, whole.X)
    assert ds.sample["rows_kept"] == ds.sample["rows_seen"] == n


def test_labelled_rows_are_sampled_per_class_in_proportion(tmp_path):
    n, n_anom = 10_000, 300  # 3% anomalies, all at the end of the file
    y = np.r_[np.zeros(n - n_anom), np.ones(n_anom)]
    X = np.random.default_rng(0).standard_normal((n, 2))
    path = tmp_path / "l.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", header="a,b,label", comments="")
    ds = load_dataset(str(path), label_column="label", max_rows=1000, seed=3)
    assert len(ds.X) == 1000 and int(ds.y.sum()) == 30  # exactly 3% of the sample
    assert ds.sample["stratified"] is True
    # each sampled row is the file's row (features kept with their label)
    whole = load_dataset(str(path), label_column="label")
    idx = [int(np.flatnonzero(whole.X[:, 0] == v)[0]) for v in ds.X[:50, 0]]
    np.testing.assert_array_equal(whole.y[idx], ds.y[:50])


def test_reservoir_quotas_use_largest_remainders():
    res = Reservoir(10, seed=0, stratified=True)
    res.add(np.zeros((7, 1)), np.array([0, 0, 0, 0, 1, 1, 2]))
    res.add(np.zeros((8, 1)), np.array([0, 0, 0, 0, 1, 1, 2, 2]))  # seen 8 / 4 / 3 of 15
    _, y, info = res.result()
    assert np.bincount(y.astype(int)).tolist() == [5, 3, 2]  # 5.33, 2.67, 2.0
    assert (info.rows_seen, info.rows_kept) == (15, 10)


# the child resets its peak RSS after the imports (clear_refs 5), then reports RSS before and peak after
_CHILD = """
import sys
import numpy as np
from aeexport.data import load_dataset
def kb(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field))
open("/proc/self/clear_refs", "w").write("5")
base = kb("VmRSS:")
ds = load_dataset(sys.argv[1], max_rows=int(sys.argv[2]))
assert len(ds.X) == int(sys.argv[2])
print(base, kb("VmHWM:"))
"""


def _peak_kb(path, arg):
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), arg], capture_output=True, text=True, check=True)
    base, peak = map(int, out.stdout.split())
    return peak - base


def test_sampling_memory_is_bounded_by_the_sample_not_the_file(tmp_path):
    path = tmp_path / "big.npy"
    rows, width = 2_000_000, 16  # 128 MB of float32
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, width))
    for i in range(0, rows, 500_000):
        mm[i : i + 500_000] = np.random.default_rng(i).standard_normal((500_000, width), dtype=np.float32)
    mm.flush()
    del mm
    file_kb = rows * width * 4 // 1024
    grown = _peak_kb(path, "20000")
    assert grown < file_kb // 3, f"sampling 20,000 rows grew the peak RSS by {grown} KB (file {file_kb} KB)"
    # the bound can fail: reading the file whole grows it by at least the file
    whole = subprocess.run(
        [sys.executable, "-c", _CHILD.replace("max_rows=int(sys.argv[2])", "").replace("== int(sys.argv[2])", "> 0")]
        + [str(path), "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    base, peak = map(int, whole.stdout.split())
    assert peak - base > file_kb * 0.9


@pytest.mark.parametrize("command", ["train"])
def test_the_cli_says_it_sampled_and_the_checkpoint_records_it(tmp_path, command):
    X = np.random.default_rng(0).standard_normal((400, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "ck"
    r = CliRunner().invoke(
        main, [command, str(tmp_path / "x.npy"), "--out", str(out), "--epochs", "1", "--max-rows", "150", "-q"]
    )
    assert r.exit_code == 0, r.output
    assert "sampled 150 of 400 rows (seed 0)" in r.output
    assert "trained dense on 128 rows" in r.output  # 150 minus floor(15%) = 22 validation rows
    training = json.loads((out / "config.json").read_text())["training"]
    assert training["sample"]["rows_seen"] == 400 and training["sample"]["rows_kept"] == 150
    assert training["train_config"]["max_rows"] == 150
