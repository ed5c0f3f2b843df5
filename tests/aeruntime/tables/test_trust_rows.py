"""Issue 19, rows, numbers and cost: a table of hostile inputs with the exact exit code and message.

Rows in = rows out (numeric headers, pandas' ``0,1,...,63``, an empty first cell,
``--header/--no-header``, headers checked against the bundle's feature names); one
wording for values beyond float32 in every format; a finite row whose score overflows
is named; a one-line 5 MB CSV is refused on its first line, cheaply.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime.cli import main
from aeruntime.errors import InvalidInputError
from aeruntime.tables import open_source
from tests.helpers import edit_manifest, needs_pyarrow

N = 64


@pytest.fixture(scope="module")
def ctx(shipped_dense, tmp_path_factory, synthetic_digits) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("trust_rows")
    bundles = {"plain": shipped_dense}
    for name, feats in (("numeric", [str(i) for i in range(N)]), ("px", [f"px{i}" for i in range(N)])):
        dst = root / f"bundle-{name}"
        shutil.copytree(shipped_dense, dst)
        edit_manifest(dst, lambda m, feats=feats: m["input"].__setitem__("feature_names", feats))
        bundles[name] = dst
    return SimpleNamespace(root=root, bundles=bundles, X=synthetic_digits[0][:100].astype(np.float64))


def _csv(path: Path, rows: np.ndarray, header: list[str] | None = None, eol: str = "\n") -> Path:
    lines = ([",".join(header)] if header is not None else []) + [",".join(f"{v:g}" for v in r) for r in rows]
    path.write_bytes((eol.join(lines) + eol).encode())
    return path


def _with(X: np.ndarray, row: int, col: int, value: float) -> np.ndarray:
    X = X.copy()
    X[row, col] = value
    return X


def _blank_first_cell(path: Path, X: np.ndarray) -> Path:
    text = _csv(path, X).read_text()
    path.write_text(text[text.index(",") :])  # the first row starts with an empty cell
    return path


def _parquet(path: Path, X: np.ndarray) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({f"c{j}": X[:, j] for j in range(X.shape[1])}), path)
    return path


def _npz(path: Path, X: np.ndarray) -> Path:
    np.savez(path, X=X)
    return path


def _npy(path: Path, X: np.ndarray) -> Path:
    np.save(path, X)
    return path


def _one_line(path: Path) -> Path:
    path.write_bytes(b",".join([b"1.0"] * 1_250_001) + b"\n")  # 5 MB, one line
    return path


def _long_middle_line(path: Path, X: np.ndarray) -> Path:
    _csv(path, X[:3])
    with open(path, "ab") as fh:
        fh.write(b",".join([b"1.0"] * 1_250_001) + b"\n")
    return path


@dataclass
class Case:
    id: str
    bundle: str  # "plain" (no feature names), "numeric" ("0".."63"), "px" (px0..px63)
    make: Callable[[Path, np.ndarray], Path]  # (folder, rows) -> the input file
    args: tuple[str, ...]  # extra CLI options; "api" as first: Model.score on the rows instead
    code: int  # exit code (API: 2 means InvalidInputError)
    match: str  # regex searched in stderr (API: in the message)
    rows: int | None = None  # rows scored, when it succeeds


P = [str(i) for i in range(N)]
TABLE = [
    # ---------------------------------------------------------------- rows: headers
    Case(
        "pandas-0-63-header", "plain", lambda d, X: _csv(d / "p.csv", X, P), (), 0, r"pandas' default column names", 100
    ),
    Case("pandas-header-crlf", "plain", lambda d, X: _csv(d / "p.csv", X, P, "\r\n"), (), 0, r"with a header", 100),
    Case(
        "pandas-header-is-feature-names",
        "numeric",
        lambda d, X: _csv(d / "p.csv", X, P),
        (),
        0,
        r"with a header \(the first line is the bundle's feature names\)",
        100,
    ),
    Case(
        "pandas-header-other-feature-names",
        "px",
        lambda d, X: _csv(d / "p.csv", X, P),
        (),
        2,
        r"p\.csv: missing 64 of the 64 feature columns .*Columns are matched by name",
    ),
    Case(
        "numeric-header-forced",
        "plain",
        lambda d, X: _csv(d / "n.csv", X, [str(10 * i + 5) for i in range(N)]),
        ("--header",),
        0,
        r"with a header, as --header says",
        100,
    ),
    Case(
        "numeric-header-auto-is-data",
        "plain",
        lambda d, X: _csv(d / "n.csv", X, [str(10 * i + 5) for i in range(N)]),
        (),
        0,
        r"without a header \(the first line is all numbers\)",
        101,
    ),
    Case(
        "no-header-forced-on-0-63-data",
        "plain",
        lambda d, X: _csv(d / "z.csv", np.vstack([np.arange(N), X])),
        ("--no-header",),
        0,
        r"without a header \(the first line is data\), as --no-header says",
        101,
    ),
    Case(
        "empty-first-cell-no-header",
        "plain",
        lambda d, X: _blank_first_cell(d / "e.csv", X),
        (),
        2,
        r"e\.csv: missing value in column 1, line 1; every feature needs a number",
    ),
    Case(
        "header-mismatch-feature-names",
        "px",
        lambda d, X: _csv(d / "m.csv", X, [f"a{i}" for i in range(N)]),
        (),
        2,
        r"missing 64 of the 64 feature columns the model was trained on: \['px0', 'px1'",
    ),
    Case(
        "no-header-forced-on-named-csv",
        "plain",
        lambda d, X: _csv(d / "h.csv", X, [f"a{i}" for i in range(N)]),
        ("--no-header",),
        2,
        r"h\.csv: expected numeric values in every column, but column 1 on line 1 holds 'a0'",
    ),
    Case(
        "header-less-wrong-width",
        "plain",
        lambda d, X: _csv(d / "w.csv", X[:, :10]),
        (),
        2,
        r"w\.csv has 10 features, but the model expects 64\. Pass an array of shape \(n_rows, 64\)",
    ),
    # ---------------------------------------------------------------- numbers: one wording beyond float32
    Case(
        "csv-1e39",
        "plain",
        lambda d, X: _csv(d / "b.csv", _with(X, 1, 5, 1e39)),
        (),
        2,
        r"b\.csv: line 2 \(row 1\), column 6 holds 1e\+39, a value beyond the float32 range \(about ±3\.4e38\)",
    ),
    Case(
        "parquet-1e39",
        "plain",
        lambda d, X: _parquet(d / "b.parquet", _with(X, 1, 5, 1e39)),
        (),
        2,
        r"b\.parquet: row 1, column 'c5' holds 1e\+39, a value beyond the float32 range \(about ±3\.4e38\)",
    ),
    Case(
        "npy-1e39",
        "plain",
        lambda d, X: _npy(d / "b.npy", _with(X, 1, 5, 1e39)),
        (),
        2,
        r"b\.npy: row 1, column 5 holds 1e\+39, a value beyond the float32 range \(about ±3\.4e38\)",
    ),
    Case(
        "npz-1e39",
        "plain",
        lambda d, X: _npz(d / "b.npz", _with(X, 1, 5, -1e39)),
        (),
        2,
        r"b\.npz: row 1, column 5 holds -1e\+39, a value beyond the float32 range \(about ±3\.4e38\)",
    ),
    Case(
        "api-1e39",
        "plain",
        lambda d, X: _with(X, 1, 5, 1e39),  # type: ignore[arg-type,return-value]
        ("api",),
        2,
        r"^X: row 1, column 5 holds 1e\+39, a value beyond the float32 range \(about ±3\.4e38\); the model expects",
    ),
    Case(
        "api-score-overflow",
        "plain",
        lambda d, X: _with(X, 3, 0, 3e38).astype(np.float32),  # type: ignore[arg-type,return-value]
        ("api",),
        2,
        r"^X: row 3 has finite values, but its score overflows to inf \(1 row in all\)",
    ),
    Case(
        "cli-score-overflow",
        "plain",
        lambda d, X: _npy(d / "o.npy", _with(X, 2, 7, -3e38).astype(np.float32)),
        (),
        2,
        r"o\.npy, rows from 0: X: row 2 has finite values, but its score overflows to inf",
    ),
    # ---------------------------------------------------------------- cost
    Case(
        "one-line-5MB",
        "plain",
        lambda d, X: _one_line(d / "one.csv"),
        (),
        2,
        r"one\.csv has 1250001 features, but the model expects 64",
    ),
    Case(
        "5MB-line-in-the-middle",
        "plain",
        lambda d, X: _long_middle_line(d / "mid.csv", X),
        (),
        2,
        r"mid\.csv: line 4 is longer than \d+ bytes, but a line of 64 fields \(the first line's\) should take at most",
    ),
]


@needs_pyarrow
@pytest.mark.parametrize("case", TABLE, ids=[c.id for c in TABLE])
def test_rows_numbers_cost(ctx, tmp_path, case):
    made: Any = case.make(tmp_path, ctx.X)
    bundle = ctx.bundles[case.bundle]
    if case.args[:1] == ("api",):
        model = aeruntime.load(bundle, providers="cpu")
        with pytest.raises(InvalidInputError, match=case.match):
            model.score(made)
        return
    t0 = time.perf_counter()
    r = CliRunner().invoke(main, ["score", str(bundle), str(made), *case.args])
    elapsed = time.perf_counter() - t0
    assert r.exit_code == case.code, r.output
    stderr = r.stderr
    assert len([ln for ln in stderr.splitlines() if ln.startswith("Error:")]) == (case.code != 0)
    assert re.search(case.match, stderr), stderr
    if case.rows is not None:
        lines = r.stdout.strip().splitlines()
        assert lines[0] == "score,label,p_value" and len(lines) - 1 == case.rows  # rows in = rows out
    if made.suffix == ".csv":
        assert stderr.count("note: reading") <= 1  # the header decision, once
    if case.id == "one-line-5MB":
        assert elapsed < 20  # was about 30 s and 6 GB; the reader alone is timed below


@needs_pyarrow
def test_a_one_line_5mb_csv_is_refused_on_its_first_line(tmp_path):
    """The width is known after the first line: refused before anything is parsed (was 29 s, 5.9 GB)."""
    import resource

    path = _one_line(tmp_path / "one.csv")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with pytest.raises(InvalidInputError, match=r"has 1250001 features, but the model expects 64"):
        open_source(path, 1024, row_shape=(N,))
    assert time.perf_counter() - t0 < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB: under 64 MiB


@needs_pyarrow
@pytest.mark.parametrize(
    ("text", "header", "rows", "names"),
    [
        ("0,1,2\n1,2,3\n4,5,6\n", None, 2, ["0", "1", "2"]),  # pandas' default names
        ("0,1,2\n1,2,3\n4,5,6\n", False, 3, None),
        ("5,6,7\n1,2,3\n", None, 2, None),  # all numbers: data
        ("5,6,7\n1,2,3\n", True, 1, ["5", "6", "7"]),
        ('"a","b c",d\r\n1,2,3\r\n', None, 1, ["a", "b c", "d"]),
        ("\n\na,b\n1,2\n\n3,4", None, 2, ["a", "b"]),  # blank lines skipped, no trailing newline
    ],
)
def test_the_header_parameter_of_the_reader(tmp_path, text, header, rows, names):
    path = tmp_path / "h.csv"
    path.write_text(text)
    source = open_source(path, 10, header=header)
    assert sum(len(c) for c in source) == rows
    assert source.columns == names
    assert source.header_note is not None and source.header_note.startswith(f"note: reading {path}")
