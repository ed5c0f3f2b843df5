"""Atomic writes: a killed export leaves the old complete bundle or the new one, never a mix.

The export runs in real subprocesses (tests/export/_export_worker.py) that are
SIGKILLed at fixed points inside the atomic swap and at random moments of an
export loop; afterwards the target must load with ``verify=True`` as exactly the
old bundle or exactly one new bundle, and the next successful export must leave
no ``.aeexport-tmp-*`` directory behind. Checkpoints and score files get the same
guarantee through the same helpers.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import aeruntime
from aeruntime.fs.atomic import TMP_PREFIX, atomic_directory, atomic_write_bytes
from aeruntime.tables import write_scores
from tests.conftest import SUBPROCESS_ENV

WORKER = Path(__file__).with_name("_export_worker.py")
BASE = 100.0


@pytest.fixture(scope="module")
def graph_cache(tmp_path_factory) -> Path:
    """The worker model's traced graphs, made once in this process."""
    from . import _export_worker as worker

    cache = tmp_path_factory.mktemp("graph-cache")
    with worker.cached_exporter(cache) as export:
        export(cache / "warmup-bundle", 0.0, -1)
    return cache


def _state(target: Path, old: dict) -> str:
    """'old' or 'new' if ``target`` holds one complete bundle; fail otherwise."""
    model = aeruntime.load(target, providers="cpu", verify=True)  # every sha256, graph hash, partner
    m = model.manifest
    on_disk = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert on_disk == set(m["files"]) | {"manifest.json"}, "files of two bundles are mixed"
    scores = model.score(np.full((3, 64), 4.0, np.float32))
    assert scores.shape == (3,) and np.isfinite(scores).all()
    if m == old:
        return "old"
    assert m["bundle_id"] != old["bundle_id"]
    assert m["threshold"]["method"] == "fixed"
    value = m["threshold"]["value"]
    assert value == int(value) and BASE <= value < BASE + 1000, value
    return "new"


def _tmp_entries(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(TMP_PREFIX))


@pytest.mark.slow
def test_sigkill_during_export_leaves_old_or_new_bundle(tmp_path, dense_bundle, graph_cache):
    from . import _export_worker as worker

    old = json.loads((dense_bundle / "manifest.json").read_text())
    rng = random.Random(7)
    # (name, --kill-at, delay after "ready" for an external SIGKILL, expected state or None)
    points = [
        ("build", "build", None, "old"),  # temporary directory half written
        ("after-swap", "after-swap", None, "new"),  # swapped, old bundle not yet removed
        *[(f"random{k}", None, rng.uniform(0.2, 2.5), None) for k in range(2)],
    ]
    procs = {}
    for name, kill_at, _, _ in points:
        target = tmp_path / name / "bundle"
        shutil.copytree(dense_bundle, target)
        cmd = [
            sys.executable,
            "-u",
            str(WORKER),
            str(graph_cache),
            str(target),
            "--iterations",
            "1000" if kill_at is None else "1",
            "--base",
            str(BASE),
        ]
        if kill_at:
            cmd += ["--kill-at", kill_at]
        procs[name] = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=SUBPROCESS_ENV, text=True
        )

    def kill_after_ready(proc: subprocess.Popen, delay: float, log: list[str]) -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            log.append(line.strip())
            if line.strip() == "ready":
                threading.Timer(delay, proc.send_signal, (signal.SIGKILL,)).start()

    logs: dict[str, list[str]] = {name: [] for name in procs}
    threads = []
    for name, _, delay, _ in points:
        if delay is not None:
            t = threading.Thread(target=kill_after_ready, args=(procs[name], delay, logs[name]))
            t.start()
            threads.append(t)
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:  # pragma: no cover - keeps a hung worker from outliving the test
            proc.kill()
            raise
        assert proc.returncode == -signal.SIGKILL, f"{name}: rc {proc.returncode}\n{err[-2000:]}"
    for t in threads:
        t.join()

    seen = {}
    for name, _, _, expected in points:
        target = tmp_path / name / "bundle"
        seen[name] = _state(target, old)
        if expected is not None:
            assert seen[name] == expected, (name, seen[name])
    # the kill after the swap leaves the old bundle in a temporary directory beside the target
    assert _tmp_entries(tmp_path / "after-swap")
    assert _tmp_entries(tmp_path / "build")  # and the half-written new one

    # The next successful run replaces the bundle and removes every leftover.
    with worker.cached_exporter(graph_cache) as export:
        for name, *_ in points:
            export(tmp_path / name / "bundle", BASE + 999)
    for name, *_ in points:
        assert _tmp_entries(tmp_path / name) == [], name
        assert aeruntime.load(tmp_path / name / "bundle", providers="cpu").threshold == BASE + 999
    print("kill outcomes:", seen, {n: lines[-2:] for n, lines in logs.items() if lines})


def test_atomic_directory_failure_keeps_target(tmp_path):
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "a.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_directory(target) as tmp:
            (tmp / "a.txt").write_text("new")
            (tmp / "b.txt").write_text("new")
            raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert (target / "a.txt").read_text() == "old"
    assert _tmp_entries(tmp_path) == []


def test_checkpoint_write_failure_keeps_old_checkpoint(tmp_path, dense_trained, digits_split, monkeypatch):
    import aeexport.train._checkpoint as ck

    path = tmp_path / "ckpt"
    ck.save_checkpoint(path, dense_trained.model, holdout=digits_split.val[:10])
    before = {p.name: p.read_bytes() for p in path.iterdir()}

    def broken(*a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_np", broken)
    with pytest.raises(OSError, match="disk full"):
        ck.save_checkpoint(path, dense_trained.model, holdout=digits_split.val[:20])
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert _tmp_entries(tmp_path) == []
    _, _, holdout = ck.load_checkpoint(path)
    assert len(holdout) == 10


@pytest.mark.parametrize("suffix", [".csv", ".npy", ".npz"])
def test_write_scores_failure_keeps_old_file(tmp_path, monkeypatch, suffix):
    import aeruntime.fs.atomic as atomic

    out = tmp_path / f"scores{suffix}"
    write_scores(out, np.array([0.5, 2.0], np.float32), np.array([0, 1], np.int8))
    before = out.read_bytes()

    def broken_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="rename failed"):
        write_scores(out, np.zeros(5, np.float32), np.zeros(5, np.int8))
    assert out.read_bytes() == before
    assert _tmp_entries(tmp_path) == []


def test_atomic_write_bytes_replaces_whole_file(tmp_path):
    out = tmp_path / "f.bin"
    atomic_write_bytes(out, b"a" * 1000)
    atomic_write_bytes(out, b"b" * 10)
    assert out.read_bytes() == b"b" * 10
    assert _tmp_entries(tmp_path) == []
