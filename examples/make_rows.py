"""Write the sample inputs the README's examples use: ``rows.npy``, ``rows.csv``, ``rows.parquet``.

    python examples/make_rows.py [--out DIR] [--rows N]

The rows are scikit-learn's digits (8x8 images, values 0..16, 64 columns ``px0..px63``), so
every shipped bundle in ``models/`` scores them; the first ten rows are made clear outliers
(``x * 4 + 3``), so some rows are flagged. ``rows.npy``: float32 (n, 64); ``rows.csv``: a
header and the 64 columns; ``rows.parquet``: an ``id`` column, then the 64 columns (for
``--id-column id``). Parquet needs pyarrow (``pip install "aeruntime[tables]"``); without it
the other two files are written and a note says so. Needs scikit-learn (the training side).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def digit_rows(n: int | None = None) -> np.ndarray:
    """(n, 64) float32: the digits, the first ten turned into outliers."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("examples/make_rows.py needs scikit-learn for the digits: pip install scikit-learn")
    X = load_digits().data.astype(np.float32)[:n]
    X[:10] = X[:10] * 4.0 + 3.0
    return X


def write(out: Path, X: np.ndarray) -> list[Path]:
    """Write rows.npy, rows.csv (and rows.parquet with pyarrow) into ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    names = [f"px{i}" for i in range(X.shape[1])]
    np.save(out / "rows.npy", X)
    np.savetxt(out / "rows.csv", X, delimiter=",", fmt="%.9g", header=",".join(names), comments="")
    written = [out / "rows.npy", out / "rows.csv"]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        print("note: pyarrow is not installed, rows.parquet not written (pip install 'aeruntime[tables]')")
        return written
    table = pa.table({"id": np.arange(len(X), dtype=np.int64), **{n: X[:, i] for i, n in enumerate(names)}})
    pq.write_table(table, out / "rows.parquet")
    return [*written, out / "rows.parquet"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=".", help="Folder to write into (default: the current one).")
    ap.add_argument("--rows", type=int, default=None, help="Only the first N digits (default: all 1797).")
    args = ap.parse_args()
    X = digit_rows(args.rows)
    for path in write(Path(args.out), X):
        print(f"wrote {path} ({len(X)} rows x {X.shape[1]})")


if __name__ == "__main__":
    main()
