"""aeruntime.spark with a decision scorer (outputs score, label, p_value): the p_value column and the
fpr/fdr operating points equal Model.decide / Model.predict on the same rows, in both engines and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime.errors import InvalidInputError
from tests.aeruntime.spark.test_spark import COLS, _trained_bundle, pa, pq  # skipped there without pyspark

pytestmark = pytest.mark.slow

N_ROWS = 300


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, digits_split):
    """A dense bundle exported now: its scorer outputs score, label and p_value."""
    return _trained_bundle(tmp_path_factory, digits_split, "dense", "dense")


@pytest.fixture(scope="module")
def rows(digits_split):
    """(300, 64) test rows (normal and anomalous) with ids 0.."""
    return np.arange(N_ROWS, dtype=np.int64), digits_split.test[:N_ROWS].astype(np.float32)


@pytest.fixture(scope="module")
def df(spark, rows):
    """One partition in id order: its Arrow batch holds the rows as ``rows`` does (one BH set for fdr)."""
    ids, X = rows
    table = pa.table({"id": ids, **{c: X[:, i] for i, c in enumerate(COLS)}})
    return spark.createDataFrame(table.to_pandas()).repartition(1).sortWithinPartitions("id").cache()


def _got(out, *cols):
    got = sorted((r.asDict() for r in out.collect()), key=lambda r: r["id"])
    return {c: np.array([r[c] for r in got]) for c in ("id", *cols)}


@pytest.mark.parametrize("engine", ["mapInArrow", "arrow_udf"])
def test_p_values_and_labels_equal_model_decide_and_predict(df, rows, bundle, engine):
    from aeruntime import spark as aespark

    ids, X = rows
    model = aeruntime.load(bundle)
    s, label, p = model.decide(X)
    out = aespark.score(df, bundle, engine=engine, keep=["id"])
    assert out.columns == ["id", "score", "label", "p_value"]
    got = _got(out, "score", "label", "p_value")
    np.testing.assert_array_equal(got["id"], ids)
    np.testing.assert_allclose(got["score"].astype(np.float32), s, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(got["p_value"].astype(np.float32), p)
    np.testing.assert_array_equal(got["label"], label.astype(int))
    assert 0 < label.sum() < N_ROWS
    for point in ({"fpr": 0.01}, {"fpr": 0.2}, {"fdr": 0.1}):
        want = model.predict(X, **point)  # fdr: Benjamini-Hochberg over these 300 rows, as Spark's one batch
        got = _got(aespark.score(df, bundle, engine=engine, keep=["id"], **point), "label")
        np.testing.assert_array_equal(got["label"], want.astype(int), err_msg=str(point))
    t = float(np.median(s))
    got = _got(aespark.score(df, bundle, engine=engine, keep=["id"], threshold=t), "label", "p_value")
    np.testing.assert_array_equal(got["label"], (s > t).astype(int))  # the override moves labels, not p-values
    np.testing.assert_array_equal(got["p_value"].astype(np.float32), p)


def test_fdr_is_per_chunk_of_batch_size_rows(df, rows, bundle):
    from aeruntime import spark as aespark
    from aeruntime.decisions import benjamini_hochberg

    _ids, X = rows
    p = aeruntime.load(bundle).p_value(X)
    want = np.concatenate([benjamini_hochberg(p[i : i + 64], 0.1) for i in range(0, N_ROWS, 64)])
    got = _got(aespark.score(df, bundle, keep=["id"], fdr=0.1, batch_size=64), "label")
    np.testing.assert_array_equal(got["label"], want.astype(int))


def test_operating_point_errors_before_any_task(df, bundle):
    from aeruntime import spark as aespark

    with pytest.raises(InvalidInputError, match=r"pass fpr \(0.1\) or fdr \(0.1\), not both"):
        aespark.score(df, bundle, fpr=0.1, fdr=0.1)
    with pytest.raises(InvalidInputError, match=r"fpr must be a number in \(0, 1\), got 2"):
        aespark.score(df, bundle, fpr=2)
    with pytest.raises(InvalidInputError, match=r"key/time order the time steps of a series bundle"):
        aespark.score(df, bundle, time="id")


def test_cli_writes_p_values_at_an_fpr(spark, rows, bundle, tmp_path):
    from aeruntime.cli import main

    ids, X = rows
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ids, **{c: X[:, i] for i, c in enumerate(COLS)}}), src)
    out = tmp_path / "out.parquet"
    res = CliRunner().invoke(main, ["spark", "score", str(bundle), str(src), "--out", str(out), "--fpr", "0.05"])
    assert res.exit_code == 0, res.output
    t = pq.read_table(out).sort_by("id").to_pydict()
    model = aeruntime.load(bundle)
    np.testing.assert_array_equal(np.array(t["p_value"], np.float32), model.p_value(X))
    np.testing.assert_array_equal(t["label"], model.predict(X, fpr=0.05).astype(int).tolist())
