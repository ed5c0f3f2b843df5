"""Write the generated demo series of ``models/series-dense`` (deterministic, numpy only).

    python models/series_demo.py OUT.csv [--labels LABELS.csv]

4,000 steps, a ``time`` column (seconds, every 10 s) and two sensor columns: a sine of period 20
steps and its cosine at half the amplitude, plus gaussian noise (sd 0.05); the last 20% of the
series holds 6 spikes (+2.5) and a level shift (+1.5 for 60 steps): the anomalies (``--labels``
writes ``time,anomaly`` with 1 on those steps). The training part (the first 80%) is clean.
"""

from __future__ import annotations

import argparse

import numpy as np

N, PERIOD = 4000, 20


def demo_series(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows (n, 2) float64, anomaly (n,) int8)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.stack([np.sin(2 * np.pi * t / PERIOD), 0.5 * np.cos(2 * np.pi * t / PERIOD)], axis=1)
    x += 0.05 * rng.standard_normal(x.shape)
    y = np.zeros(n, np.int8)
    start = int(0.8 * n)
    for i in rng.choice(np.arange(start + 50, n - 150), size=6, replace=False):
        x[i, rng.integers(2)] += 2.5
        y[i] = 1
    x[n - 120 : n - 60, 0] += 1.5
    y[n - 120 : n - 60] = 1
    return x, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--labels", default=None)
    args = ap.parse_args()
    x, y = demo_series()
    time = 10 * np.arange(len(x))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("time,sensor_a,sensor_b\n")
        f.writelines(f"{t},{a:.5f},{b:.5f}\n" for t, (a, b) in zip(time, x))
    if args.labels:
        with open(args.labels, "w", encoding="utf-8") as f:
            f.write("time,anomaly\n")
            f.writelines(f"{t},{v}\n" for t, v in zip(time, y))


if __name__ == "__main__":
    main()
