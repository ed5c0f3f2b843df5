"""Training never trains on a CSV's header row (pandas' ``0,1,...`` header, ``--header``), nor on values beyond float32."""

from __future__ import annotations

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
    seen = []
    real = aeexport.train._prepare.load_dataset  # what `aeexport train` reads through (prepare.prepare)

    def spy(*args, **kwargs):
        ds = real(*args, **kwargs)
        seen.append(ds)
        return ds

    monkeypatch.setattr(aeexport.train._prepare, "load_dataset", spy)
    path = _csv(tmp_path / "t.csv", rows, header)
    r = CliRunner().invoke(aeexport_main, ["train", str(path), "--out", str(tmp_path / "ck"), "--epochs", "1", *flag])
    assert r.exit_code == 0, r.output
    assert note in r.stderr
    assert [ds.X.shape for ds in seen] == [(60, 5)] and seen[0].feature_names == header


def test_training_data_beyond_float32_is_named(tmp_path, rows):
    from aeruntime.errors import InvalidInputError

    X = rows.astype(np.float64)
    X[7, 2] = -1e39
    path = _csv(tmp_path / "b.csv", X, ["a", "b", "c", "d", "e"])
    with pytest.raises(InvalidInputError, match=r"b\.csv: row 7, column 'c' holds -1e\+39, a value beyond the float32"):
        load_dataset(str(path))
