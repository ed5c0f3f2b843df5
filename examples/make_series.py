"""Write a small labelled multivariate series for the README's "Series and streams" example (numpy only).

``series.csv``: columns ``t`` (a time stamp in seconds, one step = 10 s), ``a``, ``b``, ``c`` (three
sensors: sines of periods 25, 40 and 60 steps plus noise), what a device sees; beside it
``series_labelled.csv``: the same rows with ``anomaly`` (1 on the anomalous steps), for
``aeexport evaluate``. The first two thirds are normal; the last third holds spikes (one sensor
jumps for one step) and a level shift (sensor ``a`` + 3 for 100 steps). Deterministic for a given
``--seed``.

    python examples/make_series.py --out series.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def make_series(steps: int = 6000, seed: int = 0, spikes: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Rows (steps, 3) float64 and labels (steps,) int: anomalies only in the last third."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    x = np.sin(2 * np.pi * t / np.array([25.0, 40.0, 60.0])) + 0.05 * rng.standard_normal((steps, 3)) + [0, 1, 2]
    y = np.zeros(steps, dtype=int)
    start = 2 * steps // 3
    for i in np.sort(rng.choice(np.arange(start + 50, steps - 50), size=spikes, replace=False)):
        x[i, rng.integers(3)] += 6.0
        y[i] = 1
    shift = start + (steps - start) // 2
    x[shift : shift + 100, 0] += 3.0
    y[shift : shift + 100] = 1
    return x, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("series.csv"))
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    x, y = make_series(args.steps, args.seed)
    rows = [f"{10 * i},{r[0]:.5f},{r[1]:.5f},{r[2]:.5f}" for i, r in enumerate(x)]
    labelled = args.out.with_name(f"{args.out.stem}_labelled{args.out.suffix}")
    args.out.write_text("\n".join(["t,a,b,c", *rows]) + "\n", encoding="utf-8")
    lines = [f"{row},{v}" for row, v in zip(rows, y)]
    labelled.write_text("\n".join(["t,a,b,c,anomaly", *lines]) + "\n", encoding="utf-8")
    print(f"wrote {args.out} and {labelled}: {len(x)} steps of 3 columns, {int(y.sum())} anomalous (last third)")


if __name__ == "__main__":
    main()
