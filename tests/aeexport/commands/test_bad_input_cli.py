"""The bad-input table: every row is one distinct bad input to the runtime API, a
command line or a bundle file, with the typed error (or exit code) it must give
and the words its message must contain. Plus: valid float64, big-endian,
non-contiguous and list inputs are accepted and scored *identically* to float32
C-contiguous input."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeexport.settings import ThresholdSpec
from aeruntime.cli import main as rt_main
from aeruntime.errors import (
    AeError,
    BundleNotFoundError,
    IntegrityError,
    InvalidInputError,
    ManifestError,
    ProviderError,
    UnsupportedFormatError,
)
from aeruntime.tables import read_table, write_scores
from tests.helpers import copy_bundle, edit_manifest, rehash

N = 64  # features of the dense digits bundle


@dataclass
class Ctx:
    tmp: Path
    bundle: Path
    trained: Any

    @property
    def model(self) -> aeruntime.Model:
        return aeruntime.load(self.bundle, providers="cpu")

    def file(self, name: str, content: bytes | str | np.ndarray) -> Path:
        p = self.tmp / name
        if isinstance(content, np.ndarray):
            np.save(p, content)
        elif isinstance(content, str):
            p.write_text(content)
        else:
            p.write_bytes(content)
        return p

    def checkpoint(self, edit: Callable[[dict], None] | None = None) -> Path:
        from aeexport.train import save_checkpoint

        path = self.tmp / "ckpt"
        save_checkpoint(path, self.trained.model, holdout=np.ones((4, N), np.float32))
        if edit:
            cfg = json.loads((path / "config.json").read_text())
            edit(cfg)
            (path / "config.json").write_text(json.dumps(cfg))
        return path


def rt(*args: Any) -> Any:
    """Run ``aeruntime ARGS``; the row's expectation is an exit code."""
    return CliRunner().invoke(rt_main, [str(a) for a in args])


def ae(*args: Any) -> Any:
    from aeexport.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def rows(n: int = 3, fill: float = 1.0, dtype: Any = np.float32) -> np.ndarray:
    return np.full((n, N), fill, dtype)


def with_value(value: float, at: tuple[int, int] = (1, 5), dtype: Any = np.float64) -> np.ndarray:
    x = rows(3, dtype=dtype)
    x[at] = value
    return x


def csv_rows(n: int = 3) -> str:
    header = ",".join(f"f{i}" for i in range(N))
    return header + "\n" + "\n".join(",".join(["1"] * N) for _ in range(n)) + "\n"


def tamper(ctx: Ctx, name: str, data: bytes) -> Path:
    (ctx.bundle / name).write_bytes(data)
    return ctx.bundle


@dataclass
class Bad:
    id: str
    run: Callable[[Ctx], Any]
    expect: type[AeError] | int  # typed error (API) or exit code (CLI)
    match: str


ragged = [[1.0] * N, [1.0] * (N - 1)]
structured = np.zeros(3, dtype=[("a", "f4"), ("b", "f4")])

TABLE = [
    # ------------------------------------------------------------------ runtime API: arrays
    Bad(
        "too-few-features",
        lambda c: c.model.score(np.zeros((3, N - 1))),
        InvalidInputError,
        r"X has 63 features, but the model expects 64\. Pass an array of shape \(n_rows, 64\)",
    ),
    Bad(
        "single-row-1d",
        lambda c: c.model.score(np.zeros(N)),
        InvalidInputError,
        r"X has shape \(64,\), but the model expects \(n_rows, 64\)\. For a single row use X\.reshape\(1, 64\)",
    ),
    Bad(
        "images-3d",
        lambda c: c.model.score(np.zeros((2, 8, 8))),
        InvalidInputError,
        r"shape \(2, 8, 8\).*Reshape it with X\.reshape\(-1, 64\)",
    ),
    Bad("scalar", lambda c: c.model.score(5.0), InvalidInputError, r"X has shape \(\), but the model expects"),
    Bad("none", lambda c: c.model.score(None), InvalidInputError, r"X has shape \(\)"),
    Bad(
        "empty",
        lambda c: c.model.score(np.zeros((0, N))),
        InvalidInputError,
        r"X has 0 rows .* expects at least one row",
    ),
    Bad(
        "nan",
        lambda c: c.model.score(with_value(math.nan)),
        InvalidInputError,
        r"1 NaN and 0 infinite values.*first at row 1, column 5;.*Impute or drop",
    ),
    Bad(
        "inf",
        lambda c: c.model.predict(with_value(-math.inf, dtype=np.float32)),
        InvalidInputError,
        r"0 NaN and 1 infinite values",
    ),
    Bad(
        "beyond-float32",
        lambda c: c.model.score(with_value(1e39)),
        InvalidInputError,
        r"holds 1e\+39, a value beyond the float32 range",
    ),
    Bad(
        "strings",
        lambda c: c.model.score(np.full((2, N), "1")),
        InvalidInputError,
        r"dtype <U1 \(strings\), but the model expects real numbers \(float32\)\. Convert it first",
    ),
    Bad("bytes", lambda c: c.model.score(np.full((2, N), b"1")), InvalidInputError, r"dtype \|S1 \(bytes\)"),
    Bad(
        "object-text",
        lambda c: c.model.score(np.full((2, N), "x", dtype=object)),
        InvalidInputError,
        r"dtype object \(Python objects: could not convert string",
    ),
    Bad(
        "python-int-overflow",
        lambda c: c.model.score([[10**400] * N]),
        InvalidInputError,
        r"dtype object \(Python objects: int too large to convert to float\)",
    ),
    Bad(
        "complex",
        lambda c: c.model.score(np.ones((2, N), np.complex64)),
        InvalidInputError,
        r"complex64 \(complex numbers\)",
    ),
    Bad("datetime", lambda c: c.model.score(np.zeros((2, N), "datetime64[s]")), InvalidInputError, r"\(datetimes\)"),
    Bad("structured", lambda c: c.model.score(structured), InvalidInputError, r"\(structured records\)"),
    Bad(
        "ragged-list",
        lambda c: c.model.score(ragged),
        InvalidInputError,
        r"could not be converted to an array .*rectangular array of numbers",
    ),
    Bad(
        "decode-wrong-latent",
        lambda c: c.model.decode(np.zeros((2, 3))),
        InvalidInputError,
        r"Z has 3 features, but the model expects",
    ),
    Bad("encode-nan", lambda c: c.model.encode(with_value(math.nan)), InvalidInputError, r"1 NaN"),
    # ------------------------------------------------------------------ runtime API: load arguments
    Bad(
        "threshold-nan",
        lambda c: aeruntime.load(c.bundle, providers="cpu", threshold=math.nan),
        InvalidInputError,
        r"threshold must be a finite number, got nan",
    ),
    Bad(
        "threshold-negative",
        lambda c: aeruntime.load(c.bundle, providers="cpu", threshold=-0.5),
        InvalidInputError,
        r"threshold -0\.5 is negative, but 'mse' scores are >= 0, so every row would be",
    ),
    Bad(
        "threshold-setter-negative",
        lambda c: setattr(c.model, "threshold", -1),
        InvalidInputError,
        r"threshold -1\.0 is negative",
    ),
    Bad(
        "threshold-text",
        lambda c: aeruntime.load(c.bundle, providers="cpu", threshold="abc"),
        InvalidInputError,
        r"threshold must be a finite number, got 'abc'",
    ),
    Bad(
        "threshold-bool",
        lambda c: aeruntime.load(c.bundle, providers="cpu", threshold=True),
        InvalidInputError,
        r"threshold must be a finite number, got True",
    ),
    Bad(
        "providers-unknown",
        lambda c: aeruntime.load(c.bundle, providers="tpu"),
        ProviderError,
        r"providers='tpu' is not known; expected one of \['auto', 'cpu', 'cuda'\]",
    ),
    Bad("providers-empty", lambda c: aeruntime.load(c.bundle, providers=[]), ProviderError, r"empty list"),
    Bad(
        "providers-missing",
        lambda c: aeruntime.load(c.bundle, providers=["FooExecutionProvider"]),
        ProviderError,
        r"\['FooExecutionProvider'\] are not available",
    ),
    Bad(
        "bundle-missing",
        lambda c: aeruntime.load(c.tmp / "nope"),
        BundleNotFoundError,
        r"bundle directory .*nope' does not exist",
    ),
    Bad("bundle-is-file", lambda c: aeruntime.load(c.file("x.onnx", b"x")), BundleNotFoundError, r"is not a directory"),
    Bad(
        "bundle-no-manifest",
        lambda c: ((c.bundle / "manifest.json").unlink(), aeruntime.load(c.bundle)),
        BundleNotFoundError,
        r"manifest\.json' is missing",
    ),
    # ------------------------------------------------------------------ bundle files
    Bad(
        "truncated-onnx",
        lambda c: aeruntime.load(
            tamper(c, "encoder.onnx", (c.bundle / "encoder.onnx").read_bytes()[:500]), providers="cpu"
        ),
        IntegrityError,
        r"encoder\.onnx has sha256 .* modified or corrupted",
    ),
    Bad(
        "garbage-onnx-rehashed",
        lambda c: aeruntime.load(rehash_after(c, "decoder.onnx", b"\x08" * 99), providers="cpu"),
        IntegrityError,
        r"decoder\.onnx is not a well-formed ONNX model",
    ),
    Bad(
        "graph-file-missing",
        lambda c: ((c.bundle / "decoder.onnx").unlink(), aeruntime.load(c.bundle)),
        BundleNotFoundError,
        r"decoder\.onnx' listed in the manifest is missing",
    ),
    Bad(
        "manifest-not-json",
        lambda c: aeruntime.load(tamper(c, "manifest.json", b"{'format_version': 1")),
        ManifestError,
        r"manifest\.json' is not valid JSON",
    ),
    Bad(
        "manifest-newer-format",
        lambda c: aeruntime.load(edit(c, lambda m: m.update(format_version=2))),
        UnsupportedFormatError,
        r"format_version 2, but this aeruntime reads format versions \[1\]\. Upgrade",
    ),
    Bad(
        "manifest-negative-threshold",
        lambda c: aeruntime.load(edit(c, lambda m: m["threshold"].update(value=-1.0))),
        ManifestError,
        r"threshold\.value -1\.0 is negative",
    ),
    Bad(
        "manifest-negative-shape",
        lambda c: aeruntime.load(edit(c, lambda m: m["input"].update(shape=[-64]))),
        ManifestError,
        r"input\.shape\[0\] must be a positive integer, got -64",
    ),
    # ------------------------------------------------------------------ input files (aeruntime.tables)
    Bad(
        "truncated-npy",
        lambda c: read_table(c.file("t.npy", npy_bytes(rows(50))[:300])),
        InvalidInputError,
        r"t\.npy: cannot read it as \.npy .*truncated",
    ),
    Bad(
        "pickled-npy",
        lambda c: read_table(c.file("p.npy", object_npy_bytes())),
        InvalidInputError,
        r"pickled objects, which are never loaded",
    ),
    Bad(
        "npz-without-X",
        lambda c: read_table(npz(c, data=rows())),
        InvalidInputError,
        r"must hold an array named 'X' .*found \['data'\]",
    ),
    Bad(
        "csv-ragged",
        lambda c: read_table(c.file("r.csv", "a,b,c\n1,2,3\n1,2\n")),
        InvalidInputError,
        r"r\.csv: line 3 has 2 fields, but the header has 3\. Fix the malformed line",
    ),
    Bad(
        "csv-text-value",
        lambda c: read_table(c.file("v.csv", "a,b\n1,2\n3,oops\n")),
        InvalidInputError,
        r"expected numeric values in every column.*oops",
    ),
    Bad(
        "csv-wrong-label-column",
        lambda c: read_table(c.file("l.csv", "a,b\n1,2\n"), label_column="label"),
        InvalidInputError,
        r"label column 'label' not found; the columns are \['a', 'b'\]",
    ),
    Bad("csv-empty", lambda c: read_table(c.file("e.csv", "")), InvalidInputError, r"the CSV file is empty"),
    Bad(
        "csv-not-utf8",
        lambda c: read_table(c.file("u.csv", b"a,b\n\xff\xfe,1\n")),
        InvalidInputError,
        r"not a readable CSV file",
    ),
    Bad(
        "input-suffix",
        lambda c: read_table(c.file("x.txt", "1,2")),
        InvalidInputError,
        r"unsupported input type '\.txt'; expected one of \.npy, \.npz, \.csv, \.parquet",
    ),
    Bad(
        "output-suffix",
        lambda c: write_scores(c.tmp / "s.txt", np.zeros(2, np.float32), np.zeros(2, np.int8)),
        InvalidInputError,
        r"unsupported output type '\.txt'",
    ),
    # ------------------------------------------------------------------ aeexport API
    Bad(
        "unknown-model-kind",
        lambda c: __import__("aeexport.models", fromlist=["x"]).build_model("nope", {}, (N,)),
        InvalidInputError,
        r"model kind must be one of \[.*'dense'.*\], got 'nope'",
    ),
    Bad(
        "checkpoint-unknown-kind",
        lambda c: load_ckpt(c.checkpoint(lambda cfg: cfg.update(kind="nope"))),
        InvalidInputError,
        r"model kind must be one of .*, got 'nope'",
    ),
    Bad(
        "checkpoint-not-json",
        lambda c: load_ckpt(ckpt_text(c, "{oops")),
        ManifestError,
        r"config\.json: not valid JSON",
    ),
    Bad(
        "export-negative-threshold",
        lambda c: export(c, threshold_spec=ThresholdSpec(value=-2.0)),
        InvalidInputError,
        r"threshold -2\.0 is negative",
    ),
    Bad(
        "dataset-missing",
        lambda c: __import__("aeexport.data", fromlist=["x"]).load_dataset("nope.csv"),
        InvalidInputError,
        r"neither a built-in dataset \['digits'\] nor an existing file",
    ),
    # ------------------------------------------------------------------ aeruntime CLI
    Bad(
        "cli-score-csv-ragged",
        lambda c: rt("score", c.bundle, c.file("r.csv", csv_rows() + "1,2\n")),
        2,
        r"line 5 has 2 fields, but the header has 64",
    ),
    Bad(
        "cli-score-wrong-features",
        lambda c: rt("score", c.bundle, c.file("w.npy", np.ones((3, 10), np.float32))),
        2,
        r"X has 10 features, but the model expects 64",
    ),
    Bad(
        "cli-score-nan",
        lambda c: rt("score", c.bundle, c.file("n.npy", with_value(math.nan))),
        2,
        r"row 1, column 5 holds a NaN",
    ),
    Bad("cli-score-header-only", lambda c: rt("score", c.bundle, c.file("h.csv", csv_rows(0))), 2, r"0 rows"),
    Bad(
        "cli-threshold-nan",
        lambda c: rt("score", c.bundle, c.file("a.npy", rows()), "--threshold", "nan"),
        2,
        r"threshold must be a finite number, got nan",
    ),
    Bad(
        "cli-threshold-negative",
        lambda c: rt("score", c.bundle, c.file("a.npy", rows()), "--threshold", "-1"),
        2,
        r"threshold -1\.0 is negative",
    ),
    Bad(
        "cli-wrong-label-column",
        lambda c: rt("score", c.bundle, c.file("c.csv", csv_rows()), "--label-column", "y"),
        2,
        r"label column 'y' not found",
    ),
    Bad(
        "cli-out-suffix",
        lambda c: rt("score", c.bundle, c.file("a.npy", rows()), "--out", c.tmp / "o.xlsx"),
        2,
        r"unsupported output type '\.xlsx'",
    ),
    Bad(
        "cli-providers-choice",
        lambda c: rt("score", c.bundle, c.file("a.npy", rows()), "--providers", "tpu"),
        2,
        r"Invalid value for '--providers'",
    ),
    Bad(
        "cli-batch-size-zero",
        lambda c: rt("score", c.bundle, c.file("a.npy", rows()), "--batch-size", "0"),
        2,
        r"Invalid value for '--batch-size'",
    ),
    Bad("cli-bundle-missing", lambda c: rt("info", c.tmp / "nope"), 2, r"Directory '.*nope' does not exist"),
    Bad(
        "cli-info-tampered",
        lambda c: rt("info", tamper(c, "scorer.onnx", b"\x00")),
        1,
        r"scorer\.onnx has sha256 .* modified or corrupted",
    ),
    # ------------------------------------------------------------------ aeexport CLI
    Bad(
        "cli-train-unknown-kind",
        lambda c: ae("train", "digits", "--out", c.tmp / "o", "--model", "nope"),
        2,
        r"Invalid value for '--model': 'nope' is not one of",
    ),
    Bad(
        "cli-train-missing-data",
        lambda c: ae("train", c.tmp / "no.csv", "--out", c.tmp / "o"),
        2,
        r"neither a built-in dataset",
    ),
    Bad(
        "cli-train-epochs-zero",
        lambda c: ae("train", "digits", "--out", c.tmp / "o", "--epochs", "0"),
        2,
        r"Invalid value for '--epochs'",
    ),
    Bad(
        "cli-export-negative-threshold",
        lambda c: ae("export", c.checkpoint(), "--out", c.tmp / "b", "--threshold", "-1"),
        2,
        r"threshold -1\.0 is negative",
    ),
    Bad(
        "cli-inspect-bad-manifest",
        lambda c: ae("inspect", edit(c, lambda m: m["score"].pop("direction"))),
        1,
        r"required field score\.direction is missing",
    ),
    Bad(
        "cli-verify-tampered",
        lambda c: ae("verify", tamper(c, "weights.safetensors", b"junk")),
        1,
        r"weights\.safetensors has sha256",
    ),
]


def edit(c: Ctx, fn: Callable[[dict], Any]) -> Path:
    edit_manifest(c.bundle, fn)
    return c.bundle


def rehash_after(c: Ctx, name: str, data: bytes) -> Path:
    tamper(c, name, data)
    rehash(c.bundle)
    return c.bundle


def npy_bytes(x: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, x)
    return buf.getvalue()


def object_npy_bytes() -> bytes:
    """An .npy file declaring dtype object (its payload would be a pickle), made without pickle."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    return buf.getvalue() + b"\x80\x04N."  # pickle opcodes for None: never executed


def npz(c: Ctx, **arrays: np.ndarray) -> Path:
    p = c.tmp / "in.npz"
    np.savez(p, **arrays)
    return p


def load_ckpt(path: Path) -> Any:
    from aeexport.train import load_checkpoint

    return load_checkpoint(path)


def ckpt_text(c: Ctx, text: str) -> Path:
    path = c.checkpoint()
    (path / "config.json").write_text(text)
    return path


def export(c: Ctx, **kw: Any) -> Any:
    from aeexport.export import export_bundle

    return export_bundle(c.trained.model, c.tmp / "out", calibration_x=np.ones((4, N), np.float32), **kw)


def test_table_has_enough_distinct_rows():
    assert len(TABLE) >= 25
    assert len({b.id for b in TABLE}) == len(TABLE)
    assert sum(isinstance(b.expect, int) for b in TABLE) >= 10  # CLI rows


@pytest.mark.parametrize("bad", TABLE, ids=[b.id for b in TABLE])
def test_bad_input(bad: Bad, tmp_path, dense_bundle, dense_trained):
    ctx = Ctx(tmp_path, copy_bundle(dense_bundle, tmp_path / "bundle"), dense_trained)
    if isinstance(bad.expect, int):
        result = bad.run(ctx)
        assert result.exit_code == bad.expect, (result.exit_code, result.output, result.exception)
        assert result.stdout == ""
        # the error is one line; a CSV's header decision is a note line of its own before it
        err = "\n".join(ln for ln in result.stderr.strip().splitlines() if not ln.startswith("note: reading "))
        assert "Traceback" not in result.stderr
        assert err.splitlines()[-1].startswith("Error:"), err
        assert err.count("\n") == 0 or "Usage:" in err, "one line unless click prints usage"
        assert __import__("re").search(bad.match, err), (bad.match, err)
    else:
        with pytest.raises(bad.expect, match=bad.match) as info:
            bad.run(ctx)
        assert isinstance(info.value, AeError)


# ---------------------------------------------------------------------------- valid variants
def _variants(x: np.ndarray) -> dict[str, Any]:
    wide = np.repeat(x, 2, axis=1)  # columns x0 x0 x1 x1 ...: wide[:, ::2] is a strided view of x
    return {
        "float64": x.astype(np.float64),
        "big-endian-f4": x.astype(">f4"),
        "big-endian-f8": x.astype(">f8"),
        "fortran-order": np.asfortranarray(x),
        "strided-view": wide[:, ::2],
        "list": x.tolist(),
        "float16-exact": x.astype(np.float16),  # digits are small integers: exact in float16
        "int16": x.astype(np.int16),
        "memmap": None,
    }


@pytest.mark.parametrize("name", list(_variants(np.zeros((1, 1)))))
def test_valid_variants_score_identically(name, dense_bundle, digits, tmp_path):
    model = aeruntime.load(dense_bundle, providers="cpu")
    x = digits[0][:37]  # digits values are integers 0..16: every variant below is exact
    v = _variants(x)[name]
    if name == "memmap":
        np.save(tmp_path / "x.npy", x.astype(">f8"))
        v = np.load(tmp_path / "x.npy", mmap_mode="r", allow_pickle=False)
    if isinstance(v, np.ndarray) and name not in ("float64", "int16", "float16-exact", "memmap", "list"):
        assert not (v.flags.c_contiguous and v.dtype == np.float32 and v.dtype.isnative)
    ref = model.score(np.ascontiguousarray(x, dtype=np.float32))
    np.testing.assert_array_equal(model.score(v), ref)
    np.testing.assert_array_equal(model.predict(v), model.predict(x))
    np.testing.assert_array_equal(model.encode(v), model.encode(x))


def test_valid_negative_stride_rows_score_in_order(dense_bundle, digits):
    model = aeruntime.load(dense_bundle, providers="cpu")
    x = digits[0][:20]
    np.testing.assert_array_equal(model.score(x[::-1]), model.score(x)[::-1])


def test_cli_big_endian_npy_scores_like_float32(dense_bundle, digits, tmp_path):
    x = digits[0][:15]
    np.save(tmp_path / "le.npy", x.astype(np.float32))
    np.save(tmp_path / "be.npy", x.astype(">f8"))
    a, b = rt("score", dense_bundle, tmp_path / "le.npy"), rt("score", dense_bundle, tmp_path / "be.npy")
    assert a.exit_code == b.exit_code == 0
    assert a.stdout == b.stdout and a.stdout.count("\n") == 16
