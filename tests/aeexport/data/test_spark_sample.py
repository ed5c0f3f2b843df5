"""``aeexport.data.sample`` on the local[2,2] session: size, seeds, uniformity, strata, typed errors before any
job, Arrow collection, and the loop closed (sample -> train -> export -> score the DataFrame with aeruntime.spark)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import chisquare

import aeexport.data._spark as aesample
import aeruntime
from aeexport import TrainConfig, run_pipeline
from aeexport.data import quotas
from aeexport.settings import RunSettings, TrainSettings
from aeruntime.errors import InvalidInputError

pytest.importorskip("pyspark", reason="needs pyspark: the Spark tests run with aeruntime[spark]")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.slow

N = 6000
MIX = (0.5, 0.3, 0.2)  # shares of the categories 0, 1, 2, stored in blocks (all 0s first)
N_ANOMALIES = 180  # the last 3% of the rows have y = 1


@pytest.fixture(scope="module")
def rows():
    """The rows as numpy: pos (row number), cat (blocks of MIX), v ~ N(5, 2), y (0/1, anomalies last)."""
    rng = np.random.default_rng(0)
    return {
        "pos": np.arange(N, dtype=np.float64),
        "cat": np.repeat([0.0, 1.0, 2.0], [int(N * s) for s in MIX]),
        "v": 5 + 2 * rng.standard_normal(N),
        "y": (np.arange(N) >= N - N_ANOMALIES).astype(np.int32),
    }


@pytest.fixture(scope="module")
def mix_path(rows, tmp_path_factory):
    """The rows in Parquet, plus a string column 'name'."""
    path = tmp_path_factory.mktemp("spark-sample") / "mix.parquet"
    pq.write_table(pa.table({**rows, "name": [f"r{i}" for i in range(N)]}), path)
    return str(path)


@pytest.fixture(scope="module")
def df(spark, mix_path):
    """The rows in 3 partitions (by pos), sorted within each."""
    return spark.read.parquet(mix_path).repartition(3, "pos").sortWithinPartitions("pos").cache()


def _pos(s):
    return s.table["pos"].to_numpy()


def test_the_sample_has_min_of_n_and_the_row_count_rows(df):
    s = aesample.sample(df, 500, seed=0, features=["pos", "v"])
    assert s.table.num_rows == 500 and s.table.column_names == ["pos", "v"]
    assert len(np.unique(_pos(s))) == 500  # without replacement
    assert s.info.as_dict() == {
        "max_rows": 500,
        "rows_seen": N,
        "rows_kept": 500,
        "seed": 0,
        "stratified": False,
        "source": "spark",
        "method": aesample.METHOD,
    }
    by_numpy = aesample.sample(df, np.int64(500), seed=np.int64(0), features=["pos", "v"])  # numpy integers too
    np.testing.assert_array_equal(_pos(by_numpy), _pos(s))
    assert json.loads(json.dumps(by_numpy.info.as_dict())) == s.info.as_dict()  # plain ints in the manifest
    whole = aesample.sample(df, 10 * N, seed=0, features=["pos"])
    np.testing.assert_array_equal(np.sort(_pos(whole)), np.arange(N))
    assert whole.info.rows_kept == whole.info.rows_seen == N


def test_same_seed_same_rows_other_seed_other_rows(df):
    a, b = (_pos(aesample.sample(df, 500, seed=7, features=["pos"])) for _ in range(2))
    c = _pos(aesample.sample(df, 500, seed=8, features=["pos"]))
    np.testing.assert_array_equal(a, b)
    assert len(np.intersect1d(a, c)) < 80  # two independent 500-of-6000 samples share ~42 rows


def test_the_sample_is_uniform(df, rows):
    k = 1500
    s = aesample.sample(df, k, seed=1, features=["cat", "pos", "v"])
    counts = np.bincount(s.table["cat"].to_numpy().astype(int), minlength=3)
    assert chisquare(counts, np.array(MIX) * k).pvalue > 1e-3
    assert chisquare(np.bincount((_pos(s) * 10 // N).astype(int), minlength=10)).pvalue > 1e-3
    # the mean of v within 4 standard errors of the mean of every row (finite population correction)
    v = rows["v"]
    se = v.std() / np.sqrt(k) * np.sqrt((N - k) / (N - 1))
    assert abs(s.table["v"].to_numpy().mean() - v.mean()) < 4 * se
    # the first k rows (all category 0) fail the same test: the test can fail
    assert chisquare(np.bincount(rows["cat"][:k].astype(int), minlength=3), np.array(MIX) * k).pvalue < 1e-100
    # the rows are the DataFrame's rows (features kept together)
    np.testing.assert_array_equal(s.table["v"].to_numpy(), v[_pos(s).astype(int)])


def test_a_label_stratifies_by_the_reservoirs_quotas(df, rows):
    s = aesample.sample(df, 1000, seed=2, features=["pos", "v"], label="y")
    y = s.table["y"].to_numpy()
    assert s.table.column_names == ["pos", "v", "y"] and s.info.stratified
    assert np.bincount(y).tolist() == [970, 30]  # exactly 3% anomalies
    assert {0: 970, 1: 30} == quotas({0: N - N_ANOMALIES, 1: N_ANOMALIES}, 1000)
    np.testing.assert_array_equal(y, rows["y"][_pos(s).astype(int)])  # each row keeps its label
    # three classes of 3000 / 1800 / 1200 rows, 1001 kept: 500.5 / 300.3 / 200.2 -> largest remainder to 0
    three = aesample.sample(df, 1001, seed=2, features=["pos"], label="cat")
    assert np.bincount(three.table["cat"].to_numpy().astype(int)).tolist() == [501, 300, 200]


def test_features_default_to_the_numeric_columns_but_the_label(df):
    s = aesample.sample(df, 10, seed=0, label="y")
    assert s.features == ["pos", "cat", "v"] and s.ignored == [] and s.table.column_names == ["pos", "cat", "v", "y"]
    assert aesample.sample(df, 10, features=["v"]).ignored == ["pos", "cat", "y"]


def test_schema_mistakes_are_typed_errors_before_any_job(df, spark):
    sc = spark.sparkContext
    sc.setJobGroup("aeexport-sample-errors", "schema errors")
    try:
        cases = [
            ({"max_rows": 0}, r"max_rows must be an integer >= 1, got 0"),
            ({"max_rows": 2.5}, r"max_rows must be an integer >= 1, got 2.5"),
            ({"seed": 0.5}, r"seed must be an integer, got 0.5"),
            ({"features": ["v", "nope"]}, r"missing 1 of the 2 feature columns: \['nope'\]"),
            ({"features": ["v", "name"]}, r"feature column 'name' has type string, but the model expects numeric"),
            ({"features": "v"}, r"features must be a list of column names, got 'v'"),
            ({"features": 3}, r"features must be a list of column names, got 3"),
            ({"features": ["v", "v"]}, r"names the columns \['v'\] more than once"),
            ({"features": ["v", "y"], "label": "y"}, r"\['y'\] are features of the model, so they cannot also be"),
            ({"label": "name"}, r"label column 'name' has type string"),
            ({"label": "absent"}, r"missing 1 of the 1 label column: \['absent'\]"),
        ]
        for kwargs, match in cases:
            with pytest.raises(InvalidInputError, match=match):
                aesample.sample(df, **{"max_rows": 10, **kwargs})
        assert list(sc.statusTracker().getJobIdsForGroup("aeexport-sample-errors")) == []
        aesample.sample(df, 10, features=["v"])  # and a good call in the same group runs jobs: the check can fail
        assert list(sc.statusTracker().getJobIdsForGroup("aeexport-sample-errors"))
    finally:
        sc.setJobGroup(None, None)  # type: ignore[arg-type]


def test_bad_rows_are_typed_errors_and_a_boolean_label_is_one(spark):
    schema = "a double, y int"
    with pytest.raises(InvalidInputError, match=r"the DataFrame has 1 rows; expected at least 2"):
        aesample.sample(spark.createDataFrame([(1.0, 0)], schema), 5)
    with pytest.raises(InvalidInputError, match=r"label column 'y' is null in 1 rows"):
        aesample.sample(spark.createDataFrame([(1.0, 0), (2.0, None), (3.0, 1)], schema), 5, label="y")
    nulls = aesample.sample(spark.createDataFrame([(1.0, 0), (None, 0), (3.0, 1)], schema), 5, label="y")
    with pytest.raises(InvalidInputError, match=r"column 'a' \(a feature.*\) holds 1 null values"):
        nulls.dataset()
    flags = spark.createDataFrame([(float(i), i % 4 == 0) for i in range(40)], "a double, bad boolean")
    s = aesample.sample(flags, 20, seed=0, label="bad")  # a boolean label: True = anomaly, stratified
    assert s.table["bad"].to_pylist().count(True) == 5 and np.bincount(s.dataset().y).tolist() == [15, 5]
    many = spark.range(aesample.MAX_CLASSES + 1).selectExpr("cast(id as double) as a", "id as y")
    with pytest.raises(InvalidInputError, match=rf"label column 'y' has more than {aesample.MAX_CLASSES} distinct"):
        aesample.sample(many, 5, label="y")


def test_collected_as_arrow_by_a_top_n_per_partition(df, rows, spark, mix_path, monkeypatch):
    """The sample is collected with toArrow (or _collect_as_arrow before pyspark 4): same table; its plan is
    TakeOrderedAndProject over the scan (no sort or exchange of the whole DataFrame)."""
    plans, collect = [], aesample._collect_arrow

    def spy(frame):
        plans.append(frame._jdf.queryExecution().executedPlan().toString())
        return collect(frame)

    monkeypatch.setattr(aesample, "_collect_arrow", spy)
    s = aesample.sample(spark.read.parquet(mix_path), 100, seed=3, features=["pos", "v"], label="y")
    (plan,) = plans
    assert plan.count("TakeOrderedAndProject") == 2, plan  # one per label value, over the Parquet scan
    assert "Exchange" not in plan and "Sort [" not in plan, plan
    assert int((s.table["pos"].to_numpy() >= N - N_ANOMALIES).sum()) == 3  # the anomalies' 3% of 100

    class Spark35:  # a DataFrame of pyspark < 4: no toArrow
        def __init__(self, frame):
            self._collect_as_arrow = frame._collect_as_arrow

    frame = df.select("pos", "v").orderBy("pos").limit(50)
    for got in (collect(frame), collect(Spark35(frame))):
        np.testing.assert_array_equal(got["pos"].to_numpy(), rows["pos"][:50])
        np.testing.assert_array_equal(got["v"].to_numpy(), rows["v"][:50])


def _loop_table(n=2400, seed=0):
    """id, f0..f7 (correlated Gaussians; anomalies off the correlation), y (5% anomalies)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    X = z @ rng.standard_normal((2, 8)) + 0.1 * rng.standard_normal((n, 8))
    y = (rng.random(n) < 0.05).astype(np.int32)
    X[y == 1] = 3 * rng.standard_normal((int(y.sum()), 8))
    return np.arange(10_000, 10_000 + n), X.astype(np.float32), y


def test_sample_train_export_then_score_the_dataframe(spark, tmp_path):
    """The loop closed: a stratified sample trains a bundle whose features are the sample's (by name), and
    aeruntime.spark scores every row of the DataFrame as aeruntime.load(bundle).score does."""
    from aeruntime import spark as aespark

    ids, X, y = _loop_table()
    cols = [f"f{i}" for i in range(8)]
    pq.write_table(pa.table({"id": ids, **{c: X[:, i] for i, c in enumerate(cols)}, "y": y}), tmp_path / "t.parquet")
    df = spark.read.parquet(str(tmp_path / "t.parquet")).repartition(2, "id").sortWithinPartitions("id")
    features = [*cols[4:], *cols[:4]]  # not the DataFrame's order: kept by name
    s = aesample.sample(df, 1500, seed=0, features=features, label="y")
    cfg = TrainConfig(epochs=3, progress=False, seed=0)
    summary = run_pipeline(s.dataset(), tmp_path / "run", RunSettings(TrainSettings(config=cfg)))
    bundle = tmp_path / "run" / "bundle"
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["input"]["feature_names"] == features
    assert manifest["training"]["sample"] == s.info.as_dict() == summary["rows"]["sample"]
    assert manifest["training"]["sample"]["source"] == "spark" and summary["dataset"] == "spark"
    assert summary["rows"]["rows"] == 1500 and summary["roc_auc"] > 0.8  # a real model, not noise

    scored = aesample._collect_arrow(aespark.score(df, str(bundle), keep=["id"])).sort_by("id")
    np.testing.assert_array_equal(scored["id"].to_numpy(), ids)
    model = aeruntime.load(bundle, providers="cpu")
    ref = model.score(X[:, [cols.index(c) for c in features]])  # numpy rows in the bundle's feature order
    np.testing.assert_allclose(scored["score"].to_numpy(), ref, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(scored["label"].to_numpy(), (ref > model.threshold).astype(np.int32))
