"""``.ci/check_skips.py``: CI fails on a skip whose reason is not a missing GPU, on a real pytest JUnit report."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

CHECK = ROOT / ".ci" / "check_skips.py"
TESTS = """
import pytest

def test_runs():
    pass

@pytest.mark.skip(reason="needs a CUDA device")
def test_gpu():
    pass

def test_missing_tool():
    pytest.skip("chromium is not installed")
"""


def _report(tmp_path, body: str):
    (tmp_path / "test_sample.py").write_text(body)
    xml = tmp_path / "junit.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_sample.py", f"--junitxml={xml}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},  # CI's own report options
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return subprocess.run([sys.executable, str(CHECK), str(xml)], capture_output=True, text=True, timeout=60)


def test_a_skip_for_a_missing_tool_fails_ci(tmp_path):
    r = _report(tmp_path, TESTS)
    assert r.returncode == 1
    assert "1 test(s) skipped for a reason other than a missing GPU" in r.stderr
    assert "test_missing_tool: chromium is not installed" in r.stderr and "test_gpu" not in r.stderr


def test_gpu_skips_alone_pass(tmp_path):
    r = _report(tmp_path, TESTS.split("def test_missing_tool")[0])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ci: no test skipped except for a missing GPU"


def test_a_missing_report_is_an_error(tmp_path):
    r = subprocess.run([sys.executable, str(CHECK), str(tmp_path / "none.xml")], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot read the test report" in r.stderr
