"""``aeruntime verify BUNDLE``: torch-free self-check of a bundle (hashes, structure, onnxruntime, golden vectors).

Runs on the edge install (aeruntime[cpu] + pytest). The golden differences are checked
against an independent computation (``aeruntime.load(...).score`` on the stored inputs),
and every way to fail exits 1 with one line on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import aeruntime
from aeruntime.format import read_tensor, tensor_bytes
from tests.conftest import SUBPROCESS_ENV
from tests.helpers import read_manifest, rehash

from ..conftest import SHIPPED


def _verify(*args) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aeruntime", "verify", *map(str, args)],
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
        timeout=120,
    )


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_bundle_verifies(name):
    bundle = SHIPPED[name]
    r = _verify(bundle, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] is True
    assert [c["check"] for c in report["checks"]] == [
        "manifest",
        "files",
        "graphs",
        "onnxruntime",
        "sessions",
        "golden",
    ]
    m = read_manifest(bundle)
    outputs = sorted(rel for rel in m["files"] if rel.startswith("test_data/") and "/output_" in rel)
    assert len(report["golden"]) == len(outputs) > 0
    # the scorer's golden differences, recomputed independently through aeruntime.load
    model = aeruntime.load(bundle, providers="cpu")
    for row in (r for r in report["golden"] if r["check"].startswith("scorer/")):
        case = bundle / "test_data" / "scorer" / row["check"].split("/")[1]
        x = read_tensor((case / "input_0.pb").read_bytes())[1]
        want = read_tensor((case / "output_0.pb").read_bytes())[1]
        assert row["batch"] == len(x)
        assert row["max_abs"] == pytest.approx(float(np.abs(model.score(x) - want).max()), abs=1e-7)
        assert row["atol"] == m["golden"]["tolerances"]["scorer"]["atol"]


def test_the_table_names_each_check_and_the_verdict():
    r = _verify(SHIPPED["dense"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["check", "detail"]
    assert any(ln.startswith("files") and "sha256 as recorded" in ln for ln in lines)
    assert any(ln.startswith("scorer/test_data_set_1/output_0") and ln.endswith("ok") for ln in lines)
    assert lines[-1] == f"verify: ok ({SHIPPED['dense']})"


def _one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    return lines[0]


def test_a_flipped_byte_fails_in_one_line(shipped_copy):
    data = bytearray((shipped_copy / "scorer.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (shipped_copy / "scorer.onnx").write_bytes(bytes(data))
    line = _one_error_line(_verify(shipped_copy))
    assert "scorer.onnx has sha256" in line and "the manifest records" in line


def test_a_missing_file_fails_in_one_line(shipped_copy):
    (shipped_copy / "test_data" / "encoder" / "test_data_set_1" / "output_0.pb").unlink()
    line = _one_error_line(_verify(shipped_copy, "--json"))
    assert "output_0.pb" in line and "missing" in line


def test_golden_outputs_this_runtime_does_not_reproduce_fail(shipped_copy):
    """A golden output moved beyond the tolerance (and re-hashed, so only the comparison can catch it)."""
    case = shipped_copy / "test_data" / "scorer" / "test_data_set_1"
    name, want = read_tensor((case / "output_0.pb").read_bytes())
    tol = read_manifest(shipped_copy)["golden"]["tolerances"]["scorer"]
    moved = want.copy()
    moved[2] += 10 * (tol["atol"] + tol["rtol"] * abs(want[2]))
    (case / "output_0.pb").write_bytes(tensor_bytes(moved, name))
    rehash(shipped_copy)
    r = _verify(shipped_copy, "--json")
    line = _one_error_line(r)
    assert "golden vector scorer/test_data_set_1/output_0 differs by" in line and "1 output(s) outside it" in line
    report = json.loads(r.stdout)
    assert report["ok"] is False
    bad = [g for g in report["golden"] if not g["ok"]]
    assert [g["check"] for g in bad] == ["scorer/test_data_set_1/output_0"]
    assert bad[0]["max_abs"] == pytest.approx(float(abs(moved[2] - want[2])), rel=1e-3)


def test_an_onnxruntime_older_than_the_bundle_minimum_fails(monkeypatch):
    """digits-dense as shipped before decisions records no min_onnxruntime: its graphs' IR 10 and opsets need 1.18, which 1.16 is not."""
    from click.testing import CliRunner

    from aeruntime._ort import ort
    from aeruntime.cli import main
    from tests.aeruntime.conftest import SCORE_ONLY_DENSE

    assert "min_onnxruntime" not in read_manifest(SCORE_ONLY_DENSE)
    monkeypatch.setattr(ort, "__version__", "1.16.3")
    r = CliRunner().invoke(main, ["verify", str(SCORE_ONLY_DENSE)])
    assert r.exit_code == 1, r.output
    assert (
        "this bundle needs onnxruntime 1.18 or newer (manifest.json min_onnxruntime), but onnxruntime 1.16.3"
        in r.output
    )


def test_an_operator_outside_the_allow_list_fails(shipped_copy):
    """A graph whose node op_type is renamed (same length, hashes rewritten): the structure check refuses it."""
    data = (shipped_copy / "encoder.onnx").read_bytes()
    assert b"Gemm" in data
    (shipped_copy / "encoder.onnx").write_bytes(data.replace(b"Gemm", b"Gemx", 1))
    m = read_manifest(shipped_copy)
    rehash(shipped_copy, m)
    line = _one_error_line(_verify(shipped_copy))
    assert "encoder.onnx" in line
