"""Command-line discipline for ``aeruntime`` and ``aeexport``: exit code 0 ok, 1 failure,
2 usage error; results on stdout, messages on stderr; no traceback unless ``--debug``.

A few cases run the installed console scripts in real subprocesses; the rest use
click's CliRunner (stdout and stderr captured separately)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime.cli import main as rt_main
from tests.conftest import BIN, SUBPROCESS_ENV
from tests.helpers import copy_bundle


def run(tool: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / tool), *map(str, args)], capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=120
    )


@pytest.fixture
def rows(tmp_path, digits):
    x = digits[0][:25]
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "x.npy", x


# ---------------------------------------------------------------------------- real subprocesses
def test_subprocess_score_ok_results_on_stdout(dense_bundle, rows):
    path, x = rows
    p = run("aeruntime", "score", dense_bundle, path)
    assert p.returncode == 0, p.stderr
    assert "Error" not in p.stderr and "Traceback" not in p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "score,label,p_value" and len(lines) == 1 + len(x)  # a decision scorer: p-values too
    got = np.array([float(line.split(",")[0]) for line in lines[1:]], np.float32)
    model = aeruntime.load(dense_bundle, providers="cpu")
    np.testing.assert_allclose(got, model.score(x), rtol=1e-7)  # printed with 9 significant digits
    assert [int(line.split(",")[1]) for line in lines[1:]] == model.predict(x).tolist()


def test_subprocess_user_error_one_line_exit_2_no_traceback(dense_bundle, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n1\n")
    p = run("aeruntime", "score", dense_bundle, bad)
    assert p.returncode == 2
    assert p.stdout == ""
    # refused on its first line (2 fields, the model reads 64), before the header is even decided
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("Error: ")
    assert "bad.csv has 2 features, but the model expects 64" in p.stderr
    assert "Traceback" not in p.stderr


def test_subprocess_debug_shows_traceback(dense_bundle, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n1\n")
    p = run("aeruntime", "--debug", "score", dense_bundle, bad)
    assert p.returncode == 1  # the exception escapes click: Python's own exit status
    assert "Traceback (most recent call last)" in p.stderr and "InvalidInputError" in p.stderr


def test_subprocess_failure_exit_1(tmp_path, dense_bundle):
    b = copy_bundle(dense_bundle, tmp_path / "b")
    (b / "scorer.onnx").write_bytes(b"\x00")
    p = run("aeruntime", "info", b)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.startswith("Error: scorer.onnx has sha256") and "Traceback" not in p.stderr


def test_subprocess_aeexport_inspect_json_and_usage_error(dense_bundle, tmp_path):
    p = run("aeexport", "inspect", dense_bundle, "--json")
    assert p.returncode == 0 and p.stderr == ""
    assert json.loads(p.stdout) == json.loads((dense_bundle / "manifest.json").read_text())
    p = run("aeexport", "inspect", tmp_path / "missing")
    assert p.returncode == 2 and p.stdout == "" and "does not exist" in p.stderr and "Traceback" not in p.stderr


# ---------------------------------------------------------------------------- CliRunner
def invoke(main, *args):
    return CliRunner().invoke(main, [str(a) for a in args])


def ae_main():
    from aeexport.cli import main

    return main


def test_score_to_file_message_on_stderr_nothing_on_stdout(dense_bundle, rows, tmp_path):
    path, x = rows
    r = invoke(rt_main, "score", dense_bundle, path, "--out", tmp_path / "s.npz")
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr.startswith(f"scored {len(x)} rows -> ")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as d:
        np.testing.assert_array_equal(d["score"], aeruntime.load(dense_bundle, providers="cpu").score(x))


def test_info_json_on_stdout(dense_bundle):
    r = invoke(rt_main, "info", dense_bundle, "--json")
    assert r.exit_code == 0 and r.stderr == ""
    info = json.loads(r.stdout)
    assert info["threshold"] == aeruntime.load(dense_bundle, providers="cpu").threshold
    assert info["input_shape"] == [64]


@pytest.mark.parametrize("tool", ["aeruntime", "aeexport"])
@pytest.mark.parametrize(
    "args, code", [(["--help"], 0), (["--version"], 0), (["nonsense"], 2), ([], 2), (["--bogus-flag"], 2)]
)
def test_usage_exit_codes(tool, args, code):
    r = invoke(rt_main if tool == "aeruntime" else ae_main(), *args)
    assert r.exit_code == code, r.output
    if code == 2:
        assert r.stdout == "" and ("Error:" in r.stderr or "Usage:" in r.stderr)
    else:
        assert r.stdout and r.stderr == ""


def test_missing_argument_exit_2(dense_bundle):
    r = invoke(rt_main, "score", dense_bundle)
    assert r.exit_code == 2 and "Missing argument 'INPUT'" in r.stderr and r.stdout == ""


@pytest.mark.parametrize(
    "exc, message", [(TypeError("boom"), "unexpected TypeError: boom"), (MemoryError(), "out of memory")]
)
def test_unexpected_errors_one_line_exit_1_traceback_with_debug(dense_bundle, monkeypatch, exc, message):
    import aeruntime.model

    def broken(*a, **kw):
        raise exc

    monkeypatch.setattr(aeruntime.model, "load", broken)
    r = invoke(rt_main, "info", dense_bundle)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.startswith("Error: ") and message in r.stderr and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr
    r = invoke(rt_main, "--debug", "info", dense_bundle)
    assert r.exception is exc  # --debug lets it through, with its traceback


def test_aeexport_verify_ok_and_parity_violation_exit_codes(dense_bundle):
    r = invoke(ae_main(), "verify", dense_bundle)
    assert r.exit_code == 0, r.output
    assert "Error" not in r.stderr
    r = invoke(ae_main(), "verify", dense_bundle, "--atol", "0", "--rtol", "0", "--json")
    assert r.exit_code == 1
    report = json.loads(r.stdout)  # the report still goes to stdout, the verdict to stderr
    assert report["ok"] is False
    assert r.stderr.strip() == "Error: parity violation: onnxruntime differs from torch beyond the tolerance."
