"""Every bad input of the foundation issue gets a typed error saying expected / received / fix."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import aeruntime
from aeruntime.errors import (
    BundleNotFoundError,
    IntegrityError,
    InvalidInputError,
    ManifestError,
    UnsupportedFormatError,
)


@pytest.fixture(scope="module")
def rt(shipped_dense):
    return aeruntime.load(shipped_dense, providers="cpu")


def _nan_row():
    x = np.ones((4, 64), np.float32)
    x[2, 5] = np.nan
    return x


def _inf_row():
    x = np.ones((4, 64), np.float64)
    x[1, 0] = np.inf
    return x


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (
            np.ones((3, 10), np.float32),
            r"X has 10 features, but the model expects 64\. Pass an array of shape \(n_rows, 64\)",
        ),
        (_nan_row(), r"1 NaN and 0 infinite values.*first at row 2, column 5;.*expects finite numbers"),
        (_inf_row(), r"0 NaN and 1 infinite values.*first at row 1"),
        (np.full((2, 64), 1e39), r"holds 1e\+39, a value beyond the float32 range"),
        (np.zeros((0, 64), np.float32), r"X has 0 rows .*expects at least one row"),
        (
            np.ones((2, 8, 8), np.float32),
            r"shape \(2, 8, 8\), but the model expects \(n_rows, 64\).*X\.reshape\(-1, 64\)",
        ),
        (np.ones(64, np.float32), r"shape \(64,\), but the model expects \(n_rows, 64\).*X\.reshape\(1, 64\)"),
        (np.array([["a"] * 64]), r"dtype <U1 \(strings\), but the model expects real numbers.*np\.asarray"),
        ([[1.0] * 64, [1.0] * 3], r"could not be converted to an array.*equal-length rows"),
        (np.ones((2, 64), np.complex64), r"complex numbers"),
    ],
    ids=["features", "nan", "inf", "overflow", "empty", "3d", "1d", "strings", "ragged", "complex"],
)
@pytest.mark.parametrize("method", ["score", "predict", "encode", "reconstruct"])
def test_bad_arrays(rt, method, x, match):
    with pytest.raises(InvalidInputError, match=match):
        getattr(rt, method)(x)


def test_decode_checks_latent_shape(rt):
    with pytest.raises(InvalidInputError, match=r"Z has 64 features, but the model expects 16"):
        rt.decode(np.zeros((2, 64), np.float32))


def test_missing_bundle_directory(tmp_path):
    with pytest.raises(BundleNotFoundError, match="does not exist or is not a directory"):
        aeruntime.load(tmp_path / "nope")


def test_missing_bundle_file(shipped_copy):
    (shipped_copy / "scorer.onnx").unlink()
    with pytest.raises(BundleNotFoundError, match=r"scorer\.onnx.*listed in the manifest is missing"):
        aeruntime.load(shipped_copy)


def test_missing_manifest(shipped_copy):
    (shipped_copy / "manifest.json").unlink()
    with pytest.raises(BundleNotFoundError, match=r"manifest\.json.*is missing"):
        aeruntime.load(shipped_copy)


def test_graph_sha256_mismatch(shipped_copy):
    p = shipped_copy / "encoder.onnx"
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"encoder\.onnx has sha256 .* but the manifest records"):
        aeruntime.load(shipped_copy)


def test_sha_check_can_be_skipped_for_trusted_bundles(shipped_copy):
    m = json.loads((shipped_copy / "manifest.json").read_text())
    m["files"]["weights.safetensors"] = "0" * 64
    (shipped_copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IntegrityError):
        aeruntime.load(shipped_copy)
    assert aeruntime.load(shipped_copy, verify=False).score(np.zeros((1, 64))).shape == (1,)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_unknown_format_version(shipped_copy, version):
    m = json.loads((shipped_copy / "manifest.json").read_text())
    m["format_version"] = version
    (shipped_copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(
        UnsupportedFormatError, match=r"format_version .* reads format versions \[1\]. Upgrade aeruntime"
    ):
        aeruntime.load(shipped_copy)


def test_damaged_manifest(shipped_copy):
    (shipped_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        aeruntime.load(shipped_copy)


def test_graphs_from_another_export_are_refused(shipped_copy):
    """The shipped VAE's scorer has the dense scorer's interface (x (n, 64) -> score) but another export."""
    from aeruntime.format import sha256_file

    from ..conftest import SHIPPED

    shutil.copy(SHIPPED["vae"] / "scorer.onnx", shipped_copy / "scorer.onnx")
    m = json.loads((shipped_copy / "manifest.json").read_text())
    m["files"]["scorer.onnx"] = sha256_file(shipped_copy / "scorer.onnx")  # even with a rewritten manifest
    (shipped_copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IntegrityError, match="graphs from different exports were mixed"):
        aeruntime.load(shipped_copy)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "high"])
def test_non_finite_threshold_override(shipped_dense, bad):
    with pytest.raises(InvalidInputError, match="threshold must be a finite number"):
        aeruntime.load(shipped_dense, threshold=bad)
