"""Training never trains on a CSV's header row (pandas' ``0,1,...`` header, ``--header``), nor on values beyond float32."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import aeexport.train._prepare
from aeexport.cli import main as aeexport_main
from aeexport.data import load_dataset
from tests.helpers import needs_pyarrow

pytestmark = needs_pyarrow


def _csv(path, X, header):
    np.savetxt(path, X, delimiter=",", header=",".join(header), comments="", fmt="%.9g")
    return path


@pytest.fixture
def rows():
    return np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)


def test_pandas_default_header_is_not_a_row(tmp_path, rows):
    ds = load_dataset(str(_csv(tmp_path / "p.csv", rows, [str(i) for i in range(5)])))
    assert ds.X.shape == (60, 5) and ds.feature_names == ["0", "1", "2", "3", "4"]
    np.testing.assert_allclose(ds.X, rows, rtol=1e-6)


def test_a_numeric_header_is_forced_with_header(tmp_path, rows):
    path = _csv(tmp_path / "n.csv", rows, ["10", "20", "30", "40", "50"])
    assert load_dataset(str(path), header=True).X.shape == (60, 5)
    assert load_dataset(str(path)).X.shape == (61, 5)  # all numbers, not 0..n-1: data (the note says so)


@pytest.mark.parametrize(
    ("header", "flag", "note"),
    [
        ([str(i) for i in range(5)], [], "pandas' default column names"),
        (["10", "20", "30", "40", "50"], ["--header"], "with a header, as --header says"),
    ],
)
def test_train_reads_the_header_as_names(tmp_path, rows, monkeypatch, header, flag, note):
    seen, told = [], []
    real = aeexport.train._prepare.load_dataset  # what `aeexport train` reads through (prepare.prepare)

    def spy(*args, **kwargs):
        ds = real(*args, **kwargs)
        seen.append(ds)
        told.append(kwargs.get("header"))
        return ds

    monkeypatch.setattr(aeexport.train._prepare, "load_dataset", spy)
    path = _csv(tmp_path / "t.csv", rows, header)
    r = CliRunner().invoke(aeexport_main, ["train", str(path), "--out", str(tmp_path / "ck"), "--epochs", "1", *flag])
    assert r.exit_code == 0, r.output
    assert note in r.stderr
    assert [ds.X.shape for ds in seen] == [(60, 5)] and seen[0].feature_names == header
    assert told == [True if flag else None]  # --header reaches the reader as an argument of the call


def test_header_reaches_the_evaluation_reader(tmp_path, dense_bundle, monkeypatch):
    """``aeexport evaluate --header``: the flag is an argument of the read (a numeric first line is names)."""
    import aeexport.report._evaluate as ev

    told, real = [], ev.read_table

    def spy(*args, **kwargs):
        told.append(kwargs.get("header"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ev, "read_table", spy)
    X = np.random.default_rng(1).normal(size=(40, 64)).astype(np.float32)
    y = (np.arange(40) % 4 == 0).astype(np.float32)
    path = _csv(tmp_path / "e.csv", np.column_stack([X, y]), [*(str(10 + i) for i in range(64)), "y"])
    args = ["evaluate", str(dense_bundle), str(path), "--label-column", "y", "--header", "--json"]
    r = CliRunner().invoke(aeexport_main, args)
    assert r.exit_code == 0, r.output
    assert told == [True]
    c = json.loads(r.stdout)["confusion"]
    assert c["tp"] + c["fp"] + c["tn"] + c["fn"] == 40  # every row scored, the numeric first line read as names


def test_training_data_beyond_float32_is_named(tmp_path, rows):
    from aeruntime.errors import InvalidInputError

    X = rows.astype(np.float64)
    X[7, 2] = -1e39
    path = _csv(tmp_path / "b.csv", X, ["a", "b", "c", "d", "e"])
    with pytest.raises(InvalidInputError, match=r"b\.csv: row 7, column 'c' holds -1e\+39, a value beyond the float32"):
        load_dataset(str(path))
