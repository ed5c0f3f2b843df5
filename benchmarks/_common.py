"""Helpers shared by the edge benchmarks: machine description, medians, markdown output."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, load average {load:.2f} at start")


def command() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])


def median_us(fn, x, calls: int, repeats: int) -> float:
    """Median over repeats of the mean time of one call, in µs."""
    for _ in range(max(10, calls // 10)):
        fn(x)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(x)
        samples.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(samples)


def median_rows_per_s(fn, x, repeats: int) -> float:
    fn(x)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        samples.append(len(x) / (time.perf_counter() - t0))
    return statistics.median(samples)


def write(name: str, title: str, body: list[str], out: Path | None = None) -> Path:
    """Write ``results/<name>.md`` with the command and the machine; print it too."""
    path = out or RESULTS / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join([f"# {title}", "", f"command: `{command()}`  ", f"machine: {machine()}  ",
                      f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "", *body]) + "\n"
    path.write_text(text, encoding="utf-8")
    print(text)
    return path


def interleaved(runners: dict, x, repeats: int, calls: int = 1) -> dict[str, float]:
    """Side by side: each repeat times every runner once, in turn (so load changes hit all alike).

    Returns the median seconds per call of each runner.
    """
    for f in runners.values():  # warm-up
        for _ in range(max(3, min(calls, 50))):
            f(x)
    samples: dict[str, list[float]] = {k: [] for k in runners}
    for r in range(repeats):
        order = list(runners) if r % 2 == 0 else list(reversed(runners))
        for k in order:
            f = runners[k]
            # Let the previous runner's thread pool stop spinning (onnxruntime's workers
            # spin after each parallel run and would steal the cores), then warm this one.
            time.sleep(0.05)
            f(x)
            t0 = time.perf_counter()
            for _ in range(calls):
                f(x)
            samples[k].append((time.perf_counter() - t0) / calls)
    return {k: statistics.median(v) for k, v in samples.items()}
