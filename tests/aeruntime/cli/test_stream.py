"""Streaming `aeruntime score`: chunked .npy/.csv/Parquet input, output written as it goes."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime.cli import main as aeruntime_main
from aeruntime.tables import open_sink, open_source
from tests.helpers import needs_pyarrow

BATCH = 128  # smaller than the file: 1797 rows -> 15 chunks


@pytest.fixture(scope="module")
def one_shot(shipped_dense, synthetic_digits):
    X, y = synthetic_digits
    m = aeruntime.load(shipped_dense, providers="cpu")
    s = m.score(X)
    return X, y, s, (s > m.threshold).astype(np.int8)


def _score(bundle, inp, out, *extra):
    res = CliRunner().invoke(
        aeruntime_main, ["score", str(bundle), str(inp), "--out", str(out), "--batch-size", str(BATCH), *extra]
    )
    assert res.exit_code == 0, res.output
    return res


def _check_npy(out, s, labels):
    rec = np.load(out, allow_pickle=False)
    np.testing.assert_array_equal(rec["score"], s)
    np.testing.assert_array_equal(rec["label"], labels)


@needs_pyarrow
def test_npy_stream_equals_one_shot_and_releases_chunks(shipped_dense, one_shot, tmp_path):
    X, _, s, labels = one_shot
    np.save(tmp_path / "x.npy", X)
    chunks = list(open_source(tmp_path / "x.npy", BATCH, row_shape=(64,)))
    assert len(chunks) == -(-len(X) // BATCH) and sum(c.progress for c in chunks) == len(X)
    res = _score(shipped_dense, tmp_path / "x.npy", tmp_path / "s.npy")
    _check_npy(tmp_path / "s.npy", s, labels)
    assert "scoring" not in res.output  # no progress bar when stderr is not a terminal
    np.save(tmp_path / "x64.npy", X.astype(np.float64))
    _score(shipped_dense, tmp_path / "x64.npy", tmp_path / "s64.csv")
    got = np.loadtxt(tmp_path / "s64.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(got[:, 0].astype(np.float32), s)  # shortest round-trip float32 text
    np.testing.assert_array_equal(got[:, 1], labels)


@needs_pyarrow
def test_csv_stream_equals_one_shot_with_header_and_label_column(shipped_dense, one_shot, tmp_path):
    X, y, s, labels = one_shot
    header = ",".join([f"f{i}" for i in range(32)] + ["label"] + [f"f{i}" for i in range(32, 64)])
    table = np.column_stack([X[:, :32], y, X[:, 32:]])
    np.savetxt(tmp_path / "x.csv", table, delimiter=",", header=header, comments="", fmt="%.9g")
    _score(shipped_dense, tmp_path / "x.csv", tmp_path / "s.npy", "--label-column", "label")
    _check_npy(tmp_path / "s.npy", s, labels)
    np.savetxt(tmp_path / "plain.csv", X, delimiter=",", fmt="%.9g")  # no header
    res = CliRunner().invoke(
        aeruntime_main, ["score", str(shipped_dense), str(tmp_path / "plain.csv"), "--batch-size", str(BATCH)]
    )
    assert res.exit_code == 0
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "score,label,p_value" and len(lines) == len(X) + 1
    np.testing.assert_array_equal(np.array([float(v.split(",")[0]) for v in lines[1:]], np.float32), s)


@needs_pyarrow
def test_parquet_stream_equals_one_shot(shipped_dense, one_shot, tmp_path):
    import pyarrow as pa  # a test dependency (pip install -e ".[test]"): never skipped
    import pyarrow.parquet as pq

    X, y, s, labels = one_shot
    cols = {f"f{i}": X[:, i] for i in range(64)}
    cols["label"] = y
    pq.write_table(pa.table(cols), tmp_path / "x.parquet", row_group_size=500)
    src = open_source(tmp_path / "x.parquet", BATCH, label_column="label")
    assert src.n_rows == len(X)
    _score(shipped_dense, tmp_path / "x.parquet", tmp_path / "s.csv", "--label-column", "label")
    got = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(got[:, 0].astype(np.float32), s)
    np.testing.assert_array_equal(got[:, 1], labels)


@needs_pyarrow
def test_failed_stream_leaves_no_partial_output(shipped_dense, one_shot, tmp_path):
    X = one_shot[0].copy()
    X[1500, 3] = np.nan  # in a late chunk: earlier chunks were already written to the temp file
    np.save(tmp_path / "bad.npy", X)
    (tmp_path / "s.csv").write_text("old\n")
    res = CliRunner().invoke(
        aeruntime_main,
        [
            "score",
            str(shipped_dense),
            str(tmp_path / "bad.npy"),
            "--out",
            str(tmp_path / "s.csv"),
            "--batch-size",
            str(BATCH),
        ],
    )
    assert res.exit_code == 2 and "NaN" in res.output
    assert "bad.npy: row 1500, column 3 holds a NaN" in res.output  # the row in the file, not in the chunk
    assert (tmp_path / "s.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy", "s.csv"]


def test_sink_rejects_unknown_suffix(tmp_path):
    with pytest.raises(aeruntime.InvalidInputError, match="unsupported output type"), open_sink(tmp_path / "s.txt"):
        pass
