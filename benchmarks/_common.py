"""Helpers shared by the edge benchmarks: machine description, medians, markdown output.

Output goes where the command line says: ``--out FILE``, or ``--record`` for the
tracked ``benchmarks/results/<name>.md`` (what the README quotes), else a scratch
file under the system temp directory, so a trial run never overwrites recorded results.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: where results go unless --out or --record says otherwise
SCRATCH = Path(tempfile.gettempdir()) / "aeexport-benchmarks"


def add_output_args(ap: argparse.ArgumentParser) -> None:
    """``--out FILE`` and ``--record`` (write the tracked benchmarks/results/<name>.md)."""
    group = ap.add_mutually_exclusive_group()
    group.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"write the markdown result here (default: a scratch file under {SCRATCH})",
    )
    group.add_argument(
        "--record", action="store_true", help="write the tracked benchmarks/results/<name>.md that the README quotes"
    )


def result_path(name: str, out: Path | None = None, record: bool = False) -> Path:
    """The file a benchmark writes: ``out``, the tracked result (``record``), or a scratch file."""
    if out is not None:
        return Path(out)
    return (RESULTS if record else SCRATCH) / f"{name}.md"


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
    return (
        f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {load:.2f} at start"
    )


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


def write(name: str, title: str, body: list[str], out: Path | None = None, record: bool = False) -> Path:
    """Write the result (see :func:`result_path`) with the command and the machine; print it too."""
    path = result_path(name, out, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "\n".join(
            [
                f"# {title}",
                "",
                f"command: `{command()}`  ",
                f"machine: {machine()}  ",
                f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
                "",
                *body,
            ]
        )
        + "\n"
    )
    path.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {path}", file=sys.stderr)
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
