"""``aeruntime doctor`` says whether aeruntime.spark can run: pyspark, pyarrow, a Java runtime new enough."""

from __future__ import annotations

import json
import stat
import subprocess

import pytest

from tests.conftest import BIN, ROOT, SUBPROCESS_ENV

pytest.importorskip("pyspark", reason="needs pyspark: the Spark tests run with aeruntime[spark]")


def _fake_java(tmp_path, version: str):
    home = tmp_path / f"jdk-{version}"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2021-01-01' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return home


def _run(*args: str, env: dict | None = None, timeout: int = 60) -> subprocess.CompletedProcess:
    """Run a command of this venv (``aeruntime``, ``python``) with the test environment."""
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], env=env or SUBPROCESS_ENV, capture_output=True, text=True, timeout=timeout
    )


def _doctor(env):
    res = _run("aeruntime", "doctor", "--json", env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["spark"]


def test_doctor_reports_pyspark_and_java(tmp_path):
    pyspark = pytest.importorskip("pyspark")
    major = int(pyspark.__version__.split(".")[0])
    new = _doctor({**SUBPROCESS_ENV, "JAVA_HOME": str(_fake_java(tmp_path, "17.0.9"))})
    assert new["pyspark"] == pyspark.__version__ and new["java"]["major"] == 17
    assert new["usable"] is True and new["problems"] == []
    old = _doctor({**SUBPROCESS_ENV, "JAVA_HOME": str(_fake_java(tmp_path, "1.8.0_292"))})
    assert old["java"]["major"] == 8
    if major >= 4:
        assert old["usable"] is False
        assert old["problems"] == [f"Java 8 is too old for PySpark {pyspark.__version__} (needs 17+)"]
    gone = _doctor({**SUBPROCESS_ENV, "JAVA_HOME": str(tmp_path / "nothing")})  # PySpark, too, reads only JAVA_HOME
    assert gone["usable"] is False and "no usable Java runtime" in gone["problems"][0]


def test_doctor_text_has_a_spark_verdict(tmp_path):
    res = _run("aeruntime", "doctor", env={**SUBPROCESS_ENV, "JAVA_HOME": str(tmp_path / "no")}, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "spark        aeruntime.spark (pyspark + pyarrow + Java)" in res.stdout
    assert "NOT usable: no usable Java runtime (no java on PATH or in JAVA_HOME)" in res.stdout


def test_spark_cli_runs_as_a_spark_submit_script():
    """spark-submit runs the module file as a script: it must import aeruntime absolutely, not shadow stdlib."""
    found = _run("python", "-m", "aeruntime.spark.submit", "--script")
    assert found.returncode == 0, found.stderr
    path = found.stdout.strip()
    assert path.endswith("aeruntime/spark/submit.py")
    res = _run("python", path, "score", "--help")
    assert res.returncode == 0, res.stderr
    assert "Score INPUT (Parquet or CSV) with BUNDLE on Spark" in res.stdout
    res = _run("python", path, "score", str(ROOT / "models" / "digits-dense"), "table.unknown", "--out", "o.parquet")
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("Error: cannot tell the format of 'table.unknown'")
