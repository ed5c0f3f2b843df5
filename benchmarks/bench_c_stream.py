"""Per-row cost and memory of the C consumer's stream (``aescore --stream``, examples/c) on series bundles.

``aescore`` is built in the Debian 13 root of ``examples/c/rootfs.sh`` (onnxruntime 1.21's C API, one
intra-op thread) as the tests build it. The bundles are those of ``bench_series_stream.py`` (a dense
autoencoder over the flattened window, "tiny" 16 x 3 and "smap-like" 32 x 25), with the ``aeexport.*``
graph metadata the C program reads (``input_shape``, ``threshold``, ``series``). Rows are random
normal values written as CSV and fed on stdin.

- **per row**: the CPU time (user + system, ``RUSAGE_CHILDREN``: the whole process tree, chroot
  included) of streaming ``--long`` rows minus that of ``--short`` rows, divided by the difference;
  start-up (loading onnxruntime and the graph) cancels out. It includes parsing the CSV line, the ring
  buffer, one onnxruntime Run on the (1, W, C) window, the alarm rule and writing a flushed line.
  Median of ``--repeats`` pairs, the two lengths interleaved.
- **peak RSS** (largest process of the tree) of the short and the long run: fixed memory means equal.

    nice -n 15 python benchmarks/bench_c_stream.py --record
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_series_stream import C_MARK, CASES, MARK, make_bundle  # noqa: E402
from harness import RESULTS, ROOT, parser, tree_peak_kib, write  # noqa: E402

ROOTFS_SH = ROOT / "examples" / "c" / "rootfs.sh"


def in_root(work: Path, *cmd: str, stdin: Path | None = None) -> None:
    with open(stdin or "/dev/null", "rb") as fh:
        r = subprocess.run(
            ["bash", str(ROOTFS_SH), "run", "--bind", str(work), *cmd],
            stdin=fh,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")


def cpu_seconds(work: Path, cmd: list[str], rows: Path) -> float:
    """User + system CPU seconds of ``cmd`` in the root, rows on stdin (this process's children's usage delta)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    in_root(work, *cmd, stdin=rows)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(work: Path, binary: Path, case: tuple, short: int, long: int, repeats: int) -> str:
    name, w, c, hidden, latent = case
    bundle = make_bundle(work / name, w, c, hidden, latent)
    x = np.random.default_rng(1).standard_normal((long, c)).astype(np.float32)
    files = {n: work / f"{name}-{n}.csv" for n in (short, long)}
    for n, path in files.items():
        np.savetxt(path, x[:n], delimiter=",", fmt="%.9g")
    cmd = [str(binary), "--stream", str(bundle)]
    per_row = []
    for r in range(repeats):
        order = (short, long) if r % 2 == 0 else (long, short)
        t = {n: cpu_seconds(work, cmd, files[n]) for n in order}
        per_row.append((t[long] - t[short]) / (long - short))
    shell = ["bash", str(ROOTFS_SH), "run", "--bind", str(work), "sh", "-c"]
    rss = {n: tree_peak_kib([*shell, f"{' '.join(cmd)} < {files[n]} > /dev/null"]) / 1024 for n in files}
    return (
        f"| {name} | {w} x {c} | {hidden}/{latent} | {statistics.median(per_row) * 1e6:.1f} | "
        f"{min(per_row) * 1e6:.1f} .. {max(per_row) * 1e6:.1f} | {rss[short]:.1f} | {rss[long]:.1f} |"
    )


def record_section(text: str) -> None:
    """Put ``text`` at the end of benchmarks/results/series.md, after the Python stream's section (replacing an
    older C section)."""
    target = RESULTS / "series.md"
    old = target.read_text(encoding="utf-8").split(C_MARK)[0].rstrip() if target.exists() else ""
    if MARK not in old:
        raise SystemExit(f"{target} has no {MARK} section yet: run bench_series_stream.py --record first")
    section = text.replace("# Series stream in C", "## Series stream in C", 1)
    target.write_text(f"{old}\n\n{C_MARK}\n{section.rstrip()}\n", encoding="utf-8")
    print(f"recorded in {target}", file=sys.stderr)


def main() -> None:
    ap = parser(__doc__.split("\n\n")[0])
    ap.add_argument("--short", type=int, default=2_000)
    ap.add_argument("--long", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    subprocess.run(["bash", str(ROOTFS_SH), "path"], capture_output=True, check=True)
    with tempfile.TemporaryDirectory(prefix="aescore-stream-") as tmp:
        work = Path(tmp)
        src = shutil.copytree(ROOT / "examples" / "c", work / "src", ignore=shutil.ignore_patterns("aescore"))
        in_root(work, "make", "-s", "-C", str(src))
        lines = [measure(work, src / "aescore", case, args.short, args.long, args.repeats) for case in CASES]
    body = [
        f"CPU time per row (user + system of the process tree) of `aescore --stream BUNDLE < rows.csv`: ({args.long:,}",
        f"rows - {args.short:,} rows) / {args.long - args.short:,}, median (and range) of {args.repeats} interleaved pairs;",
        "CSV parsing, the ring buffer, one onnxruntime Run (C API, Debian's 1.21, one intra-op thread) on the (1, W, C)",
        "window, the alarm rule and one flushed output line per row. Peak RSS of the largest process (MB) for both",
        "lengths: the stream allocates its buffers once, so ten times the rows take the same memory.",
        "Compare with the Python stream above (`push`, same bundles, one intra-op thread).",
        "",
        f"| bundle | window | hidden/latent | per row (µs) | range (µs) | peak RSS {args.short:,} rows (MB) "
        f"| peak RSS {args.long:,} rows (MB) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
        *lines,
    ]
    path = write("c_stream", "Series stream in C: per-row cost of aescore --stream", body, args.out)
    if args.record:
        record_section(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
