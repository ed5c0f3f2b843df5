"""Peak memory of streaming `aeruntime score` as the input grows (1M vs 10M rows).

Generates float32 .npy inputs of each size in /tmp (rows drawn from the bundle's
scaler statistics, written in blocks so this process stays small), runs
``aeruntime score BUNDLE IN --out OUT.npy`` in a child process and reads the
child's peak resident set size from ``os.wait4`` (its own ``ru_maxrss``), median
of repeats; the files are deleted afterwards. Inputs are generated in a separate
process: on Linux a child's ru_maxrss starts from its parent's high-water mark,
so this parent must stay small.

Usage::

    python benchmarks/bench_stream_rss.py models/digits-dense [--rows 1000000 10000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import add_output_args, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def make_input(path: Path, manifest: dict, rows: int, block: int = 1 << 18) -> None:
    shape = tuple(manifest["input"]["shape"])
    mean = np.asarray(manifest["scaler"]["mean"], np.float32).reshape(shape)
    scale = np.asarray(manifest["scaler"]["scale"], np.float32).reshape(shape)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, *shape))
    rng = np.random.default_rng(0)
    for i in range(0, rows, block):
        n = min(block, rows - i)
        out[i : i + n] = mean + scale * rng.standard_normal((n, *shape), dtype=np.float32)
        out.flush()
    del out


def peak_rss_mb(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {proc.stderr.read().decode()}")
    return usage.ru_maxrss / 1024, time.perf_counter() - t0  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--generate"]:
        import json

        path, rows, bundle = argv[1], int(argv[2]), Path(argv[3])
        make_input(Path(path), json.loads((bundle / "manifest.json").read_text()), rows)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=65536)
    ap.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    add_output_args(ap)
    args = ap.parse_args(argv)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "runtime")])}
    exe = [sys.executable, "-m", "aeruntime.cli"]
    rss: dict[int, float] = {}
    secs: dict[int, float] = {}
    sizes: dict[int, int] = {}
    work = Path(tempfile.mkdtemp(prefix="aeruntime-rss-", dir=args.tmp))
    try:
        for n in args.rows:
            inp, out = work / f"x{n}.npy", work / f"s{n}.npy"
            subprocess.run(
                [sys.executable, __file__, "--generate", str(inp), str(n), str(args.bundle)], env=env, check=True
            )
            sizes[n] = inp.stat().st_size
            samples = [
                peak_rss_mb(
                    exe
                    + [
                        "score",
                        str(args.bundle),
                        str(inp),
                        "--out",
                        str(out),
                        "--batch-size",
                        str(args.batch_size),
                        "--providers",
                        "cpu",
                    ],
                    env,
                )
                for _ in range(args.repeats)
            ]
            assert len(np.load(out, mmap_mode="r", allow_pickle=False)) == n
            rss[n] = statistics.median(s[0] for s in samples)
            secs[n] = statistics.median(s[1] for s in samples)
            inp.unlink()
            out.unlink()
    finally:
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    lo, hi = min(args.rows), max(args.rows)
    body = [
        f"`aeruntime score {args.bundle} IN.npy --out OUT.npy --batch-size {args.batch_size}` in a child "
        f"process; peak RSS = the child's ru_maxrss (os.wait4); median of {args.repeats}.",
        "",
        "| rows | input size | peak RSS | wall time | rows/s |",
        "|---:|---:|---:|---:|---:|",
    ]
    body += [
        f"| {n:,} | {sizes[n] / 1e6:,.0f} MB | {rss[n]:,.1f} MB | {secs[n]:.1f} s | {n / secs[n]:,.0f} |"
        for n in args.rows
    ]
    change = rss[hi] / rss[lo] - 1
    body += [
        "",
        f"Peak RSS grows by **{100 * change:+.1f}%** from {lo:,} to {hi:,} rows "
        f"({sizes[hi] / sizes[lo]:.0f}x the input); target: within 10%.",
    ]
    write("stream_rss", "Streaming: peak memory vs input size", body, args.out, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
