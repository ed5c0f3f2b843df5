"""Rows in memory: ``Dataset.from_arrow`` and ``run_pipeline`` entered with a Dataset instead of a path."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aeexport import Dataset, TrainConfig, run_pipeline
from aeexport.data import LabelLikeColumnWarning, load_dataset
from aeexport.settings import RunSettings, TrainSettings
from aeruntime.errors import InvalidInputError


def _table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, 2))
    cols = {"b": base[:, 0], "a": (base @ [[1.0], [0.5]])[:, 0].astype(np.float32), "c": rng.integers(0, 9, n)}
    cols["y"] = (rng.random(n) < 0.1).astype(np.int8)
    return pa.table(cols)


def test_columns_are_kept_by_name_in_the_tables_order_and_match_the_file_reader(tmp_path):
    t = _table()
    ds = Dataset.from_arrow(t, label_column="y")
    assert ds.feature_names == ["b", "a", "c"] and ds.X.dtype == np.float32 and ds.name == "arrow"
    pq.write_table(t, tmp_path / "t.parquet")
    ref = load_dataset(str(tmp_path / "t.parquet"), label_column="y")  # the file path of the same rows
    np.testing.assert_array_equal(ds.X, ref.X)
    np.testing.assert_array_equal(ds.y, ref.y)
    assert ds.feature_names == ref.feature_names


def test_bad_tables_are_typed_errors():
    t = _table(20)
    with pytest.raises(InvalidInputError, match=r"expected a pyarrow.Table, got ndarray"):
        Dataset.from_arrow(np.zeros((3, 2)))
    with pytest.raises(InvalidInputError, match=r"label_column 'label' is not a column of the table"):
        Dataset.from_arrow(t, label_column="label")
    with pytest.raises(InvalidInputError, match=r"column 's' has type string, but it is a feature"):
        Dataset.from_arrow(t.append_column("s", pa.array(["x"] * 20)), label_column="y")
    with pytest.raises(InvalidInputError, match=r"column 'y' has type string, but it is the label column"):
        Dataset.from_arrow(t.set_column(3, "y", pa.array(["n"] * 20)), label_column="y")
    with pytest.raises(InvalidInputError, match=r"column 'a' \(a feature .*\) holds 1 null values"):
        Dataset.from_arrow(t.set_column(1, "a", pa.array([None] + [1.0] * 19)), label_column="y")
    with pytest.raises(InvalidInputError, match=r"the columns \['a'\] appear more than once"):
        Dataset.from_arrow(pa.table([pa.array([1.0, 2.0])] * 2, names=["a", "a"]))
    with pytest.raises(InvalidInputError, match=r"no feature columns besides the label 'y'"):
        Dataset.from_arrow(t.select(["y"]), label_column="y")
    big = t.set_column(0, "b", pa.array([1e39] + [0.0] * 19))  # finite in float64, infinite in float32
    with pytest.raises(InvalidInputError, match=r"row 0.*column 'b'.*float32"):
        Dataset.from_arrow(big, label_column="y")
    with pytest.warns(LabelLikeColumnWarning, match=r"pass label_column='y'"):
        Dataset.from_arrow(t)


@pytest.mark.slow
def test_run_pipeline_on_a_table_is_the_run_on_the_file(tmp_path):
    """The same rows as a file and as a Dataset give the same model: one pipeline, not a fork."""
    t = _table()
    pq.write_table(t, tmp_path / "t.parquet")
    cfg = TrainConfig(epochs=2, progress=False, seed=0)
    by_file = run_pipeline(
        str(tmp_path / "t.parquet"), tmp_path / "f", RunSettings(TrainSettings(config=cfg, label_column="y"))
    )
    by_table = run_pipeline(
        Dataset.from_arrow(t, label_column="y", name="t"), tmp_path / "m", RunSettings(TrainSettings(config=cfg))
    )
    m_file, m_table = (json.loads((tmp_path / d / "bundle" / "manifest.json").read_text()) for d in ("f", "m"))
    assert m_table["bundle_id"] == m_file["bundle_id"]  # same weights, same graphs
    assert m_table["threshold"]["value"] == m_file["threshold"]["value"]
    assert m_table["input"]["feature_names"] == ["b", "a", "c"]
    assert by_table["roc_auc"] == by_file["roc_auc"] and by_table["rows"]["source"] == "t"


def test_run_pipeline_refuses_file_options_with_a_dataset(tmp_path):
    ds = Dataset.from_arrow(_table(), label_column="y")
    with pytest.raises(InvalidInputError, match=r"label_column='y' applies to files"):
        run_pipeline(ds, tmp_path / "a", RunSettings(TrainSettings(label_column="y")))
    with pytest.raises(InvalidInputError, match=r"max_rows=100 but the Dataset in memory holds 400 rows"):
        run_pipeline(ds, tmp_path / "b", RunSettings(TrainSettings(config=TrainConfig(max_rows=100, progress=False))))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
