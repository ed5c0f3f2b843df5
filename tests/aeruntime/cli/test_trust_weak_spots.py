"""Issue 32's weaker spots: messages that blamed the wrong thing, and --threads beyond the machine.

- a scorer that outputs NaN on moderate, finite rows blames the bundle, not the user's columns;
- ``--threads`` above the CPUs this process may use is bounded, with a note, and scores the same;
- a warning turned into an exception (``PYTHONWARNINGS=error``) is a one-line error, not "this is a bug";
- ``--max-rows 1`` names the option, not the data file;
- a Parquet uint64 beyond the float32 range is a typed error, with no bare numpy warning.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

onnx = pytest.importorskip("onnx", reason="the forged bundles are edited with onnx (pip install onnx)")
numpy_helper = pytest.importorskip("onnx.numpy_helper")

import aeruntime  # noqa: E402
from aeruntime.cli import main  # noqa: E402
from aeruntime.clibase import error_line  # noqa: E402
from aeruntime.sessions import usable_cpus  # noqa: E402
from tests.conformance.corpus import BASE, edit_graph  # noqa: E402
from tests.conftest import SUBPROCESS_ENV  # noqa: E402

BUG = "this is a bug"
ROWS = np.random.default_rng(5).integers(0, 17, (20, 64)).astype(np.float32)


def _nan_initializer(model: onnx.ModelProto) -> None:
    """Every float initializer of the scorer becomes NaN: a graph that scores NaN on any row."""
    for i, t in enumerate(model.graph.initializer):
        a = numpy_helper.to_array(t)
        if a.dtype == np.float32 and a.size > 1:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.full_like(a, np.nan), t.name))


def test_a_nan_scorer_blames_the_bundle_not_the_columns(tmp_path):
    import shutil

    root = tmp_path / "nan-scorer"
    shutil.copytree(BASE, root)
    edit_graph(root, "scorer", _nan_initializer)
    np.save(tmp_path / "x.npy", ROWS)
    r = CliRunner().invoke(main, ["score", str(root), str(tmp_path / "x.npy")])
    assert r.exit_code == 1, r.output
    assert "the bundle is at fault, not your data" in r.output and "aeruntime verify" in r.output
    assert "Rescale" not in r.output and BUG not in r.output


def test_threads_beyond_the_cpus_are_bounded_with_a_note(tmp_path):
    np.save(tmp_path / "x.npy", ROWS)
    many = usable_cpus() + 1000
    r = CliRunner().invoke(main, ["score", str(BASE), str(tmp_path / "x.npy"), "--threads", str(many)])
    assert r.exit_code == 0, r.output
    assert f"note: --threads {many} is more than the {usable_cpus()} CPU(s)" in r.stderr
    got = np.array([float(ln.split(",")[0]) for ln in r.stdout.strip().splitlines()[1:]])
    np.testing.assert_allclose(got, aeruntime.load(BASE, providers="cpu").score(ROWS), rtol=1e-6)


@pytest.mark.parametrize("warning", [UserWarning("x is odd"), RuntimeWarning("overflow encountered in cast")])
def test_a_warning_raised_as_an_error_is_one_typed_line(warning):
    message, code = error_line(warning)
    assert code == 1 and BUG not in message
    assert "warnings are errors here (PYTHONWARNINGS=error" in message and str(warning) in message


def test_max_rows_one_names_the_option(tmp_path):
    np.save(tmp_path / "x.npy", ROWS)
    env = {**SUBPROCESS_ENV, "PYTHONWARNINGS": "error"}
    r = subprocess.run(
        [sys.executable, "-m", "aeexport", "train", str(tmp_path / "x.npy"), "--max-rows", "1", "--out", str(tmp_path / "c")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "max_rows (--max-rows) 1 samples one row" in r.stderr and "x.npy" not in r.stderr and BUG not in r.stderr


def test_parquet_uint64_beyond_float32_is_typed(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    import pyarrow.parquet as pq

    cols = {f"px{i}": pa.array(np.full(3, 2**64 - 1, dtype=np.uint64)) for i in range(64)}
    pq.write_table(pa.table(cols), tmp_path / "u.parquet")
    env = {**SUBPROCESS_ENV, "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "default")}
    r = subprocess.run(
        [sys.executable, "-m", "aeruntime", "score", str(BASE), str(tmp_path / "u.parquet")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("Error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "RuntimeWarning" not in r.stderr and BUG not in r.stderr
