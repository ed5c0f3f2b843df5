"""Scores as CSV on the edge install (no pyarrow): stdout and ``--out scores.csv``, the same bytes as pyarrow's.

The edge path runs in a subprocess where ``import pyarrow`` fails (``sys.modules['pyarrow'] = None``),
so it is exercised whether or not pyarrow is installed here; the byte-for-byte comparison with
pyarrow's writer needs pyarrow and skips without it.
"""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

import aeruntime
from aeruntime.tables.csvtext import csv_lines, format_number
from tests.conftest import MODELS, SUBPROCESS_ENV

BUNDLE = MODELS / "digits-dense"
#: run the aeruntime CLI with pyarrow made unimportable (argv after the script)
NO_PYARROW = "import sys; sys.modules['pyarrow'] = None\nfrom aeruntime.cli import main\nmain(sys.argv[1:])\n"


def _rows(tmp_path, synthetic_digits):
    X = synthetic_digits[0][:300].copy()
    X[:5] *= 4.0  # a few clear anomalies, so both labels occur
    path = tmp_path / "rows.npy"
    np.save(path, X)
    return X, path


def _cli(*args, pyarrow: bool) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", NO_PYARROW] if not pyarrow else [sys.executable, "-m", "aeruntime"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=120)


def test_scores_to_stdout_and_csv_without_pyarrow(tmp_path, synthetic_digits):
    X, rows = _rows(tmp_path, synthetic_digits)
    printed = _cli("score", BUNDLE, rows, pyarrow=False)
    assert printed.returncode == 0, printed.stderr
    written = _cli("score", BUNDLE, rows, "--out", tmp_path / "s.csv", pyarrow=False)
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "s.csv").read_text() == printed.stdout
    lines = printed.stdout.splitlines()
    assert lines[0] == "score,label,p_value" and len(lines) == len(X) + 1
    table = np.array([ln.split(",") for ln in lines[1:]], dtype=np.float64)
    model = aeruntime.load(BUNDLE, providers="cpu")
    want = model.score(X)
    np.testing.assert_array_equal(table[:, 0].astype(np.float32), want)  # shortest text reads back exactly
    np.testing.assert_array_equal(table[:, 1], (want > model.threshold).astype(np.int8))
    np.testing.assert_array_equal(table[:, 2].astype(np.float32), model.p_value(X))  # the decision scorer's p-values
    assert 0 < table[:, 1].sum() < len(X)


def test_the_standard_library_writer_gives_pyarrows_bytes(tmp_path, synthetic_digits):
    pytest.importorskip("pyarrow", reason="needs pyarrow to compare with its CSV writer (aeruntime[tables])")
    _, rows = _rows(tmp_path, synthetic_digits)
    for job, extra in (("score", ()), ("encode", ()), ("encode", ("--codes", "float16")), ("reconstruct", ())):
        a, b = tmp_path / f"a-{job}.csv", tmp_path / f"b-{job}.csv"
        for out, pyarrow in ((a, True), (b, False)):
            r = _cli(job, BUNDLE, rows, *extra, "--out", out, pyarrow=pyarrow)
            assert r.returncode == 0, r.stderr
        assert a.read_bytes() == b.read_bytes(), (job, extra)


def test_number_format_matches_pyarrow_over_every_magnitude():
    pa = pytest.importorskip("pyarrow", reason="needs pyarrow to compare with its CSV writer (aeruntime[tables])")
    pacsv = pytest.importorskip("pyarrow.csv")
    rng = np.random.default_rng(0)
    n = 20000
    mag = 10.0 ** rng.uniform(-12, 30, n) * rng.choice([-1.0, 1.0], n)
    f32 = mag.astype(np.float32)
    f32[:9] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4028235e38, 1e-6, 1e10]
    cols = [f32, mag, rng.normal(0, 100, n).astype(np.float16), rng.integers(-128, 128, n).astype(np.int8)]
    buf = io.BytesIO()
    table = pa.table({f"c{i}": pa.array(c) for i, c in enumerate(cols)})
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    assert csv_lines(cols) == buf.getvalue()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.float32(0.034935698), "0.034935698"),
        (np.float32(1e-6), "0.000001"),
        (np.float32(1.5e-7), "1.5e-7"),
        (np.float32(1.5e9), "1500000000"),
        (np.float32(1e10), "1e+10"),
        (np.float32(-0.0), "-0"),
        (np.float32(np.nan), "nan"),
        (np.int8(-3), "-3"),
    ],
)
def test_number_format_examples(value, text):
    assert format_number(value) == text
