"""``aeruntime spark score`` is quiet: Spark's log at ERROR (``--verbose`` restores it), no pandas-3
advisory, and errors name the ``--features`` option rather than the Python API's ``features=[...]``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from aeruntime.errors import InvalidInputError
from aeruntime.spark.quiet import cli_error
from tests.conftest import MODELS, SUBPROCESS_ENV, _java_problem

pytest.importorskip("pyspark", reason="needs pyspark: the Spark tests run with aeruntime[spark]")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

BUNDLE = MODELS / "digits-dense"


def test_the_api_wording_becomes_the_options():
    api = InvalidInputError(
        "features=None: the bundle records no feature names, and the DataFrame has 3 numeric columns (a, b, c) "
        "and 0 array/vector columns, but the model expects 64 features (input shape (64,)). Pass features=[...] "
        "with the columns in the bundle's feature order, or features='col' for one array/vector column."
    )
    cli = cli_error(api)
    assert type(cli) is InvalidInputError and "features=" not in str(cli)
    assert str(cli).startswith("without --features: the bundle records no feature names")
    assert str(cli).endswith(
        "Pass --features COL1,COL2,... with the columns in the bundle's feature order, or --features COL for "
        "one array/vector column."
    )
    untouched = InvalidInputError("features has 2 columns, but the model expects 64")
    assert cli_error(untouched) is untouched


def _three_columns(tmp_path):
    path = tmp_path / "three.parquet"
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    pq.write_table(pa.table({c: x[:, i] for i, c in enumerate("abc")}), path)
    return path


def test_cli_error_names_the_features_option(spark, tmp_path):
    from aeruntime.cli import main

    src = _three_columns(tmp_path)
    res = CliRunner().invoke(main, ["spark", "score", str(BUNDLE), str(src), "--out", str(tmp_path / "o.parquet")])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("Error: without --features: the bundle records no feature names")
    assert "Pass --features COL1,COL2,..." in res.output and "features=[" not in res.output


def _fresh_jvm(tmp_path, *extra: str) -> subprocess.CompletedProcess[str]:
    problem = _java_problem()
    if problem:
        pytest.skip(problem)
    x = np.random.default_rng(0).uniform(0, 16, (50, 64)).astype(np.float32)
    src = tmp_path / "rows.parquet"
    pq.write_table(pa.table({f"px{i}": x[:, i] for i in range(64)}), src)
    out = tmp_path / f"out{len(extra)}.parquet"
    cmd = [sys.executable, "-m", "aeruntime", "spark", "score", str(BUNDLE), str(src), "--out", str(out)]
    return subprocess.run(
        [*cmd, "--master", "local[1]", *extra], capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=600
    )


def test_a_new_session_prints_errors_only_and_verbose_restores_spark_logging(tmp_path):
    quiet = _fresh_jvm(tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    # the JVM's own notice about incubator modules is not Spark's logging; everything else is ours
    lines = [ln for ln in quiet.stderr.splitlines() if ln.strip() and "incubator modules" not in ln]
    assert len(lines) == 1 and lines[0].startswith("scored 50 rows ->"), quiet.stderr
    verbose = _fresh_jvm(tmp_path, "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    assert 'Setting default log level to "WARN"' in verbose.stderr
