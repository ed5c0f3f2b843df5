"""Training on big data: peak RSS and epoch rows/s of ``aeexport train`` beside a plain torch loop.

For each size and format (float32 Gaussian rows x 32 features, ``.npy`` and Parquet, generated in
blocks by a child process so this parent stays small) it runs, alternating, median of repeats:

- ``aeexport train FILE --out CK --epochs E -q`` in a child: peak RSS from ``os.wait4`` and the
  epoch rows/s from the checkpoint's summary (train rows x epochs / train seconds);
- a plain hand-written torch loop (``--plain``) in a child: the same dense model as the tabular
  preset (32-128-64-8-64-128-32, ReLU, dropout 0.2, Adam 1e-3, 35% trimmed MSE), the same batch
  (n_train / 40) and threads (:func:`aeexport.train.effective_threads`), rows already in memory;

and the share of the machine's sgemm rate (torch.mm 2048x2048, same threads) an epoch reaches at
~6 FLOP per weight per row (forward + backward). The machine is shared: read the ratios.

Usage::

    python benchmarks/bench_train.py [--rows 200000 2000000] [--formats npy parquet] [--repeats 3] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (32, 128, 64, 8, 64, 128, 32)
FLOP_PER_ROW = 6 * sum(a * b for a, b in zip(WIDTHS[:-1], WIDTHS[1:], strict=True))


def generate(path: Path, rows: int, block: int = 1 << 18) -> None:
    """``rows`` x 32 standard-normal float32 rows, written block by block (.npy memmap or Parquet writer)."""
    rng = np.random.default_rng(0)
    if path.suffix == ".npy":
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 32))
        for i in range(0, rows, block):
            out[i : i + block] = rng.standard_normal((min(block, rows - i), 32), dtype=np.float32)
        out.flush()
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(f"f{j}", pa.float32()) for j in range(32)])
    with pq.ParquetWriter(path, schema) as w:
        for i in range(0, rows, block):
            x = rng.standard_normal((min(block, rows - i), 32), dtype=np.float32)
            w.write_table(pa.table({f"f{j}": x[:, j] for j in range(32)}, schema=schema))


def plain_loop(path: Path, epochs: int) -> float:
    """Rows/s of a hand-written epoch on the rows of ``path`` (npy, read whole)."""
    import torch
    from torch import nn

    from aeexport.train import effective_threads

    X = torch.from_numpy(np.load(path, allow_pickle=False))
    n_train = len(X) - int(0.15 * len(X))
    xs = X[:n_train].clone()
    del X
    batch = max(64, n_train // 40)
    threads = effective_threads(-1, batch)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i not in (2, len(WIDTHS) - 2):  # linear code and output
            layers += [nn.ReLU(), nn.Dropout(0.2)]
    model = nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n_train)
        for i in range(0, n_train, batch):
            b = xs[perm[i : i + batch]]
            per_row = ((model(b) - b) ** 2).mean(dim=1)
            loss = torch.topk(per_row, len(b) - int(0.35 * len(b)), largest=False).values.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return n_train * epochs / (time.perf_counter() - start)


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


def child(cmd: list[str]) -> tuple[float, str]:
    """Peak RSS (MB) of a child process and its stdout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd} failed: {err}")
    return usage.ru_maxrss / 1024, out


def aeexport_train(path: Path, out: Path, epochs: int) -> tuple[float, float]:
    rss, _ = child([sys.executable, "-m", "aeexport", "train", str(path), "--out", str(out), "--epochs", str(epochs)])
    summary = json.loads((out / "config.json").read_text())["training"]
    return rss, _train_rows(out) * summary["epochs_run"] / summary["train_seconds"]


def _train_rows(out: Path) -> int:
    return int(json.loads((out / "config.json").read_text())["dataset"]["train_rows"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--generate"]:
        generate(Path(argv[1]), int(argv[2]))
        return 0
    if argv[:1] == ["--plain"]:
        print(plain_loop(Path(argv[1]), int(argv[2])))
        return 0
    if argv[:1] == ["--sgemm"]:
        print(sgemm_flops(int(argv[1])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[200_000, 2_000_000])
    ap.add_argument("--formats", nargs="+", default=["npy", "parquet"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    add_output_args(ap)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-train-", dir=args.tmp))
    me = [sys.executable, str(Path(__file__).resolve())]
    lines = ["| rows | format | matrix MB | peak RSS MB | aeexport rows/s | plain loop rows/s | ratio | sgemm share |"]
    lines.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    from aeexport.train import effective_threads

    try:
        for rows in args.rows:
            npy = work / f"x{rows}.npy"
            subprocess.run([*me, "--generate", str(npy), str(rows)], check=True)
            threads = effective_threads(-1, max(64, (rows - int(0.15 * rows)) // 40))
            flops = float(child([*me, "--sgemm", str(threads)])[1])
            for fmt in args.formats:
                path = npy if fmt == "npy" else work / f"x{rows}.parquet"
                if not path.exists():
                    subprocess.run([*me, "--generate", str(path), str(rows)], check=True)
                ours, plain, rss = [], [], []
                for r in range(args.repeats):  # alternating
                    peak, speed = aeexport_train(path, work / f"ck{rows}{fmt}{r}", args.epochs)
                    ours.append(speed)
                    rss.append(peak)
                    plain.append(float(child([*me, "--plain", str(npy), str(args.epochs)])[1]))
                o, p = statistics.median(ours), statistics.median(plain)
                lines.append(
                    f"| {rows:,} | {fmt} | {rows * 32 * 4 / 1e6:.0f} | {statistics.median(rss):.0f} | {o:,.0f} | "
                    f"{p:,.0f} | {o / p:.2f} | {o * FLOP_PER_ROW / flops:.1%} |"
                )
                print(lines[-1], flush=True)
    finally:
        shutil.rmtree(work)
    load = os.getloadavg()
    lines += ["", f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"]
    write("train", "Training on big data: peak RSS and epoch rows/s (issue 21)", lines, args.out, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
