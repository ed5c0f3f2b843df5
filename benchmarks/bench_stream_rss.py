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

import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import child_env, child_peak, parser, write  # noqa: E402


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


def measure(args, n: int, work: Path, env: dict[str, str]) -> tuple[int, float, float]:
    """Input bytes, median peak RSS (MB) and median wall seconds of scoring ``n`` generated rows."""
    inp, out = work / f"x{n}.npy", work / f"s{n}.npy"
    child_peak([sys.executable, __file__, "--generate", str(inp), str(n), str(args.bundle)], env=env)
    score = [sys.executable, "-m", "aeruntime.cli", "score", str(args.bundle), str(inp), "--out", str(out)]
    score += ["--batch-size", str(args.batch_size), "--providers", "cpu"]
    runs = [child_peak(score, env=env) for _ in range(args.repeats)]
    assert len(np.load(out, mmap_mode="r", allow_pickle=False)) == n
    size = inp.stat().st_size
    inp.unlink()
    out.unlink()
    return size, statistics.median(r.peak_mb for r in runs), statistics.median(r.seconds for r in runs)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--generate"]:
        path, rows, bundle = argv[1], int(argv[2]), Path(argv[3])
        make_input(Path(path), json.loads((bundle / "manifest.json").read_text()), rows)
        return 0
    ap = parser(__doc__)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=65536)
    ap.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aeruntime-rss-", dir=args.tmp) as work:
        m = {n: measure(args, n, Path(work), child_env()) for n in args.rows}
    lo, hi = min(args.rows), max(args.rows)
    body = [
        f"`aeruntime score {args.bundle} IN.npy --out OUT.npy --batch-size {args.batch_size}` in a child "
        f"process; peak RSS = the child's ru_maxrss (os.wait4); median of {args.repeats}.",
        "",
        "| rows | input size | peak RSS | wall time | rows/s |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {n:,} | {b / 1e6:,.0f} MB | {mb:,.1f} MB | {s:.1f} s | {n / s:,.0f} |" for n, (b, mb, s) in m.items()],
        "",
        f"Peak RSS grows by **{100 * (m[hi][1] / m[lo][1] - 1):+.1f}%** from {lo:,} to {hi:,} rows "
        f"({m[hi][0] / m[lo][0]:.0f}x the input); target: within 10%.",
    ]
    write("stream_rss", "Streaming: peak memory vs input size", body, args.out, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
