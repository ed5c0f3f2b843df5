"""aeruntime.spark on series bundles (local Spark): per-key scores equal aeruntime's per-series batch
scores, whatever the input order and the Arrow batch size; rows in = rows out; typed errors naming the key."""

from __future__ import annotations

import runpy

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime.errors import InvalidInputError
from aeruntime.series import alarms, score_series
from tests.aeruntime.series.forge import generated_series, make_series_bundle, reference_scores

pytest.importorskip("pyspark", reason="needs pyspark: the Spark tests run with aeruntime[spark]")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.slow

W = 16
ALARM = {"k": 2, "n": 3, "hold_off": 5}
#: rows per key (one just a window long) and the seed of its generated series
KEYS = {"dev-a": (700, 0), "dev-b": (450, 1), "dev-c": (W, 2)}


@pytest.fixture(scope="module")
def series_rows():
    """{key: (rows (n, 3) float32, times (n,) int64)}: each key its own series, times 10 apart from its own start."""
    out = {}
    for k, (n, seed) in KEYS.items():
        x, _ = generated_series(n=max(n, 500), seed=seed)
        out[k] = (x[:n], 1000 * seed + 10 * np.arange(n, dtype=np.int64))
    return out


@pytest.fixture(scope="module")
def mu_scale(series_rows):
    x = series_rows["dev-a"][0]
    return x[:300].mean(0), x[:300].std(0)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, mu_scale):
    mu, scale = mu_scale
    return make_series_bundle(
        tmp_path_factory.mktemp("spark-series") / "b", mu, scale, W, threshold=1.0, alarm=ALARM, names=["a", "b", "c"]
    )


@pytest.fixture(scope="module")
def table(series_rows):
    """All keys' rows interleaved and shuffled: dev, t, a, b, c."""
    dev = np.concatenate([[k] * len(r[0]) for k, r in series_rows.items()])
    t = np.concatenate([r[1] for r in series_rows.values()])
    x = np.concatenate([r[0] for r in series_rows.values()])
    order = np.random.default_rng(7).permutation(len(t))
    return pa.table({"dev": dev[order], "t": t[order], "a": x[order, 0], "b": x[order, 1], "c": x[order, 2]})


@pytest.fixture(scope="module")
def sdf(spark, table):
    return spark.createDataFrame(table.to_pandas()).repartition(3).cache()


def _by_key(rows):
    """{key: {column: array in time order}} of collected output rows."""
    out = {}
    for r in sorted(rows, key=lambda r: (r["dev"], r["t"])):
        for c, v in r.items():
            out.setdefault(r["dev"], {}).setdefault(c, []).append(v)
    return {k: {c: np.array(v) for c, v in cols.items()} for k, cols in out.items()}


def _check_per_key(got, series_rows, model, mu_scale):
    assert set(got) == set(series_rows)
    for k, (x, t) in series_rows.items():
        g = got[k]
        np.testing.assert_array_equal(g["t"], t)  # rows in = rows out, in time order
        want = score_series(model, x)  # aeruntime's batch scores of this key's series alone
        np.testing.assert_array_equal(np.isnan(g["score"]), np.isnan(want))
        np.testing.assert_allclose(g["score"], want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(g["score"], reference_scores(x, *mu_scale, W), rtol=1e-4, atol=1e-5)
        labels = np.where(np.isnan(want), 0, want > model.threshold).astype(np.int8)
        np.testing.assert_array_equal(g["label"], labels)
        np.testing.assert_array_equal(g["warmup"], (np.arange(len(x)) < W - 1).astype(int))
        np.testing.assert_array_equal(g["alarm"], alarms(labels, **ALARM))
        np.testing.assert_allclose(g["a"], x[:, 0])  # pass-through columns travel with their rows


@pytest.fixture(scope="module")
def model(bundle):
    return aeruntime.load(bundle, providers="cpu")


@pytest.mark.parametrize("batch_rows", [10000, 37])
def test_per_key_scores_equal_the_runtime_per_series(spark, sdf, bundle, model, series_rows, mu_scale, batch_rows):
    from aeruntime import spark as aespark

    old = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))  # 37: windows span batches
    try:
        report = aespark.ScoreReport(spark)
        out = aespark.score(sdf, bundle, key="dev", time="t", report=report)
        rows = [r.asDict() for r in out.collect()]
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", old)
    assert out.columns == ["dev", "t", "a", "b", "c", "score", "label", "warmup", "alarm"]
    assert len(rows) == sum(n for n, _ in KEYS.values()) == report.rows
    _check_per_key(_by_key(rows), series_rows, model, mu_scale)
    assert report.anomalies == sum(r["label"] for r in rows) > 0


def test_one_series_without_key_and_hidden_order_columns(spark, sdf, bundle, model, series_rows):
    from aeruntime import spark as aespark

    x, t = series_rows["dev-a"]
    one = sdf.where("dev = 'dev-a'")
    got = aespark.score(one, bundle, ["a", "b", "c"], time="t", keep=["a"]).collect()  # t travels hidden
    assert [r.a for r in got] == pytest.approx(x[:, 0].tolist())  # time order restored
    np.testing.assert_allclose([r.score for r in got], score_series(model, x), rtol=0, atol=1e-6)


def test_repeated_time_null_time_and_short_key_are_errors_naming_the_key(spark, sdf, bundle):
    from pyspark.sql import functions as F

    from aeruntime import spark as aespark

    dup = sdf.union(sdf.where("dev = 'dev-b' AND t = 1050"))
    with pytest.raises(Exception, match=r"key 'dev-b' \('dev'\) has two rows at time 1050 \('t'\)"):
        aespark.score(dup, bundle, key="dev", time="t").collect()
    null_t = sdf.withColumn("t", F.when((F.col("dev") == "dev-c") & (F.col("t") == 2020), None).otherwise(F.col("t")))
    with pytest.raises(Exception, match=r"key 'dev-c' \('dev'\) has a null time"):
        aespark.score(null_t, bundle, key="dev", time="t").collect()
    short = sdf.where("NOT (dev = 'dev-c' AND t = 2000)")
    with pytest.raises(Exception, match=rf"key 'dev-c' \('dev'\) has {W - 1} rows, fewer than the bundle's window"):
        aespark.score(short, bundle, key="dev", time="t").collect()
    nan = sdf.withColumn(
        "b", F.when((F.col("dev") == "dev-b") & (F.col("t") == 1100), float("nan")).otherwise(F.col("b"))
    )
    with pytest.raises(
        Exception,
        match=r"column 'b' is nan at row \d+ of partition \d+ \(dev='dev-b', t=1100\).*does not apply to series bundles",
    ):
        aespark.score(nan, bundle, key="dev", time="t").collect()


def test_driver_errors_before_any_task(spark, sdf, bundle):
    from aeruntime import spark as aespark

    cases = [
        ({"key": "dev"}, r"series bundle \(windows of 16 steps\).*pass time='col'"),
        ({"time": "t", "fpr": 0.01}, r"a series bundle labels time steps by its threshold"),
        ({"time": "t", "on_invalid": "null"}, r"on_invalid='fail'"),
        ({"time": "when"}, r"time column 'when' is not in the DataFrame"),
        ({"time": "dev"}, r"time column 'dev' has type string.*to_timestamp"),
        ({"time": "t", "key": "a"}, r"key column 'a' is also a feature column"),
    ]
    for kwargs, match in cases:
        with pytest.raises(InvalidInputError, match=match):
            aespark.score(sdf, bundle, **kwargs)


def test_cli_scores_a_series_per_key(spark, table, bundle, model, series_rows, mu_scale, tmp_path):
    from aeruntime.cli import main

    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    args = ["spark", "score", str(bundle), str(src)]
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out"), "--key", "dev", "--time", "t"])
    assert res.exit_code == 0, res.output
    assert f"scored {table.num_rows} rows" in res.output
    got = pq.read_table(tmp_path / "out").to_pylist()
    assert len(got) == table.num_rows
    _check_per_key(_by_key(got), series_rows, model, mu_scale)
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o2"), "--key", "dev"])
    assert res.exit_code == 2 and res.output.startswith("Error: ") and "pass time='col' (--time)" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "o2").exists()


def test_decision_series_bundle_gives_the_per_step_p_value(spark):
    """The shipped series bundle's scorer outputs p_value: Spark adds it per step, equal to aeruntime's p_value of
    the window ending at each step (NaN in the warm-up), per key, with windows spanning Arrow batches."""
    from aeruntime import spark as aespark
    from aeruntime.series import sliding_windows
    from tests.conftest import ROOT

    bundle = ROOT / "models" / "series-dense"
    model = aeruntime.load(bundle, providers="cpu")
    w, c = model.input_shape
    assert model.calibration_size is not None and c == 2
    demo = runpy.run_path(str(ROOT / "models" / "series_demo.py"))["demo_series"]()[0]  # the bundle's own series
    keys = {"k0": demo[2900:3160], "k1": demo[3700:3930]}  # k1 holds the level shift
    table = pa.table(
        {
            "dev": np.concatenate([[k] * len(x) for k, x in keys.items()]),
            "t": np.concatenate([np.arange(len(x)) for x in keys.values()]),
            "sensor_a": np.concatenate([x[:, 0] for x in keys.values()]).astype(np.float32),
            "sensor_b": np.concatenate([x[:, 1] for x in keys.values()]).astype(np.float32),
        }
    )
    old = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "53")  # windows span batches
    try:
        out = aespark.score(spark.createDataFrame(table.to_pandas()).repartition(2), bundle, key="dev", time="t")
        got = _by_key(r.asDict() for r in out.collect())
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", old)
    assert out.columns == ["dev", "t", "sensor_a", "sensor_b", "score", "label", "p_value", "warmup", "alarm"]
    for k, x in keys.items():
        p = model.p_value(np.ascontiguousarray(sliding_windows(x.astype(np.float32), w)))
        want = np.concatenate([np.full(w - 1, np.nan, np.float32), p])
        np.testing.assert_array_equal(got[k]["p_value"].astype(np.float32), want)
        assert 0 < np.nanmin(want) < np.nanmax(want)  # not one constant
        np.testing.assert_allclose(got[k]["score"], score_series(model, x), rtol=0, atol=1e-6)
