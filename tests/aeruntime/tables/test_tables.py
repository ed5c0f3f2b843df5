"""Table input and output (aeruntime.tables): CSV/Parquet errors that name line and column,
feature names matched by name, --label-column on arrays, and the writers (aeruntime.tables.sinks).

No torch: the shipped ``models/digits-dense`` bundle, rows drawn from its scaler statistics.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime.cli import main as aeruntime_main
from aeruntime.errors import InvalidInputError
from aeruntime.tables import Field, load_table, open_sink, open_source, read_table, write_scores

pa = pytest.importorskip("pyarrow", reason="needs pyarrow: the table tests run with aeruntime[tables]")
pacsv = pytest.importorskip("pyarrow.csv")
pq = pytest.importorskip("pyarrow.parquet")

MODELS = Path(__file__).resolve().parents[3] / "models"
DENSE = MODELS / "digits-dense"
NAMES = [f"px{i}" for i in range(64)]


def rows(n: int, seed: int = 0) -> np.ndarray:
    """(n, 64) float32 rows around the digits bundle's training distribution."""
    m = json.loads((DENSE / "manifest.json").read_text())
    mean, scale = np.asarray(m["scaler"]["mean"]), np.asarray(m["scaler"]["scale"])
    return (mean + scale * np.random.default_rng(seed).standard_normal((n, 64))).astype(np.float32)


def write_csv(path: Path, X: np.ndarray, names: list[str] | None = None, extra: dict | None = None) -> Path:
    cols = {n: X[:, j] for j, n in enumerate(names or NAMES)}
    cols.update(extra or {})
    pacsv.write_csv(pa.table(cols), path)
    text = path.read_text().replace('"', "")  # plain header, as people write them
    path.write_text(text)
    return path


def make_named_bundle(tmp_path: Path) -> Path:
    """digits-dense with ``input.feature_names`` in its manifest (what export writes for named data)."""
    b = tmp_path / "named"
    shutil.copytree(DENSE, b)
    m = json.loads((b / "manifest.json").read_text())
    m["input"]["feature_names"] = NAMES
    (b / "manifest.json").write_text(json.dumps(m, indent=1))
    return b


@pytest.fixture()
def named_bundle(tmp_path) -> Path:
    return make_named_bundle(tmp_path)


def score_cli(*args) -> object:
    return CliRunner().invoke(aeruntime_main, ["score", *map(str, args)])


# ------------------------------------------------------------------ CSV error messages (#14)
def test_bad_cell_reports_its_own_line(tmp_path):
    X = rows(20)
    p = write_csv(tmp_path / "x.csv", X)
    lines = p.read_text().splitlines()
    cells = lines[11].split(",")
    cells[7] = "oops"
    lines[11] = ",".join(cells)  # line 12 of the file (header = line 1)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match=r"column 'px7' on line 12 holds 'oops'"):
        read_table(p)
    res = score_cli(DENSE, p, "--batch-size", "4")
    assert res.exit_code == 2 and "line 12" in res.output and "near line" not in res.output


def test_ragged_line_reported_after_blank_lines(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("a,b,c\n1,2,3\n\n4,5,6\n" + "7,8,9\n" * 8 + "1,2\n")
    with pytest.raises(InvalidInputError, match=r"r\.csv: line 13 has 2 fields, but the header has 3"):
        read_table(p)


def test_empty_cell_is_a_missing_value(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("a,b,c\n1,2,3\n4,,6\n")
    with pytest.raises(InvalidInputError, match=r"missing value in column 'b', line 3"):
        read_table(p)
    p.write_text("1,2,3\n4,5,\n")  # no header: columns by position (1-based)
    with pytest.raises(InvalidInputError, match=r"missing value in column 3, line 2"):
        read_table(p)


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolon"), ("\t", "tab")])
def test_other_delimiter_gets_a_hint(tmp_path, sep, word):
    p = tmp_path / "d.csv"
    p.write_text(sep.join(NAMES) + "\n" + sep.join(["1.5"] * 64) + "\n")
    with pytest.raises(InvalidInputError, match=rf"looks {word}-separated.*comma-separated"):
        read_table(p)
    res = score_cli(DENSE, p)
    assert res.exit_code == 2 and f"{word}-separated" in res.output


def test_nan_names_row_line_and_column(tmp_path):
    X = rows(30)
    X[17, 5] = np.nan
    p = write_csv(tmp_path / "n.csv", X)
    res = score_cli(DENSE, p, "--batch-size", "8")
    assert res.exit_code == 2
    assert "line 19 (row 17), column 'px5'" in res.output and "index (" not in res.output
    np.save(tmp_path / "n.npy", X)
    res = score_cli(DENSE, tmp_path / "n.npy", "--batch-size", "8")
    assert res.exit_code == 2 and "row 17, column 5 holds a NaN" in res.output
    with pytest.raises(InvalidInputError, match=r"first at row 17, column 5;"):
        aeruntime.load(DENSE).score(X)


def test_label_column_on_arrays_is_an_error(tmp_path):
    X = rows(5)
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "x.npz", X=X, y=np.zeros(5))
    for name in ("x.npy", "x.npz"):
        res = score_cli(DENSE, tmp_path / name, "--label-column", "label")
        assert res.exit_code == 2 and "applies to CSV and Parquet tables only" in res.output, res.output
        with pytest.raises(InvalidInputError, match="Drop --label-column"):
            read_table(tmp_path / name, label_column="label")


# ------------------------------------------------------------------ feature names (#14)
def test_named_bundle_reads_csv_by_name(named_bundle, tmp_path):
    X = rows(40)
    expected = aeruntime.load(DENSE).score(X)
    order = NAMES[::-1]  # reversed columns + one extra: matched by name, the extra reported
    p = write_csv(tmp_path / "rev.csv", X[:, ::-1], order, {"note": np.arange(40.0)})
    res = score_cli(named_bundle, p, "--out", tmp_path / "s.npy", "--batch-size", "16")
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy", allow_pickle=False)["score"], expected)
    assert "ignored 1 column(s) the model does not use: note" in res.stderr
    # the same file against a bundle without names: positional, so reversed columns score differently
    res = score_cli(DENSE, write_csv(tmp_path / "rev2.csv", X[:, ::-1], order), "--out", tmp_path / "s2.npy")
    assert res.exit_code == 0
    assert not np.allclose(np.load(tmp_path / "s2.npy", allow_pickle=False)["score"], expected)


def test_named_bundle_missing_columns_listed(named_bundle, tmp_path):
    X = rows(5)
    names = [*NAMES[:60], "a", "b", "c", "d"]
    res = score_cli(named_bundle, write_csv(tmp_path / "m.csv", X, names))
    assert res.exit_code == 2
    assert "missing 4 of the 64 feature columns" in res.output and "['px60', 'px61', 'px62', 'px63']" in res.output


def test_named_bundle_reads_parquet_by_name_and_arrays_positionally(named_bundle, tmp_path):
    X = rows(50)
    expected = aeruntime.load(DENSE).score(X)
    cols = {"row_id": np.arange(50), **{n: X[:, j] for j, n in reversed(list(enumerate(NAMES)))}}
    pq.write_table(pa.table(cols), tmp_path / "x.parquet", row_group_size=13)
    res = score_cli(named_bundle, tmp_path / "x.parquet", "--out", tmp_path / "s.csv", "--batch-size", "7")
    assert res.exit_code == 0, res.output
    got = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(got[:, 0].astype(np.float32), expected)
    assert "row_id" in res.stderr
    np.save(tmp_path / "x.npy", X)
    res = score_cli(named_bundle, tmp_path / "x.npy", "--out", tmp_path / "s.npy")
    assert res.exit_code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy", allow_pickle=False)["score"], expected)


def test_load_table_returns_names_and_reorders(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("b,label,a,c\n1,0,2,3\n4,1,5,6\n")
    t = load_table(p, label_column="label")
    assert t.feature_names == ["b", "a", "c"] and t.X.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert t.y.tolist() == [0, 1]
    t = load_table(p, label_column="label", feature_names=["a", "b"])
    assert t.X.tolist() == [[2, 1], [5, 4]] and t.ignored == ["c"]
    pq.write_table(pa.table({"b": [1.0, 4.0], "a": [2.0, 5.0]}), tmp_path / "t.parquet")
    X, y = read_table(tmp_path / "t.parquet", feature_names=["a", "b"])
    assert X.tolist() == [[2, 1], [5, 4]] and y is None


# ------------------------------------------------------------------ streaming reader and writers
def test_csv_chunks_are_exact_batches_in_order(tmp_path):
    X = rows(1000)
    p = write_csv(tmp_path / "x.csv", X)
    chunks = list(open_source(p, 96))
    assert [len(c) for c in chunks] == [96] * 10 + [40]
    assert [c.start for c in chunks] == list(range(0, 1000, 96))
    assert sum(c.progress for c in chunks) == p.stat().st_size
    np.testing.assert_array_equal(np.concatenate([c.x for c in chunks]), X)


@pytest.fixture()
def tiny_pieces(monkeypatch):
    """CSV pieces of ~16 lines, so small files go through many pieces and worker threads."""
    import aeruntime.tables.csv_reader as tables_csv

    monkeypatch.setattr(tables_csv, "_PIECE", 1)
    monkeypatch.setattr(tables_csv, "_csv_workers", lambda: 3)


@pytest.mark.parametrize(
    ("newline", "header", "blank_every", "trailing"),
    [("\n", True, 0, True), ("\r\n", True, 7, False), ("\n", False, 5, True), ("\r\n", False, 0, False)],
)
def test_csv_pieces_match_numpy(tmp_path, tiny_pieces, newline, header, blank_every, trailing):
    X = rows(700, seed=3)
    lines = [",".join(repr(float(v)) for v in r) for r in X]
    if blank_every:
        lines = [ln for i, ln in enumerate(lines) for ln in ([ln, ""] if i % blank_every == 0 else [ln])]
    text = newline.join(([",".join(NAMES)] if header else []) + lines) + (newline if trailing else "")
    p = tmp_path / "x.csv"
    p.write_bytes(text.encode())
    chunks = list(open_source(p, 64))
    assert [len(c) for c in chunks] == [64] * 10 + [60]
    assert sum(c.progress for c in chunks) == p.stat().st_size
    np.testing.assert_array_equal(np.concatenate([c.x for c in chunks]), X)


def test_csv_pieces_keep_labels_and_ids_in_order(tmp_path, tiny_pieces):
    X = rows(500, seed=4)
    y = np.arange(500) % 3
    p = write_csv(tmp_path / "x.csv", X, extra={"key": [f"id-{i}" for i in range(500)], "y": y})
    src = open_source(p, 128, label_column="y", id_columns=["key"])
    chunks = list(src)
    np.testing.assert_array_equal(np.concatenate([c.y for c in chunks]), y)
    assert sum((c.ids["key"].to_pylist() for c in chunks), []) == [f"id-{i}" for i in range(500)]
    np.testing.assert_array_equal(np.concatenate([c.x for c in chunks]), X)


def test_csv_error_in_a_later_piece_names_its_line(tmp_path, tiny_pieces):
    X = rows(400)
    p = write_csv(tmp_path / "x.csv", X)
    lines = p.read_text().splitlines()
    lines[350] = lines[350].replace(",", ",x", 1)  # line 351 of the file
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match=r"column 'px1' on line 351 holds 'x"):
        read_table(p)


@pytest.mark.parametrize("header", [True, False])
def test_csv_with_a_utf8_bom_reads_its_names_and_numbers(tmp_path, header):
    """Excel's "CSV UTF-8" starts with a byte-order mark: it is not part of the first name or number."""
    X = rows(12, seed=5)
    text = "\n".join(([",".join(NAMES)] if header else []) + [",".join(repr(float(v)) for v in r) for r in X])
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf" + text.encode() + b"\n")
    src = open_source(p, 5)
    assert src.columns == (NAMES if header else None)
    np.testing.assert_array_equal(np.concatenate([c.x for c in src]), X)
    if header:  # the first name matches by name
        np.testing.assert_array_equal(read_table(p, feature_names=NAMES[::-1])[0], X[:, ::-1])


def test_csv_reader_stopped_early_releases_its_threads(tmp_path, tiny_pieces):
    import threading

    p = write_csv(tmp_path / "x.csv", rows(2000))
    it = iter(open_source(p, 32))
    assert len(next(it)) == 32
    it.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("aeruntime-csv")]


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".parquet"])
def test_writers_round_trip_and_stay_atomic(tmp_path, suffix):
    fields = (Field("z", "<f2", (4,)), Field("q", "i1"))
    z = np.arange(40, dtype=np.float32).reshape(10, 4) / 8
    q = np.arange(10, dtype=np.int8) - 5
    out = tmp_path / f"o{suffix}"
    with open_sink(out, fields) as sink:
        sink.write(z[:6], q[:6])
        sink.write(z[6:], q[6:])
    if suffix == ".npy":
        rec = np.load(out, allow_pickle=False)
        np.testing.assert_array_equal(rec["z"], z.astype(np.float16))
        np.testing.assert_array_equal(rec["q"], q)
    elif suffix == ".npz":
        with np.load(out, allow_pickle=False) as d:
            assert d["z"].dtype == np.float16 and d["z"].shape == (10, 4)
            np.testing.assert_array_equal(d["q"], q)
    elif suffix == ".csv":
        got = np.loadtxt(out, delimiter=",", skiprows=1)
        assert out.read_text().splitlines()[0] == "z0,z1,z2,z3,q"
        np.testing.assert_array_equal(got, np.column_stack([z, q]))
    else:
        t = pq.read_table(out)
        assert t.schema.field("z0").type == pa.float16() and t.schema.field("q").type == pa.int8()
        np.testing.assert_array_equal(t.column("q").to_numpy(), q)
    before = out.read_bytes()
    with pytest.raises(RuntimeError), open_sink(out, fields) as sink:
        sink.write(z, q)
        raise RuntimeError("crash mid-way")
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_score_file_layouts_unchanged(tmp_path):
    s = np.array([0.25, 1.5], np.float32)
    lab = np.array([0, 1], np.int8)
    write_scores(tmp_path / "s.npy", s, lab)
    rec = np.load(tmp_path / "s.npy", allow_pickle=False)
    assert rec.dtype == np.dtype([("score", "<f4"), ("label", "i1")]) and rec["score"].tolist() == [0.25, 1.5]
    assert write_scores(None, s, lab) == "score,label\n0.25,0\n1.5,1\n"


def test_score_skips_a_text_label_column(tmp_path):
    X = rows(12)
    labels = np.array(["normal", "attack"] * 6)
    p = write_csv(tmp_path / "l.csv", X, extra={"label": labels})
    res = score_cli(DENSE, p, "--label-column", "label", "--out", tmp_path / "s.npy")
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(
        np.load(tmp_path / "s.npy", allow_pickle=False)["score"], aeruntime.load(DENSE).score(X)
    )
    with pytest.raises(InvalidInputError, match=r"label column 'label' holds non-numeric values \('normal' on line 2"):
        read_table(p, label_column="label")  # training and evaluation need numeric labels
