"""Training on big data: peak RSS and epoch rows/s of ``aeexport train`` beside a plain torch loop.

For each size and format (float32 Gaussian rows x 32 features, ``.npy`` and Parquet by default, CSV
and ``.npz`` on request, generated in blocks by a child process so this parent stays small) it runs,
alternating, median of repeats:

- ``aeexport train FILE --out CK --epochs E`` in a child: its peak RSS once the command is done
  (``VmHWM``, before the interpreter's teardown), and the whole process's from ``os.wait4`` (the
  teardown faults in library pages: 60-130 MB more, which is the peak at small sizes); the epoch rows/s
  from the checkpoint's ``epoch_seconds`` (train rows / seconds of the median epoch's training pass,
  and with its validation pass);
- the same command on a 2,000-row file of the same format: the fixed base (the torch import and
  what training loads lazily), so ``(peak - base) / matrix`` is what the data costs;
- the throughput ratio (``--interleaved``, one child per size): aeexport's epoch
  (``aeexport.train._train_epoch`` with its model, scaled rows, batch, threads and deterministic mode)
  and a plain hand-written torch loop (the same dense model as the tabular preset, 32-128-64-8-64-128-32,
  ReLU, dropout 0.2, Adam 1e-3, 35% trimmed MSE, the same batch and threads, rows already in memory),
  alternating epoch by epoch in one process, medians of ``epochs x repeats`` epochs after one warm-up
  each: both see the same load on a shared machine (``--plain`` runs the loop alone);

and the share of the machine's sgemm rate (torch.mm 2048x2048, same threads) an epoch reaches at
~6 FLOP per weight per row (forward + backward). ``--sample-rows N --max-rows M`` adds one ``.npy`` of
N rows trained with ``--max-rows M`` (the sampling pass included in its wall time). The machine is
shared: read the ratios, measured side by side.

``--run`` adds the peak RSS of ``aeexport run FILE`` (train, export, verify, score the test split)
beside its own base (the same ``run`` on the 2,000-row file).

Usage::

    python benchmarks/bench_train.py [--rows 200000 2000000] [--formats npy parquet csv npz] [--repeats 3]
        [--epochs 3] [--run] [--no-ratio] [--sample-rows 50000000 --max-rows 2000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import child_peak, parser, write  # noqa: E402

ME = [sys.executable, str(Path(__file__).resolve())]
WIDTHS = (32, 128, 64, 8, 64, 128, 32)
FLOP_PER_ROW = 6 * sum(a * b for a, b in zip(WIDTHS[:-1], WIDTHS[1:], strict=True))


def generate(path: Path, rows: int, block: int = 1 << 18) -> None:
    """``rows`` x 32 standard-normal float32 rows, written block by block (.npy memmap, Parquet or CSV writer;
    ``.npz``: one array ``X``, whole in this child's memory). The same values in every format."""
    rng = np.random.default_rng(0)
    if path.suffix == ".npy":
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 32))
        for i in range(0, rows, block):
            out[i : i + block] = rng.standard_normal((min(block, rows - i), 32), dtype=np.float32)
        out.flush()
        return
    if path.suffix == ".npz":
        X = np.empty((rows, 32), dtype=np.float32)
        for i in range(0, rows, block):
            X[i : i + block] = rng.standard_normal((min(block, rows - i), 32), dtype=np.float32)
        np.savez(path, X=X)
        return
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    schema = pa.schema([(f"f{j}", pa.float32()) for j in range(32)])
    writer = pq.ParquetWriter(path, schema) if path.suffix == ".parquet" else pcsv.CSVWriter(path, schema)
    with writer as w:
        for i in range(0, rows, block):
            x = rng.standard_normal((min(block, rows - i), 32), dtype=np.float32)
            w.write_table(pa.table({f"f{j}": x[:, j] for j in range(32)}, schema=schema))


def _plain_model() -> tuple[Any, Any]:
    """The tabular preset's dense model written by hand (32-128-64-8-64-128-32, ReLU, dropout 0.2) and its Adam."""
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i not in (2, len(WIDTHS) - 2):  # linear code and output
            layers += [nn.ReLU(), nn.Dropout(0.2)]
    model = nn.Sequential(*layers)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def _plain_epoch(model: Any, opt: Any, xs: Any, batch: int) -> float:
    """Seconds of one hand-written epoch over ``xs`` (n, 32): shuffled batches, 35% trimmed MSE, Adam."""
    import torch

    start = time.perf_counter()
    model.train()
    perm = torch.randperm(len(xs))
    for i in range(0, len(xs), batch):
        b = xs[perm[i : i + batch]]  # (B, 32)
        per_row = ((model(b) - b) ** 2).mean(dim=1)
        loss = torch.topk(per_row, len(b) - int(0.35 * len(b)), largest=False).values.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def plain_loop(path: Path, epochs: int) -> float:
    """Rows/s of the median hand-written epoch on the rows of ``path`` (npy, read whole)."""
    import torch

    from aeexport.settings import tabular_config
    from aeexport.train import effective_threads

    X = torch.from_numpy(np.load(path, allow_pickle=False))
    n_train = len(X) - int(0.15 * len(X))
    xs = X[:n_train].clone()
    del X
    batch = tabular_config(n_train).batch_size
    threads = effective_threads(-1, batch)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, opt = _plain_model()
    return n_train / statistics.median(_plain_epoch(model, opt, xs, batch) for _ in range(epochs))


def interleaved(path: Path, epochs: int) -> dict[str, float]:
    """Rows/s of aeexport's epoch (``aeexport.train._train_epoch``: its model, scaled rows, batch, threads and
    deterministic mode) and of the hand-written one, alternating epoch by epoch in one process (medians; one
    warm-up epoch each), so both see the same machine load."""
    import torch

    from aeexport.settings import tabular_config, tabular_model_options
    from aeexport.train import effective_threads
    from aeexport.train._device import deterministic as _deterministic
    from aeexport.train._loop import _build_scaled_model, _scaled, _train_epoch

    X = np.load(path, mmap_mode="r", allow_pickle=False)
    n_train = len(X) - int(0.15 * len(X))
    rows = np.arange(n_train)
    cfg = tabular_config(n_train, progress=False)
    torch.manual_seed(0)
    model = _build_scaled_model(X, rows, "dense", tabular_model_options(X.shape[1]), cfg)
    xs = _scaled(model, X, torch.device("cpu"), rows)  # (n_train, 32)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    plain, plain_opt = _plain_model()
    gen = torch.Generator().manual_seed(0)
    ours, theirs = [], []
    with _deterministic(effective_threads(cfg.threads, cfg.batch_size)):
        for _ in range(epochs + 1):
            start = time.perf_counter()
            _train_epoch(model, opt, xs, cfg, gen)
            ours.append(time.perf_counter() - start)
            theirs.append(_plain_epoch(plain, plain_opt, xs, cfg.batch_size))
    return {"aeexport": n_train / statistics.median(ours[1:]), "plain": n_train / statistics.median(theirs[1:])}


def sgemm_flops(threads: int) -> float:
    import torch

    if threads:
        torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    start, reps = time.perf_counter(), 10
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * 2048**3 * reps / (time.perf_counter() - start)


def child(cmd: list[str]) -> tuple[float, str, str]:
    """Peak RSS (MB) of a child process, its stdout and its stderr."""
    run = child_peak(cmd)
    return run.peak_mb, run.stdout, run.stderr


def cli(args: list[str]) -> int:
    """``aeexport ARGS`` in this process; then its peak RSS so far (``VmHWM``) on stderr, before the
    interpreter's teardown, which faults in library pages (torch's) and adds 60-130 MB to the process's
    ``os.wait4`` peak at small sizes."""
    from aeexport.cli import main as aeexport_main

    aeexport_main(args, standalone_mode=False)
    status = Path("/proc/self/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(f"VMHWM_KB {hwm}", file=sys.stderr)
    return 0


def aeexport_cli(*args: str) -> tuple[float, float]:
    """Peak RSS (MB) of ``aeexport ARGS`` in a child: before its teardown (VmHWM) and of the whole process."""
    rss, _, err = child([*ME, "--cli", *args])
    hwm = next(int(line.split()[1]) for line in err.splitlines() if line.startswith("VMHWM_KB "))
    return hwm / 1024, rss


def aeexport_train(path: Path, out: Path, epochs: int, *extra: str) -> dict[str, float]:
    """Peak RSS (MB; before the teardown and of the process), wall seconds and epoch rows/s (training pass;
    with validation) of ``aeexport train``."""
    start = time.perf_counter()
    hwm, rss = aeexport_cli("train", str(path), "--out", str(out), "--epochs", str(epochs), "--quiet", *extra)
    wall = time.perf_counter() - start
    config = json.loads((out / "config.json").read_text())
    shutil.rmtree(out)
    n_train = int(config["dataset"]["train_rows"])
    seconds = config["training"]["epoch_seconds"]  # per epoch: [training pass, validation pass]
    return {
        "hwm": hwm,
        "rss": rss,
        "wall": wall,
        "rows_s": n_train / statistics.median(t for t, _ in seconds),
        "with_val": n_train / statistics.median(t + v for t, v in seconds),
    }


def aeexport_run(path: Path, out: Path, epochs: int) -> float:
    """Peak RSS (MB, before the teardown) of ``aeexport run`` (train, export, verify, score the test split)."""
    hwm, _ = aeexport_cli("run", str(path), "--out", str(out), "--epochs", str(epochs), "--quiet")
    shutil.rmtree(out)
    return hwm


def _sampled(args: argparse.Namespace, big: Path, small: Path, work: Path) -> list[str]:
    """One run of ``aeexport train BIG --max-rows M`` (one repeat: the file is large) and its base."""
    res = aeexport_train(big, work / "ck-sample", args.epochs, "--max-rows", str(args.max_rows))
    base = aeexport_train(small, work / "base-sample", 1)["hwm"]
    mb = args.max_rows * 32 * 4 / 2**20
    return [
        "",
        f"`aeexport train` on a {args.sample_rows:,}-row `.npy` ({args.sample_rows * 128 / 2**30:.1f} GiB) with "
        f"`--max-rows {args.max_rows}` and `--epochs {args.epochs}`: peak RSS {res['hwm']:.0f} MB (base {base:.0f} MB, "
        f"(peak - base) / sample matrix {(res['hwm'] - base) / mb:.2f}; {res['rss']:.0f} MB with the teardown), wall {res['wall']:.0f} s in all (the sampling "
        f"pass over every row included), epoch {res['rows_s']:,.0f} rows/s.",
    ]


def _print(value: Any) -> int:
    print(value)
    return 0


#: the modes a child of this script runs in (``bench_train.py --MODE ARGS``)
CHILD_MODES = {
    "--generate": lambda a: generate(Path(a[0]), int(a[1])),
    "--cli": cli,
    "--plain": lambda a: _print(plain_loop(Path(a[0]), int(a[1]))),
    "--interleaved": lambda a: _print(json.dumps(interleaved(Path(a[0]), int(a[1])))),
    "--sgemm": lambda a: _print(sgemm_flops(int(a[0]))),
}

HEADER = [
    "| rows | format | matrix MB | base MB | peak RSS MB | (peak - base) / matrix | with the teardown MB "
    "| `aeexport train` epoch rows/s "
    "| with validation | interleaved: aeexport epoch rows/s | plain loop rows/s | ratio | sgemm share "
    "| `aeexport run` base MB | `run` peak RSS MB | `run` (peak - base) / matrix |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]


def ratio_cells(args: argparse.Namespace, npy: Path, rows: int) -> str:
    """aeexport's and the plain loop's epoch rows/s side by side in one child, their ratio, the sgemm share."""
    from aeexport.settings import tabular_config
    from aeexport.train import effective_threads

    if not args.ratio:
        return "- | - | - | -"
    threads = effective_threads(-1, tabular_config(rows - int(0.15 * rows)).batch_size)
    flops = float(child([*ME, "--sgemm", str(threads)])[1])
    pair = json.loads(child([*ME, "--interleaved", str(npy), str(args.epochs * args.repeats)])[1])
    o, p = pair["aeexport"], pair["plain"]
    return f"{o:,.0f} | {p:,.0f} | {o / p:.2f} | {o * FLOP_PER_ROW / flops:.1%}"


def format_row(args: argparse.Namespace, work: Path, path: Path, small: Path, rows: int, side: str) -> str:
    """One table row: ``aeexport train`` (and ``run``) on ``path`` and on ``small``, alternating, medians."""
    fmt = path.suffix[1:]
    ours, base, run, run_base = [], [], [], []
    for r in range(args.repeats):  # alternating
        ours.append(aeexport_train(path, work / f"ck{rows}{fmt}{r}", args.epochs))
        base.append(aeexport_train(small, work / f"base{fmt}{r}", 1)["hwm"])
        if args.run:
            run.append(aeexport_run(path, work / f"run{rows}{fmt}{r}", args.epochs))
            run_base.append(aeexport_run(small, work / f"runbase{fmt}{r}", 1))
    peak, b, mb = statistics.median(x["hwm"] for x in ours), statistics.median(base), rows * 32 * 4 / 2**20
    run_cells = "- | - | -"
    if args.run:
        rp, rb = statistics.median(run), statistics.median(run_base)
        run_cells = f"{rb:.0f} | {rp:.0f} | {(rp - rb) / mb:.2f}"
    return (
        f"| {rows:,} | {fmt} | {mb:.0f} | {b:.0f} | {peak:.0f} | {(peak - b) / mb:.2f} | "
        f"{statistics.median(x['rss'] for x in ours):.0f} | "
        f"{statistics.median(x['rows_s'] for x in ours):,.0f} | "
        f"{statistics.median(x['with_val'] for x in ours):,.0f} | {side} | {run_cells} |"
    )


def arguments(argv: list[str]) -> argparse.Namespace:
    ap = parser(__doc__)
    ap.add_argument("--rows", type=int, nargs="+", default=[200_000, 2_000_000])
    ap.add_argument("--formats", nargs="+", default=["npy", "parquet"], choices=["npy", "parquet", "csv", "npz"])
    ap.add_argument("--run", action="store_true", help="also the peak RSS of `aeexport run` (and its base)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument(
        "--no-ratio", dest="ratio", action="store_false", help="skip the interleaved epochs (slow at 10M rows)"
    )
    ap.add_argument("--sample-rows", type=int, default=0, help="rows of an extra .npy trained with --max-rows")
    ap.add_argument("--max-rows", type=int, default=2_000_000)
    ap.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in CHILD_MODES:
        return CHILD_MODES[argv[0]](argv[1:]) or 0
    args = arguments(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-train-", dir=args.tmp))
    lines = list(HEADER)

    def data(rows: int, fmt: str) -> Path:
        path = work / f"x{rows}.{fmt}"
        if not path.exists():
            child([*ME, "--generate", str(path), str(rows)])
        return path

    try:
        for rows in args.rows:
            side = ratio_cells(args, data(rows, "npy"), rows)
            for fmt in args.formats:
                lines.append(format_row(args, work, data(rows, fmt), data(2000, fmt), rows, side))
                print(lines[-1], flush=True)
            shutil.rmtree(work)
            work.mkdir()
        if args.sample_rows:
            lines += _sampled(args, data(args.sample_rows, "npy"), data(2000, "npy"), work)
            print("\n".join(lines[-4:]), flush=True)
    finally:
        shutil.rmtree(work)
    load = os.getloadavg()
    lines += ["", f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"]
    write("train", "Training on big data: peak RSS and epoch rows/s (issue 21)", lines, args.out, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
