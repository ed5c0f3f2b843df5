"""Concurrency and load: one model shared by 8 threads gives exactly the
single-thread results; repeated load/score does not grow memory or open files."""

from __future__ import annotations

import gc
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import aeruntime
import aeruntime.model as model_mod  # create_session is looked up there

PROC = Path("/proc/self")


def test_eight_threads_match_single_thread(shipped_dense, synthetic_digits, monkeypatch):
    X = synthetic_digits[0]
    batches = [X[(37 * i) % 1700 : (37 * i) % 1700 + 1 + (i * 13) % 90] for i in range(64)]
    single = aeruntime.load(shipped_dense, providers="cpu")
    ref = [(single.score(b), single.predict(b), single.encode(b), single.reconstruct(b)) for b in batches]

    created: list[str] = []
    real_create = model_mod.create_session

    def counting_create(data, name, *a, **kw):
        created.append(name)
        return real_create(data, name, *a, **kw)

    monkeypatch.setattr(model_mod, "create_session", counting_create)
    shared = aeruntime.load(shipped_dense, providers="cpu")  # encoder/decoder sessions still lazy
    barrier = threading.Barrier(8)

    def work(k: int):
        barrier.wait()  # all threads start together, racing for the lazy sessions
        return [
            (
                j,
                shared.score(batches[j]),
                shared.predict(batches[j]),
                shared.encode(batches[j]),
                shared.reconstruct(batches[j]),
            )
            for j in range(k, len(batches), 8)
        ]

    with ThreadPoolExecutor(8) as pool:
        results = [r for part in pool.map(work, range(8)) for r in part]
    assert sorted(j for j, *_ in results) == list(range(len(batches)))
    for j, *outs in results:
        for got, want in zip(outs, ref[j]):
            np.testing.assert_array_equal(got, want)
    assert sorted(created) == ["decoder.onnx", "encoder.onnx", "scorer.onnx"]  # each session made once


def _rss_kib() -> int:
    for line in (PROC / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _open_fds() -> int:
    return len(os.listdir(PROC / "fd"))


@pytest.mark.skipif(not (PROC / "status").exists(), reason="needs /proc (Linux) to read RSS and open files")
def test_repeated_load_and_score_does_not_leak(shipped_dense, synthetic_digits):
    X = synthetic_digits[0][:500]

    def cycle():
        m = aeruntime.load(shipped_dense, providers="cpu", threads=1)
        m.score(X)
        m.predict(X[:7])
        m.reconstruct(X[:33])
        del m

    for _ in range(15):  # warm-up: allocator pools, onnxruntime's one-time state
        cycle()
    gc.collect()
    rss0, fds0 = _rss_kib(), _open_fds()
    for _ in range(60):
        cycle()
    gc.collect()
    rss1, fds1 = _rss_kib(), _open_fds()
    assert fds1 - fds0 <= 2, f"open files grew from {fds0} to {fds1}"
    # 60 loads of a bundle whose sessions hold ~1 MiB each: a leak would show tens of MiB
    assert rss1 - rss0 < 16 * 1024, f"RSS grew by {(rss1 - rss0) / 1024:.1f} MiB over 60 load/score cycles"
