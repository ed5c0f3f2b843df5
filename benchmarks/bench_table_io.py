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

import csv
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, VMHWM, child_env, child_peak, interleave, medians, parser, write  # noqa: E402

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
"""
_CHILD_READ += VMHWM + "\n"

_CHILD_SCORE = r"""
import sys
from aeruntime.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    sys.stdout = sys.stderr
"""
_CHILD_SCORE += "    " + VMHWM + "\n"


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
    child_peak([sys.executable, "-c", code, str(path), str(rows), str(columns), str(row_group or 0)], env=child_env())


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
    """Peak RSS (MB, the VmHWM the child printed on ``stream``) and wall seconds of ``python -c code args``."""
    run = child_peak([sys.executable, "-c", code, *args], env=child_env())
    return run.printed_mb(stream), run.seconds


def median_child(args: list[str], code: str, repeats: int, stream: str = "stdout") -> tuple[float, float]:
    """Median peak RSS (MB) and median seconds of ``repeats`` runs of :func:`child_kb`."""
    runs = [child_kb(args, code, stream) for _ in range(repeats)]
    return statistics.median(mb for mb, _ in runs), statistics.median(s for _, s in runs)


READERS = {
    "aeruntime.tables (pieces in a thread pool)": arrow_reader,
    "pyarrow open_csv stream (previous aeruntime)": open_csv_reader,
    "python csv (first aeruntime)": python_csv_reader,
    "pyarrow read_csv, whole file (not streaming; reference)": read_csv_whole,
}


def read_timed(reader, path: Path, batch: int, rows: int) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) of one read, checking the row count."""
    t0, c0 = time.perf_counter(), _cpu_seconds()
    assert reader(path, batch) == rows
    return time.perf_counter() - t0, _cpu_seconds() - c0


def csv_section(args, work: Path) -> list[str]:
    """CSV speed: the readers side by side, then ``aeruntime score`` end to end and its start-up."""
    csv_path = work / "x.csv"
    make_table(csv_path, args.rows, args.columns, None)
    size_mb = csv_path.stat().st_size / 1e6
    for f in READERS.values():  # warm-up: imports, page cache
        f(csv_path, args.batch_size)
    samplers = {k: lambda f=f: read_timed(f, csv_path, args.batch_size, args.rows) for k, f in READERS.items()}
    samples = interleave(samplers, args.repeats)
    med = medians({k: [w for w, _ in v] for k, v in samples.items()})
    med_cpu = medians({k: [c for _, c in v] for k, v in samples.items()})
    score_args = ["score", str(args.bundle), str(csv_path), "--out", str(work / "s.npy"), "--providers", "cpu"]
    score_mb, score_s = median_child(score_args, _CHILD_SCORE, args.repeats, "stderr")
    small = work / "small.csv"  # the same command on 10 rows: start-up (imports, session)
    with csv_path.open("rb") as fh:
        small.write_bytes(b"".join(fh.readline() for _ in range(11)))
    start_s = median_child([*score_args[:2], str(small), *score_args[3:]], _CHILD_SCORE, args.repeats, "stderr")[1]
    csv_path.unlink()
    base = med["python csv (first aeruntime)"]
    return [
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
        *[
            f"| {k} | {v:.2f} | {args.rows / v:,.0f} | {size_mb / v:,.0f} | {base / v:.1f}x | "
            f"{med_cpu[k]:.2f} | {args.rows / med_cpu[k]:,.0f} |"
            for k, v in med.items()
        ],
        "",
        (
            f"`aeruntime score {args.bundle.name} x.csv --out s.npy` end to end (child process, "
            f"start-up included): {score_s:.2f} s, **{args.rows / score_s:,.0f} rows/s**, "
            f"peak RSS {score_mb:,.0f} MB. The same command on a 10-row file takes {start_s:.2f} s "
            f"(imports, session); after start-up: **{args.rows / (score_s - start_s):,.0f} rows/s**."
        ),
        "",
    ]


def parquet_section(args, work: Path) -> list[str]:
    """Parquet memory: the children's peaks reading and scoring one row group of each size."""
    body = [
        f"## Parquet: peak RSS, {args.columns} float32 columns in one row group",
        "",
        f"Child processes, `--batch-size {args.batch_size}`; peak RSS = the child's VmHWM; median of {args.repeats}.",
        "",
        "| rows | file | open_source | plain iter_batches (previous) | aeruntime score |",
        "|---:|---:|---:|---:|---:|",
    ]
    peaks: dict[int, float] = {}
    for n in args.parquet_rows:
        p = work / f"x{n}.parquet"
        make_table(p, n, args.columns, n)
        new = median_child(["new", str(p), str(args.batch_size)], _CHILD_READ, args.repeats)[0]
        old = median_child(["old", str(p), str(args.batch_size)], _CHILD_READ, args.repeats)[0]
        score = ["score", str(args.bundle), str(p), "--out", str(work / "s.npy"), "--providers", "cpu"]
        peaks[n] = sc = median_child(score, _CHILD_SCORE, args.repeats, "stderr")[0]
        body.append(f"| {n:,} | {p.stat().st_size / 1e6:,.0f} MB | {new:,.0f} MB | {old:,.0f} MB | {sc:,.0f} MB |")
        p.unlink()
    lo, hi = min(peaks), max(peaks)
    return body + [
        "",
        (
            f"`aeruntime score` peak RSS changes by **{100 * (peaks[hi] / peaks[lo] - 1):+.0f}%** "
            f"from {lo:,} to {hi:,} rows ({hi / lo:.0f}x the rows, one row group each)."
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "digits-dense")
    ap.add_argument("--rows", type=int, default=200_000, help="CSV rows")
    ap.add_argument("--columns", type=int, default=64)
    ap.add_argument("--parquet-rows", type=int, nargs="+", default=[200_000, 2_000_000])
    ap.add_argument("--batch-size", type=int, default=65536)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aeruntime-tableio-", dir=args.tmp) as work:
        body = csv_section(args, Path(work)) + parquet_section(args, Path(work))
    write("table_io", "Table input: CSV speed and Parquet memory", body, args.out, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
