"""Table input speed and memory: CSV rows/s and Parquet peak RSS of aeruntime's reader.

CSV: a float32 table of ``--rows`` x ``--columns`` (pyarrow's shortest round-trip
text, about 9 characters a value) is read by

- ``aeruntime.tables``: ``open_source``, the reader ``aeruntime score`` uses (pieces
  of a few MiB parsed by ``pyarrow.csv.read_csv`` in a thread pool), chunks of
  ``--batch-size`` rows;
- ``open_csv``: one ``pyarrow.csv.open_csv`` stream (aeruntime's reader before);
- ``python csv``: the first reader (the ``csv`` module line by line, then
  ``np.asarray(rows, float64)`` per chunk);
- ``read_csv``: pyarrow reading the whole file into memory on all cores, the
  ceiling for a pyarrow-based reader (not streaming);

interleaved, median of ``--repeats``; then ``aeruntime score BUNDLE x.csv --out s.npy``
end to end in a child process.

Parquet: ``--parquet-rows`` files of ``--columns`` float32 columns, each written as
**one row group** (the worst case for memory), read in a child process by
``open_source`` (buffered page reads) and by plain ``ParquetFile.iter_batches`` (the
previous reader), and scored by ``aeruntime score``; peak RSS is the child's
``VmHWM`` (its own high-water mark, printed by the child).

Usage::

    python benchmarks/bench_table_io.py [--bundle models/digits-dense] [--rows 200000]
        [--parquet-rows 200000 2000000] [--repeats 3] [--out results.md] [--record]

Writes a markdown table to ``--out`` (default: a scratch directory); ``--record``
writes ``benchmarks/results/table_io.md``.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, write

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "runtime")])}

_CHILD_READ = r"""
import sys
mode, path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "old":
    import pyarrow.parquet as pq
    for rb in pq.ParquetFile(path).iter_batches(batch_size=batch):
        pass
else:
    from aeruntime.tables import open_source
    for chunk in open_source(path, batch):
        pass
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""

_CHILD_SCORE = r"""
import sys
from aeruntime.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")), file=sys.stderr)
"""


def make_table(path: Path, rows: int, columns: int, row_group: int | None, seed: int = 0) -> None:
    """Write ``rows`` x ``columns`` float32 values (CSV or Parquet), in blocks, in a child process."""
    code = r"""
import sys, numpy as np, pyarrow as pa
path, rows, cols, rg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
schema = pa.schema([(f"f{i}", pa.float32()) for i in range(cols)])
if path.endswith(".csv"):
    import pyarrow.csv as pc
    w = pc.CSVWriter(path, schema)
    for i in range(0, rows, 100000):
        n = min(100000, rows - i)
        w.write_table(pa.table({f"f{j}": rng.standard_normal(n, dtype=np.float32) * 4 + 8 for j in range(cols)}))
    w.close()
else:
    import pyarrow.parquet as pq
    t = pa.table({f"f{j}": rng.standard_normal(rows, dtype=np.float32) * 4 + 8 for j in range(cols)})
    pq.write_table(t, path, row_group_size=rg or rows)
"""
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(rows), str(columns), str(row_group or 0)], check=True, env=ENV
    )


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def python_csv_reader(path: Path, batch: int) -> int:
    """The previous reader: csv module line by line, float64 per chunk (header detected, then skipped)."""
    n = 0
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        block: list[list[str]] = []
        for row in reader:
            block.append(row)
            if len(block) >= batch:
                n += len(np.asarray(block, dtype=np.float64))
                block = []
        if block:
            n += len(np.asarray(block, dtype=np.float64))
    return n


def arrow_reader(path: Path, batch: int) -> int:
    from aeruntime.tables import open_source

    return sum(len(c) for c in open_source(path, batch))


def open_csv_reader(path: Path, batch: int) -> int:
    """aeruntime's reader before pieces: one ``pyarrow.csv.open_csv`` stream (block sized to the batch)."""
    import pyarrow.csv as pacsv

    line = len(path.open("rb").readlines(1 << 16)[1])
    opts = pacsv.ReadOptions(block_size=max(1 << 20, int(batch * line * 1.2)))
    return sum(rb.num_rows for rb in pacsv.open_csv(path, read_options=opts))


def read_csv_whole(path: Path, batch: int) -> int:
    """The ceiling: ``pyarrow.csv.read_csv`` of the whole file into memory on all cores (float32 columns)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = path.open("rb").readline().decode().strip().split(",")
    conv = pacsv.ConvertOptions(column_types={n: pa.float32() for n in names})
    return pacsv.read_csv(path, convert_options=conv).num_rows


def child_kb(args: list[str], code: str, stream: str = "stdout") -> tuple[float, float]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, *args], check=False, env=ENV, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    out = (p.stdout if stream == "stdout" else p.stderr).strip().splitlines()
    if p.returncode != 0 or not out:
        raise RuntimeError(f"child failed ({p.returncode}): {p.stderr[-2000:]}")
    return float(out[-1]) / 1024, secs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "digits-dense")
    ap.add_argument("--rows", type=int, default=200_000, help="CSV rows")
    ap.add_argument("--columns", type=int, default=64)
    ap.add_argument("--parquet-rows", type=int, nargs="+", default=[200_000, 2_000_000])
    ap.add_argument("--batch-size", type=int, default=65536)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="markdown result (default: a scratch directory)")
    ap.add_argument("--record", action="store_true", help="write benchmarks/results/table_io.md")
    ap.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="aeruntime-tableio-", dir=args.tmp))
    out = RESULTS / "table_io.md" if args.record else (args.out or work / "table_io.md")
    body: list[str] = []
    try:
        # ---------------------------------------------------------------- CSV speed
        csv_path = work / "x.csv"
        make_table(csv_path, args.rows, args.columns, None)
        size_mb = csv_path.stat().st_size / 1e6
        runners = {
            "aeruntime.tables (pieces in a thread pool)": arrow_reader,
            "pyarrow open_csv stream (previous aeruntime)": open_csv_reader,
            "python csv (first aeruntime)": python_csv_reader,
            "pyarrow read_csv, whole file (not streaming; reference)": read_csv_whole,
        }
        samples: dict[str, list[float]] = {k: [] for k in runners}
        cpu: dict[str, list[float]] = {k: [] for k in runners}
        for f in runners.values():  # warm-up: imports, page cache
            f(csv_path, args.batch_size)
        for r in range(args.repeats):
            for k in list(runners) if r % 2 == 0 else list(reversed(runners)):
                t0, c0 = time.perf_counter(), _cpu_seconds()
                assert runners[k](csv_path, args.batch_size) == args.rows
                samples[k].append(time.perf_counter() - t0)
                cpu[k].append(_cpu_seconds() - c0)
        med = {k: statistics.median(v) for k, v in samples.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        score_args = ["score", str(args.bundle), str(csv_path), "--out", str(work / "s.npy"), "--providers", "cpu"]
        score_runs = [child_kb(score_args, _CHILD_SCORE, "stderr") for _ in range(args.repeats)]
        score_s = statistics.median(secs for _, secs in score_runs)
        score_mb = statistics.median(mb for mb, _ in score_runs)
        small = work / "small.csv"  # the same command on 10 rows: start-up (imports, session)
        with csv_path.open("rb") as fh:
            small.write_bytes(b"".join(fh.readline() for _ in range(11)))
        small_args = [*score_args[:2], str(small), *score_args[3:]]
        start_s = statistics.median(child_kb(small_args, _CHILD_SCORE, "stderr")[1] for _ in range(args.repeats))
        base = med["python csv (first aeruntime)"]
        body += [
            f"## CSV: {args.rows:,} rows x {args.columns} float32 columns ({size_mb:,.0f} MB)",
            "",
            f"Reading in chunks of {args.batch_size} rows, median of {args.repeats} interleaved repeats.",
            "",
            (
                "Wall time depends on how many cores are free; CPU time (all threads of this process) "
                "much less: rows per CPU-second is the figure that carries over between machines."
            ),
            "",
            "| reader | wall s | rows/s (wall) | MB/s | vs python csv | CPU s | rows per CPU-second |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        body += [
            f"| {k} | {v:.2f} | {args.rows / v:,.0f} | {size_mb / v:,.0f} | {base / v:.1f}x | "
            f"{med_cpu[k]:.2f} | {args.rows / med_cpu[k]:,.0f} |"
            for k, v in med.items()
        ]
        body += [
            "",
            (
                f"`aeruntime score {args.bundle.name} x.csv --out s.npy` end to end (child process, "
                f"start-up included): {score_s:.2f} s, **{args.rows / score_s:,.0f} rows/s**, "
                f"peak RSS {score_mb:,.0f} MB. The same command on a 10-row file takes {start_s:.2f} s "
                f"(imports, session); after start-up: **{args.rows / (score_s - start_s):,.0f} rows/s**."
            ),
            "",
        ]
        csv_path.unlink()
        # ---------------------------------------------------------------- Parquet memory
        body += [
            f"## Parquet: peak RSS, {args.columns} float32 columns in one row group",
            "",
            (
                f"Child processes, `--batch-size {args.batch_size}`; peak RSS = the child's VmHWM; "
                f"median of {args.repeats}."
            ),
            "",
            "| rows | file | open_source | plain iter_batches (previous) | aeruntime score |",
            "|---:|---:|---:|---:|---:|",
        ]
        peaks: dict[int, float] = {}
        for n in args.parquet_rows:
            p = work / f"x{n}.parquet"
            make_table(p, n, args.columns, n)
            new = statistics.median(
                child_kb(["new", str(p), str(args.batch_size)], _CHILD_READ)[0] for _ in range(args.repeats)
            )
            old = statistics.median(
                child_kb(["old", str(p), str(args.batch_size)], _CHILD_READ)[0] for _ in range(args.repeats)
            )
            sc = statistics.median(
                child_kb(
                    ["score", str(args.bundle), str(p), "--out", str(work / "s.npy"), "--providers", "cpu"],
                    _CHILD_SCORE,
                    "stderr",
                )[0]
                for _ in range(args.repeats)
            )
            peaks[n] = sc
            body.append(f"| {n:,} | {p.stat().st_size / 1e6:,.0f} MB | {new:,.0f} MB | {old:,.0f} MB | {sc:,.0f} MB |")
            p.unlink()
        lo, hi = min(peaks), max(peaks)
        body += [
            "",
            (
                f"`aeruntime score` peak RSS changes by **{100 * (peaks[hi] / peaks[lo] - 1):+.0f}%** "
                f"from {lo:,} to {hi:,} rows ({hi / lo:.0f}x the rows, one row group each)."
            ),
        ]
    finally:
        for f in work.iterdir():
            if f != out:
                f.unlink()
    write("table_io", "Table input: CSV speed and Parquet memory", body, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
