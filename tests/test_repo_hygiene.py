"""Benchmarks write where they are told, never over tracked results by default; run outputs are ignored."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.fixture()
def common(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import harness

    return harness


def test_benchmarks_default_to_a_scratch_file_not_the_tracked_results(common, tmp_path, monkeypatch):
    monkeypatch.setattr(common, "SCRATCH", tmp_path / "scratch")
    tracked = common.RESULTS / "cold_start.md"
    before = tracked.read_bytes()
    path = common.write("cold_start", "t", ["body"])
    assert path == tmp_path / "scratch" / "cold_start.md" and "body" in path.read_text()
    assert tracked.read_bytes() == before
    assert common.result_path("cold_start", record=True) == tracked
    assert common.result_path("cold_start", tmp_path / "x.md") == tmp_path / "x.md"


def test_benchmark_scripts_take_out_and_record():
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        if script.name == "bench_spark.py":
            continue  # the spark helper's
        r = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        assert "--out" in r.stdout and "--record" in r.stdout, script.name


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_run_outputs_are_git_ignored():
    r = subprocess.run(
        ["git", "check-ignore", "bundles/digits", "runs/digits/summary.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.stdout.split() == ["bundles/digits", "runs/digits/summary.json"]


def test_no_merge_conflict_markers_in_tracked_text_files():
    """A merge left half-resolved (``<<<<<<<`` / ``>>>>>>>`` lines) fails here, not in a reader's hands."""
    root = ROOT
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    bad = []
    for name in files:
        path = root / name
        if path.suffix not in {".py", ".md", ".js", ".mjs", ".c", ".h", ".toml", ".sh", ".html", ".css", ".json"}:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        bad += [f"{name}:{i}" for i, line in enumerate(lines, 1) if line.startswith(("<<<<<<< ", ">>>>>>> "))]
    assert not bad, "merge conflict markers: " + ", ".join(bad)
