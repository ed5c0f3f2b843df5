"""Issue 31: the benchmarks' shared harness (interleaving order, timings and ratios on an injected
clock against numpy, child memory peaks, the recorded block's format)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def harness(bench_import):
    return bench_import("harness")


class Clock:
    """A fake clock: each runner call advances it by that runner's next known duration."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _runners(clock: Clock, durations: dict[str, list[float]], log: list[str]):
    def make(name):
        it = iter(durations[name])

        def run(x):
            log.append(name)
            clock.now += next(it)
            return x

        return run

    return {k: make(k) for k in durations}


def test_interleaving_order_alternates_and_warms_each_runner(harness):
    assert harness.order(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert harness.order(["a", "b", "c"], 1) == ["c", "b", "a"]
    log: list[str] = []
    out = harness.interleave({"a": lambda: log.append("a") or 1, "b": lambda: log.append("b") or 2}, 3)
    assert log == ["a", "b", "b", "a", "a", "b"] and out == {"a": [1, 1, 1], "b": [2, 2, 2]}

    clock, log = Clock(), []
    runners = _runners(clock, {"cand": [0.0] * 100, "ref": [0.0] * 100}, log)
    harness.interleaved(runners, None, repeats=2, calls=2, clock=clock, sleep=lambda s: None)
    warm = max(3, min(2, 50))
    # warm-up of each in turn, then per repeat: one untimed call + `calls` timed calls per runner
    assert log == ["cand"] * warm + ["ref"] * warm + ["cand"] * 3 + ["ref"] * 3 + ["ref"] * 3 + ["cand"] * 3


def test_interleaved_timings_and_ratios_match_numpy_on_a_fake_clock(harness):
    rng = np.random.default_rng(0)
    repeats, calls, warm = 5, 4, 4
    # per repeat: one untimed call then `calls` timed ones; a repeat's time = the sum of its timed calls
    per_call = {k: rng.uniform(lo, hi, size=(repeats, 1 + calls)) for k, lo, hi in [("cand", 1, 2), ("ref", 3, 5)]}
    durations = {k: [99.0] * warm + list(v.ravel()) for k, v in per_call.items()}
    clock, pauses = Clock(), []
    timings = harness.interleaved(
        _runners(clock, durations, []), None, repeats, calls, clock=clock, pause=0.25, sleep=pauses.append
    )
    assert pauses == [0.25] * (2 * repeats)
    expected = {k: v[:, 1:].sum(axis=1) / calls for k, v in per_call.items()}
    for k, t in timings.items():
        np.testing.assert_allclose(t.samples, expected[k], rtol=1e-12)
        assert t.median == pytest.approx(np.median(expected[k]), rel=1e-12)
        assert t.best == pytest.approx(np.min(expected[k]), rel=1e-12)
    r = harness.ratios({k: t.median for k, t in timings.items()}, "ref")
    assert r["ref"] == 1.0
    assert r["cand"] == pytest.approx(np.median(expected["cand"]) / np.median(expected["ref"]), rel=1e-12)
    assert harness.medians({"a": [3.0, 1.0, 2.0, 10.0]}) == {"a": np.median([3.0, 1.0, 2.0, 10.0])}


def test_time_call_warms_up_then_times_calls_per_repeat(harness):
    clock, log = Clock(), []
    steps = [7.0, 7.0, 1.0, 2.0, 3.0, 5.0]  # two warm-up calls, then 2 repeats of 2 calls
    t = harness.time_call(_runners(clock, {"f": steps}, log)["f"], 0, repeats=2, calls=2, warmup=2, clock=clock)
    assert log == ["f"] * 6 and t.samples == (1.5, 4.0) and t.best == 1.5 and t.median == 2.75


def test_side_by_side_times_whole_jobs_in_turn_after_a_warm_up(harness):
    clock, log = Clock(), []
    durations = {"a": [9.0, 1.0, 2.0, 3.0], "b": [9.0, 5.0, 7.0, 4.0]}
    jobs = _runners(clock, durations, log)
    t = harness.side_by_side({k: (lambda f=f: f(None)) for k, f in jobs.items()}, repeats=3, clock=clock)
    assert log == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert t["a"].samples == (1.0, 2.0, 3.0) and t["b"].samples == (5.0, 7.0, 4.0)
    assert harness.ratios({k: v.median for k, v in t.items()}, "b") == {"a": 2.0 / 5.0, "b": 1.0}


def test_child_peak_reads_the_childs_own_peak_and_reports_failure(harness):
    # measured from a fresh small process: on Linux a child's ru_maxrss starts from its parent's mark
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import harness; "
        "small = harness.child_peak([sys.executable, '-c', 'print(1)']); "
        "big = harness.child_peak([sys.executable, '-c', 'b = bytearray(120 * 2**20); b[::4096] = bytes(len(b[::4096]))']); "
        "print(small.stdout.strip(), small.peak_mb, big.peak_mb)"
    )
    out, small, big = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == "1"
    assert float(big) - float(small) > 100  # the 120 MiB the child touched, seen from outside it
    tree = harness.tree_peak_kib(
        [sys.executable, "-c", "b = bytearray(120 * 2**20); b[::4096] = bytes(len(b[::4096]))"]
    )
    assert tree / 1024 - float(small) > 100  # the largest process of the tree, from a fresh parent
    with pytest.raises(RuntimeError, match=r"exited 3: .*boom"):
        harness.child_peak([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])


def test_recorded_block_names_the_exact_command_and_machine(harness, tmp_path, monkeypatch):
    when = time.struct_time((2026, 1, 2, 3, 4, 5, 4, 2, 0))
    text = harness.render("Title", ["| a |", "|---|"], cmd="python benchmarks/x.py --n 1", host="cpu", when=when)
    assert text == (
        "# Title\n\ncommand: `python benchmarks/x.py --n 1`  \nmachine: cpu  \ndate: 2026-01-02 03:04 UTC\n\n| a |\n|---|\n"
    )
    monkeypatch.setattr(sys, "argv", [str(ROOT / "benchmarks" / "bench_x.py"), "--repeats", "3"])
    monkeypatch.chdir(ROOT)
    assert harness.command() == "python benchmarks/bench_x.py --repeats 3"
    path = harness.write("x", "T", ["body"], out=tmp_path / "r.md")
    lines = path.read_text().splitlines()
    assert lines[0] == "# T" and lines[2] == "command: `python benchmarks/bench_x.py --repeats 3`  "
    assert lines[3].startswith("machine: ") and "logical cores" in lines[3] and lines[-1] == "body"
    harness.append("x", "more", out=path)
    assert path.read_text().endswith("body\nmore\n")


def test_parser_shares_out_and_record(harness, capsys):
    ap = harness.parser("First line.\n\nMore.")
    assert ap.description == "First line."
    args = ap.parse_args(["--record"])
    assert args.record and args.out is None
    with pytest.raises(SystemExit):
        ap.parse_args(["--record", "--out", "x.md"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert harness.result_path("n", record=True) == harness.RESULTS / "n.md"
    assert harness.result_path("n") == harness.SCRATCH / "n.md"
