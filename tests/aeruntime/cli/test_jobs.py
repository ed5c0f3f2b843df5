"""`aeruntime encode | decode | reconstruct` (aeruntime.jobs): streaming, formats, id columns,
float16 / int8 codes, atomic output, exit codes. No torch: the shipped bundles in ``models/``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime.cli import main as aeruntime_main
from aeruntime.jobs import run_job
from aeruntime.latent_codes import dequantize_int8, fit_int8, quantize_int8

from ..tables.test_tables import DENSE, MODELS, NAMES, make_named_bundle, rows, write_csv

pa = pytest.importorskip("pyarrow", reason="needs pyarrow: the table tests run with aeruntime[tables]")
pq = pytest.importorskip("pyarrow.parquet")

BATCH = "32"  # smaller than the files: several chunks


def cli(*args) -> object:
    return CliRunner().invoke(aeruntime_main, [*map(str, args)])


def ok(*args) -> object:
    res = cli(*args)
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def model():
    return aeruntime.load(DENSE, providers="cpu")


@pytest.fixture(scope="module")
def X():
    return rows(100, seed=1)


@pytest.fixture()
def int8_bundle(tmp_path, model) -> Path:
    """digits-dense with int8 code parameters in its manifest (what export stores)."""
    b = tmp_path / "q"
    shutil.copytree(DENSE, b)
    m = json.loads((b / "manifest.json").read_text())
    m["latent"]["quantization"] = {"int8": fit_int8(model.encode(rows(300, seed=2)))}
    (b / "manifest.json").write_text(json.dumps(m, indent=1))
    return b


def test_encode_decode_reconstruct_npy_match_the_api(model, X, tmp_path):
    np.save(tmp_path / "x.npy", X)
    res = ok("encode", DENSE, tmp_path / "x.npy", "--out", tmp_path / "z.npy", "--batch-size", BATCH)
    assert "encoded 100 rows" in res.stderr
    z = np.load(tmp_path / "z.npy", allow_pickle=False)
    assert z.dtype == np.float32 and z.shape == (100, 16)
    np.testing.assert_allclose(z, model.encode(X), rtol=1e-6, atol=1e-6)
    ok("decode", DENSE, tmp_path / "z.npy", "--out", tmp_path / "xd.npy", "--batch-size", BATCH)
    np.testing.assert_allclose(np.load(tmp_path / "xd.npy", allow_pickle=False), model.decode(z), rtol=1e-5, atol=1e-5)
    ok("reconstruct", DENSE, tmp_path / "x.npy", "--out", tmp_path / "xr.npz", "--batch-size", BATCH)
    with np.load(tmp_path / "xr.npz", allow_pickle=False) as d:
        np.testing.assert_allclose(d["X"], model.reconstruct(X), rtol=1e-5, atol=1e-5)


def test_tables_pass_id_columns_through(model, X, tmp_path):
    ids = np.array([f"r{i:03d}" for i in range(100)])
    p = write_csv(tmp_path / "x.csv", X, extra={"id": ids, "site": np.arange(100) % 3})
    ok(
        "encode",
        DENSE,
        p,
        "--out",
        tmp_path / "z.csv",
        "--id-column",
        "id",
        "--id-column",
        "site",
        "--batch-size",
        BATCH,
    )
    text = (tmp_path / "z.csv").read_text().splitlines()
    assert text[0] == "id,site," + ",".join(f"z{i}" for i in range(16)) and len(text) == 101
    assert [line.split(",")[0].strip('"') for line in text[1:]] == ids.tolist()
    # positional bundle: the id columns are not features, so the codes are those of X
    z = np.loadtxt(tmp_path / "z.csv", delimiter=",", skiprows=1, usecols=range(2, 18))
    np.testing.assert_allclose(z, model.encode(X), rtol=1e-5, atol=1e-5)
    # codes table -> decoded rows in Parquet, ids still attached
    ok(
        "decode",
        DENSE,
        tmp_path / "z.csv",
        "--out",
        tmp_path / "xd.parquet",
        "--id-column",
        "id",
        "--batch-size",
        BATCH,
    )
    t = pq.read_table(tmp_path / "xd.parquet")
    assert t.column_names == ["id", *[f"X{i}" for i in range(64)]]
    assert t.column("id").to_pylist() == ids.tolist()
    xd = np.column_stack([t.column(f"X{i}").to_numpy() for i in range(64)])
    np.testing.assert_allclose(xd, model.decode(z.astype(np.float32)), rtol=1e-4, atol=1e-4)


def test_decoded_columns_carry_feature_names(tmp_path, X):
    b = make_named_bundle(tmp_path)
    p = write_csv(tmp_path / "x.csv", X[:, ::-1], NAMES[::-1])  # by name: order does not matter
    ok("reconstruct", b, p, "--out", tmp_path / "r.parquet")
    t = pq.read_table(tmp_path / "r.parquet")
    assert t.column_names == NAMES
    got = np.column_stack([t.column(n).to_numpy() for n in NAMES])
    np.testing.assert_allclose(got, aeruntime.load(DENSE).reconstruct(X), rtol=1e-5, atol=1e-5)


def test_float16_codes_round_trip(model, X, tmp_path):
    np.save(tmp_path / "x.npy", X)
    ok("encode", DENSE, tmp_path / "x.npy", "--out", tmp_path / "z.parquet", "--codes", "float16")
    t = pq.read_table(tmp_path / "z.parquet")
    assert t.schema.field("z0").type == pa.float16()
    z16 = model.encode(X).astype(np.float16)
    got = np.column_stack([t.column(f"z{i}").to_numpy() for i in range(16)])
    np.testing.assert_array_equal(got, z16)
    ok("decode", DENSE, tmp_path / "z.parquet", "--out", tmp_path / "xd.npy")
    np.testing.assert_allclose(
        np.load(tmp_path / "xd.npy", allow_pickle=False), model.decode(z16.astype(np.float32)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("fmt", [".npy", ".parquet", ".csv"])
def test_int8_codes_round_trip(int8_bundle, X, tmp_path, fmt):
    m = aeruntime.load(int8_bundle, providers="cpu")
    params = m.manifest["latent"]["quantization"]["int8"]
    np.save(tmp_path / "x.npy", X)
    ok(
        "encode",
        int8_bundle,
        tmp_path / "x.npy",
        "--out",
        tmp_path / f"q{fmt}",
        "--codes",
        "int8",
        "--batch-size",
        BATCH,
    )
    q_ref = quantize_int8(m.encode(X), params)
    if fmt == ".npy":
        q = np.load(tmp_path / "q.npy", allow_pickle=False)
        assert q.dtype == np.int8
        np.testing.assert_array_equal(q, q_ref)
    elif fmt == ".parquet":
        assert pq.read_table(tmp_path / "q.parquet").schema.field("z3").type == pa.int8()
    out = tmp_path / "xd.npy"
    extra = ["--codes", "int8"] if fmt == ".csv" else []  # CSV text has no dtype: say it
    ok("decode", int8_bundle, tmp_path / f"q{fmt}", "--out", out, *extra)
    expected = m.decode(dequantize_int8(q_ref, params))
    np.testing.assert_allclose(np.load(out, allow_pickle=False), expected, rtol=1e-5, atol=1e-5)
    # int8 codes cost a quarter of float32 and still reconstruct close to the float codes
    err_q = np.mean((np.load(out, allow_pickle=False) - m.reconstruct(X)) ** 2)
    assert err_q < 0.05 * np.mean((m.reconstruct(X) - X.mean(0)) ** 2)


def test_int8_without_parameters_says_reexport(X, tmp_path):
    np.save(tmp_path / "x.npy", X)
    old = tmp_path / "old"  # a bundle exported before int8 code parameters were stored
    shutil.copytree(DENSE, old)
    m = json.loads((old / "manifest.json").read_text())
    m["latent"].pop("quantization", None)
    (old / "manifest.json").write_text(json.dumps(m, indent=1))
    res = cli("encode", old, tmp_path / "x.npy", "--out", tmp_path / "q.npy", "--codes", "int8")
    assert res.exit_code == 2 and "no int8 code parameters" in res.output and "Re-export" in res.output
    assert not (tmp_path / "q.npy").exists()
    np.save(tmp_path / "q.npy", np.zeros((3, 16), np.int8))
    res = cli("decode", old, tmp_path / "q.npy")
    assert res.exit_code == 2 and "no int8 code parameters" in res.output


def test_usage_errors_exit_2_and_failures_leave_no_output(X, tmp_path):
    np.save(tmp_path / "x.npy", X)
    res = cli("encode", DENSE, tmp_path / "x.npy", "--out", tmp_path / "z.npy", "--id-column", "id")
    assert res.exit_code == 2 and "can only be written to a table" in res.output
    res = cli("encode", DENSE, tmp_path / "x.npy", "--out", tmp_path / "z.txt")
    assert res.exit_code == 2 and "unsupported output type '.txt'" in res.output
    res = cli("decode", DENSE, tmp_path / "x.npy")  # rows are not codes
    assert res.exit_code == 2 and "expects 16" in res.output
    bad = X.copy()
    bad[90, 2] = np.inf  # in the last chunk: earlier chunks were already written
    np.save(tmp_path / "bad.npy", bad)
    (tmp_path / "r.csv").write_text("old\n")
    res = cli("reconstruct", DENSE, tmp_path / "bad.npy", "--out", tmp_path / "r.csv", "--batch-size", BATCH)
    assert res.exit_code == 2 and "row 90, column 2" in res.output
    assert (tmp_path / "r.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy", "r.csv", "x.npy"]
    (tmp_path / "h.csv").write_text(",".join(NAMES) + "\n")
    res = cli("encode", DENSE, tmp_path / "h.csv")
    assert res.exit_code == 2 and "0 rows" in res.output


def test_image_bundle_reads_flat_rows_and_writes_images(tmp_path, X):
    conv = aeruntime.load(MODELS / "digits-conv", providers="cpu")
    p = write_csv(tmp_path / "x.csv", X)
    ok("reconstruct", MODELS / "digits-conv", p, "--out", tmp_path / "r.npy", "--batch-size", BATCH)
    r = np.load(tmp_path / "r.npy", allow_pickle=False)
    assert r.shape == (100, 1, 8, 8)
    np.testing.assert_allclose(r, conv.reconstruct(X.reshape(-1, 1, 8, 8)), rtol=1e-4, atol=1e-4)


def test_stdout_and_run_job_api(model, X, tmp_path):
    np.save(tmp_path / "x.npy", X[:5])
    res = ok("encode", DENSE, tmp_path / "x.npy")
    lines = res.stdout.splitlines()
    assert lines[0] == ",".join(f"z{i}" for i in range(16)) and len(lines) == 6
    result = run_job("score", model, tmp_path / "x.npy", tmp_path / "s.parquet")
    assert result.rows == 5 and result.anomalies == int(model.predict(X[:5]).sum())
    np.testing.assert_array_equal(pq.read_table(tmp_path / "s.parquet").column("score").to_numpy(), model.score(X[:5]))
