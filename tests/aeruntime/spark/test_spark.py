"""aeruntime.spark on a local[2,2] Spark session: same numbers as aeruntime, bad rows, schema errors,
one model load per Python worker, retried tasks, shipping the bundle, the CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeexport.settings import ExportOptions
from aeruntime.errors import InvalidInputError
from tests.conftest import MODELS, SUBPROCESS_ENV

pytest.importorskip("pyspark", reason="needs pyspark: the Spark tests run with aeruntime[spark]")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.slow

N_ROWS = 240
COLS = [f"px{i}" for i in range(64)]


@pytest.fixture(scope="module")
def rows(digits):
    """(240, 64) float32 digits rows with ids 1000.."""
    X = digits[0][:N_ROWS].copy()
    return np.arange(1000, 1000 + N_ROWS, dtype=np.int64), X


@pytest.fixture(scope="module")
def table_path(tmp_path_factory, rows):
    """Parquet file: id (long), px0..px63 (float32)."""
    ids, X = rows
    path = tmp_path_factory.mktemp("spark") / "digits.parquet"
    pq.write_table(pa.table({"id": ids, **{c: X[:, i] for i, c in enumerate(COLS)}}), path)
    return path


@pytest.fixture(scope="module")
def df(spark, table_path):
    from pyspark.sql import functions as F

    d = spark.read.parquet(str(table_path))
    return d.repartition(3, "id").sortWithinPartitions("id").withColumn("v", F.array(*COLS)).cache()


def _trained_bundle(tmp_path_factory, digits_split, kind, name, **options):
    from aeexport.export import export_bundle
    from aeexport.settings import TrainConfig
    from aeexport.train import train_model

    res = train_model(
        digits_split.train,
        digits_split.val,
        kind=kind,
        model_options=options or None,
        config=TrainConfig(epochs=3, patience=3, progress=False, seed=0),
    )
    out = tmp_path_factory.mktemp("spark-bundles") / name
    export_bundle(
        res.model,
        out,
        calibration_x=digits_split.val,
        training=res.summary(),
        dataset={"feature_names": COLS},
        options=ExportOptions(batches=(1, 7)),
    )
    return out


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, digits_split):
    """The five kinds (shipped dense/conv/vae; sparse and denoising trained briefly) and one int8 variant."""
    from aeexport.variants import make_variant

    tmp = tmp_path_factory.mktemp("spark-int8")
    make_variant(MODELS / "digits-dense", "int8-dynamic", tmp / "dense-int8")
    return {
        "dense": MODELS / "digits-dense",
        "conv": MODELS / "digits-conv",
        "vae": MODELS / "digits-vae",
        "sparse": _trained_bundle(tmp_path_factory, digits_split, "sparse", "sparse"),
        "denoising": _trained_bundle(tmp_path_factory, digits_split, "denoising", "denoising"),
        "dense-int8": tmp / "dense-int8",
    }


def _ordered(pdf_or_rows, key="id"):
    return sorted(pdf_or_rows, key=lambda r: r[key])


def _collect(out, *cols):
    """Rows of the output as numpy arrays per column, in id order."""
    got = _ordered([r.asDict() for r in out.select("id", *cols).collect()])
    return {c: [r[c] for r in got] for c in ("id", *cols)}


@pytest.mark.parametrize("kind", ["dense", "conv", "vae", "sparse", "denoising", "dense-int8"])
def test_scores_equal_the_runtime(df, rows, bundles, kind):
    from aeruntime import spark as aespark

    ids, X = rows
    b = bundles[kind]
    model = aeruntime.load(b)
    got = _collect(aespark.score(df, b, COLS), "score", "label")
    assert got["id"] == ids.tolist()  # every id once, with its row
    if kind.endswith("int8"):
        # Dynamic int8 quantises activations with ranges taken from the whole call, so a score
        # depends on the batch it is computed in: compare with the runtime on Spark's batches
        # (one per partition here, always the same ones, so retries still agree).
        ref = np.empty(N_ROWS, np.float32)
        for part in df.select("id").rdd.glom().collect():
            pos = np.array([r.id for r in part]) - ids[0]
            if len(pos):
                ref[pos] = model.score(X[pos])
    else:
        ref = model.score(X.reshape(-1, *model.input_shape))
    np.testing.assert_allclose(np.array(got["score"], np.float32), ref, rtol=0, atol=1e-6)
    assert got["label"] == (ref > model.threshold).astype(int).tolist()


def test_array_and_vector_columns_give_the_same_scores(df, rows):
    from pyspark.ml.functions import array_to_vector

    from aeruntime import spark as aespark

    _ids, X = rows
    b = MODELS / "digits-conv"  # input (1, 8, 8): the 64 values of a row are reshaped
    ref = aeruntime.load(b).score(X.reshape(-1, 1, 8, 8))
    by_array = _collect(aespark.score(df, b, "v", keep=["id"]), "score")
    by_vector = _collect(aespark.score(df.withColumn("vec", array_to_vector("v")), b, "vec", keep=["id"]), "score")
    by_default = _collect(aespark.score(df.select("id", "v"), b), "score")  # the only array column
    np.testing.assert_allclose(by_array["score"], ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(by_vector["score"], ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(by_default["score"], ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("output", ["array", "columns", "vector"])
def test_encode_and_reconstruct(df, rows, output):
    from aeruntime import spark as aespark

    _ids, X = rows
    b = MODELS / "digits-vae"
    model = aeruntime.load(b)
    enc = aespark.encode(df, b, "v", output=output, keep=["id"])
    rec = aespark.reconstruct(df, b, COLS, output=output, keep=["id"])
    enc_rows = _ordered([r.asDict() for r in enc.collect()])
    rec_rows = _ordered([r.asDict() for r in rec.collect()])
    if output == "columns":
        assert enc.columns == ["id", *[f"latent_{k}" for k in range(16)]]
        z = np.array([[r[f"latent_{k}"] for k in range(16)] for r in enc_rows])
        x_hat = np.array([[r[f"reconstruction_{k}"] for k in range(64)] for r in rec_rows])
    else:
        assert enc.columns == ["id", "latent"]
        z = np.array([np.asarray(r["latent"]) for r in enc_rows])
        x_hat = np.array([np.asarray(r["reconstruction"]) for r in rec_rows])
    np.testing.assert_allclose(z, model.encode(X), rtol=0, atol=1e-6)  # VAE: the posterior mean
    np.testing.assert_allclose(x_hat, model.reconstruct(X), rtol=0, atol=1e-5)


def test_pass_through_columns_and_row_order(spark, df):
    from pyspark.sql import functions as F

    from aeruntime import spark as aespark

    src = df.withColumn("part", F.spark_partition_id()).withColumn("tag", F.concat(F.lit("r"), F.col("id")))
    out = aespark.score(src, MODELS / "digits-dense", COLS, keep=["tag", "id", "part"])
    assert out.columns == ["tag", "id", "part", "score", "label", "p_value"]  # a decision scorer (models/ rebuilt)
    assert dict(out.dtypes)["score"] == "float" and dict(out.dtypes)["label"] == "int"
    got = [(r.tag, r.id, r.part) for r in out.collect()]
    assert got == [(r.tag, r.id, r.part) for r in src.select("tag", "id", "part").collect()]  # same order


@pytest.fixture()
def bad_df(df):
    """df with px5 null at id 1017 and px9 NaN at id 1100 (two bad rows)."""
    from pyspark.sql import functions as F

    return df.withColumn("px5", F.when(F.col("id") == 1017, F.lit(None)).otherwise(F.col("px5"))).withColumn(
        "px9", F.when(F.col("id") == 1100, F.lit(float("nan"))).otherwise(F.col("px9"))
    )


@pytest.mark.parametrize("engine", ["arrow_udf", "mapInArrow"])
@pytest.mark.parametrize("keep", [None, ["id"]])  # features passed through / packed into one array
def test_bad_rows_fail_naming_the_column_and_the_row(bad_df, keep, engine):
    from aeruntime import spark as aespark

    out = aespark.score(bad_df.filter("id < 1050"), MODELS / "digits-dense", COLS, keep=keep, engine=engine)
    with pytest.raises(Exception, match=r"column 'px5' is null at row \d+ of partition \d+ \(id=1017[,)]") as e:
        out.collect()
    assert "InvalidInputError" in str(e.value) and "on_invalid='null'" in str(e.value)


def test_bad_rows_get_null_scores_and_are_counted(spark, bad_df, rows):
    from aeruntime import spark as aespark

    ids, X = rows
    report = aespark.ScoreReport(spark)
    got = _collect(
        aespark.score(bad_df, MODELS / "digits-dense", COLS, on_invalid="null", report=report, keep=["id"]),
        "score",
        "label",
    )
    bad = {1017, 1100}
    assert [i for i, s in zip(got["id"], got["score"]) if s is None] == sorted(bad)
    assert [i for i, s in zip(got["id"], got["label"]) if s is None] == sorted(bad)
    keep = ~np.isin(ids, list(bad))
    ref = aeruntime.load(MODELS / "digits-dense").score(X[keep])
    np.testing.assert_allclose([s for s in got["score"] if s is not None], ref, rtol=0, atol=1e-6)
    assert report.invalid_rows == 2 and report.rows == N_ROWS
    enc = _collect(aespark.encode(bad_df, MODELS / "digits-dense", COLS, on_invalid="null", keep=["id"]), "latent")
    assert [i for i, z in zip(enc["id"], enc["latent"]) if z is None] == sorted(bad)
    np.testing.assert_allclose(
        [z for z in enc["latent"] if z is not None],
        aeruntime.load(MODELS / "digits-dense").encode(X[keep]),
        rtol=0,
        atol=1e-6,
    )


def test_engines_give_identical_rows_and_counts(spark, bad_df):
    from aeruntime import spark as aespark

    got, counts = {}, {}
    for engine in aespark.ENGINES:
        report = aespark.ScoreReport(spark)
        out = aespark.score(bad_df, MODELS / "digits-dense", COLS, on_invalid="null", report=report, engine=engine)
        assert out.columns == [*bad_df.columns, "score", "label", "p_value"]
        got[engine] = [tuple("nan" if v != v else v for v in r) for r in out.collect()]  # NaN == NaN here
        counts[engine] = {k: v for k, v in report.as_dict().items() if k in ("rows", "invalid_rows", "anomalies")}
    assert got["arrow_udf"] == got["mapInArrow"]  # same rows, order, pass-through values and bits
    assert (
        counts["arrow_udf"]
        == counts["mapInArrow"]
        == {"rows": N_ROWS, "invalid_rows": 2, "anomalies": counts["mapInArrow"]["anomalies"]}
    )
    assert counts["mapInArrow"]["anomalies"] == sum(1 for r in got["mapInArrow"] if r[-2] == 1)  # label, before p_value
    with pytest.raises(InvalidInputError, match=r"engine must be one of \['arrow_udf', 'mapInArrow'\], got 'rdd'"):
        aespark.score(bad_df, MODELS / "digits-dense", COLS, engine="rdd")


def test_schema_errors_fail_before_any_task(spark, df):
    from pyspark.sql import functions as F

    from aeruntime import spark as aespark

    b = MODELS / "digits-dense"
    sc = spark.sparkContext
    sc.setJobGroup("aeruntime-schema", "schema checks")
    try:
        with pytest.raises(InvalidInputError, match=r"the DataFrame: missing 1 of the 64 feature columns: \['px63'\]"):
            aespark.score(df.drop("px63"), b, COLS)
        with pytest.raises(
            InvalidInputError,
            match=r"feature column 'px3' has type string, but the model expects "
            r"numeric columns.*cast\('double'\)",
        ):
            aespark.score(df.withColumn("px3", F.col("px3").cast("string")), b, COLS)
        with pytest.raises(InvalidInputError, match=r"features has 63 columns, but the model expects 64"):
            aespark.score(df, b, COLS[:-1])
        with pytest.raises(
            InvalidInputError,
            match=r"feature column 'id2' has type array<string>, but the model "
            r"expects an array of numbers",
        ):
            aespark.score(df.withColumn("id2", F.array(F.col("id").cast("string"))), b, "id2")
        with pytest.raises(InvalidInputError, match=r"output column 'score' is already in the DataFrame"):
            aespark.score(df.withColumn("score", F.lit(1.0)), b, COLS)
        with pytest.raises(
            InvalidInputError,
            match=r"batch_size=20000 is larger than "
            r"spark.sql.execution.arrow.maxRecordsPerBatch=10000",
        ):
            aespark.score(df, b, COLS, batch_size=20000)
        with pytest.raises(InvalidInputError, match=r"threshold must be a finite number"):
            aespark.score(df, b, COLS, threshold=float("nan"))
        assert sc.statusTracker().getJobIdsForGroup("aeruntime-schema") == []  # no job, so no task, ran
    finally:
        sc.setJobGroup(None, None)


def test_wrong_array_length_names_the_row(df):
    from pyspark.sql import functions as F

    from aeruntime import spark as aespark

    short = df.withColumn("v", F.when(F.col("id") == 1002, F.slice("v", 1, 63)).otherwise(F.col("v")))
    with pytest.raises(
        Exception,
        match=r"column 'v' holds an array of 63 values at row \d+ of partition \d+ "
        r"\(id=1002.*but the model expects 64",
    ):
        aespark.score(short.filter("id < 1010"), MODELS / "digits-dense", "v", on_invalid="null").collect()


def test_feature_names_select_columns_by_name(df, rows, bundles):
    from aeruntime import spark as aespark

    _ids, X = rows
    b = bundles["sparse"]  # exported with feature names px0..px63
    assert aeruntime.load(b).manifest["input"]["feature_names"] == COLS
    shuffled = df.select("id", *reversed(COLS))  # by name, not by position
    got = _collect(aespark.score(shuffled, b), "score")
    np.testing.assert_allclose(got["score"], aeruntime.load(b).score(X), rtol=0, atol=1e-6)
    with pytest.raises(
        InvalidInputError, match=r"the DataFrame: missing 2 of the 64 feature columns: \['px0', 'px1'\]"
    ):
        aespark.score(df.drop("px0", "px1"), b)
    with pytest.raises(InvalidInputError, match=r"matches columns by name.*missing \['px63'\]"):
        aespark.score(df.withColumnRenamed("px63", "last"), b, [*COLS[:-1], "last"])


@pytest.mark.parametrize("engine", ["arrow_udf", "mapInArrow"])
def test_model_loads_once_per_worker_not_per_batch(spark, df, tmp_path, engine):
    from pyspark.sql import functions as F

    from aeruntime import spark as aespark

    b = tmp_path / "fresh"  # a path no worker has cached yet
    shutil.copytree(MODELS / "digits-dense", b)
    many = df.repartition(8)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "10")
    try:
        first, second = aespark.ScoreReport(spark), aespark.ScoreReport(spark)
        # an action that reads the scores (with engine="arrow_udf", count() alone prunes the model away)
        n = aespark.score(many, b, COLS, report=first, engine=engine).agg(F.count("score")).first()[0]
        assert n == N_ROWS
        aespark.score(many, b, COLS, report=second, engine=engine).agg(F.count("score")).first()
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert first.batches >= 24 and first.rows == N_ROWS  # 8 partitions, batches of at most 10 rows
    assert first.model_loads == len(first.workers) <= 3  # one load per Python worker (local[2]: 2, rarely 3)
    assert first.model_loads < many.rdd.getNumPartitions()
    assert second.model_loads <= len(second.workers - first.workers)  # reused workers load nothing again
    assert first.bundle_paths == {str(b)}
    assert first.threads == {int(spark.sparkContext.getConf().get("spark.task.cpus", "1"))} == {1}


def test_bundle_shipped_with_addfile(spark, df, rows, tmp_path):
    from pyspark import SparkFiles

    from aeruntime import spark as aespark

    _ids, X = rows
    b = tmp_path / "shipped-bundle"
    shutil.copytree(MODELS / "digits-vae", b)
    report = aespark.ScoreReport(spark)
    got = _collect(aespark.score(df, b, COLS, ship=True, report=report), "score")
    np.testing.assert_allclose(got["score"], aeruntime.load(b).score(X), rtol=0, atol=1e-6)
    # the workers read their SparkFiles copy, not the driver's path
    assert report.bundle_paths
    assert all(p != str(b) and p.startswith(SparkFiles.getRootDirectory()) for p in report.bundle_paths)


def test_a_changed_bundle_on_an_executor_is_an_integrity_error(df, tmp_path):
    from aeruntime import spark as aespark

    b = tmp_path / "changing"
    shutil.copytree(MODELS / "digits-dense", b)
    out = aespark.score(df, b, COLS)  # the driver read the manifest now
    m = json.loads((b / "manifest.json").read_text())
    m["created"] = "changed after the driver read it"
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(
        Exception,
        match=r"IntegrityError: the bundle at .*changing on executor .* is not the one "
        r"the driver read",
    ):
        out.collect()


def test_retried_task_gives_identical_output(spark, df, tmp_path):
    from pyspark import TaskContext

    from aeruntime import spark as aespark

    marker = tmp_path / "failed-once"

    def flaky(batches):
        tc = TaskContext.get()
        if tc.partitionId() == 1 and tc.attemptNumber() == 0:
            marker.write_text(str(tc.taskAttemptId()))
            raise RuntimeError("injected first-attempt failure")
        yield from batches

    b = MODELS / "digits-conv"
    clean = aespark.score(df, b, "v", keep=["id"]).collect()
    retried = aespark.score(df.mapInArrow(flaky, df.schema), b, "v", keep=["id"]).collect()
    assert marker.exists()  # partition 1 really failed once (local[2,2] retries it)
    assert [tuple(r) for r in retried] == [tuple(r) for r in clean]  # same rows, same order, same bits


def _spark_score(main, source, *args: str):
    """``aeruntime spark score digits-dense SOURCE ARGS...`` in-process."""
    return CliRunner().invoke(main, ["spark", "score", str(MODELS / "digits-dense"), str(source), *args])


def test_cli_scores_parquet_end_to_end(spark, table_path, rows, tmp_path):
    from aeruntime.cli import main

    ids, X = rows
    out = tmp_path / "scored.parquet"
    res = _spark_score(main, table_path, "--out", str(out), "--features", ",".join(COLS), "--keep", "id")
    assert res.exit_code == 0, res.output
    assert f"scored {N_ROWS} rows -> {out}" in res.output
    t = pq.read_table(out).to_pydict()
    order = np.argsort(t["id"])
    assert np.array(t["id"])[order].tolist() == ids.tolist()
    np.testing.assert_allclose(
        np.array(t["score"])[order], aeruntime.load(MODELS / "digits-dense").score(X), rtol=0, atol=1e-6
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left beside it
    marker = json.loads((out / "_aeruntime.json").read_text())  # our marker: the next run may replace it
    parts = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "_aeruntime.json")
    assert marker["files"] == parts and any(p.startswith("part-") for p in parts)
    assert marker["sha256"] == {p: hashlib.sha256((out / p).read_bytes()).hexdigest() for p in parts}
    again = _spark_score(main, table_path, "--out", str(out), "--features", ",".join(COLS))
    assert again.exit_code == 0, again.output
    (out / "notes.txt").write_text("mine")
    refused = _spark_score(main, table_path, "--out", str(out), "--features", ",".join(COLS))
    assert refused.exit_code == 2 and "file(s) it did not write: notes.txt" in refused.output
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    part = next(out.glob("part-*"))
    part.write_bytes(b"the user's edit")  # listed, but no longer what we wrote
    refused = _spark_score(main, table_path, "--out", str(out), "--features", ",".join(COLS))
    assert refused.exit_code == 2 and "is not a table written by `aeruntime spark score`" in refused.output
    assert part.read_bytes() == b"the user's edit"


def test_cli_errors_are_one_line(spark, table_path, tmp_path):
    from aeruntime.cli import main

    res = _spark_score(main, table_path, "--out", str(tmp_path / "o.parquet"), "--features", "px0,px1")
    assert res.exit_code == 2
    assert res.output.startswith("Error: features has 2 columns, but the model expects 64")
    assert "Traceback" not in res.output


def test_cli_csv_bad_row_fails_naming_the_column(spark, rows, tmp_path):
    from aeruntime.cli import main

    ids, X = rows
    src = tmp_path / "in.csv"
    lines = ["id," + ",".join(COLS)] + [f"{i}," + ",".join(map(str, x)) for i, x in zip(ids[:20], X[:20])]
    cells = lines[4].split(",")  # id 1003
    cells[1] = ""  # an empty px0
    lines[4] = ",".join(cells)
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.csv"
    args = ["spark", "score", str(MODELS / "digits-dense"), str(src), "--out", str(out), "--features", ",".join(COLS)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    assert "column 'px0' is null at row" in res.output and "(id=1003" in res.output
    assert not out.exists()
    ok = CliRunner().invoke(main, [*args, "--on-invalid", "null"])
    assert ok.exit_code == 0, ok.output
    assert "1 rows with null/NaN/Inf features got a null score" in ok.output
    assert len(list(out.glob("part-*.csv"))) >= 1


def test_importing_aeruntime_does_not_import_pyspark():
    code = "import sys, aeruntime, aeruntime.spark, aeruntime.cli, aeruntime.doctor; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=SUBPROCESS_ENV, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
