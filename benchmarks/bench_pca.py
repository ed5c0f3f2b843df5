"""Autoencoder vs PCA at the same code size, on held-out normal rows (issue 13).

For each dataset: a small dense autoencoder (aeexport defaults, a few epochs with early
stopping: quick, not tuned) is trained on the normal training rows and exported; PCA
with as many components is fitted on the same rows in the bundle's scaled space;
both reconstruct the held-out normal test rows (:func:`aeexport.report.compare_pca`).

    python benchmarks/bench_pca.py --out /tmp/pca.md              # digits + 3 shared sets
    python benchmarks/bench_pca.py --record                       # writes benchmarks/results/pca.md
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _small_ae import parse_args, prepare
from harness import write

DATASETS = ["digits", "6_cardio", "30_satellite", "24_mnist"]


HEADER = [
    (
        "| dataset | features | train / test rows | code k | epochs | AE MSE (scaled) | PCA MSE (scaled) "
        "| AE / PCA | AE expl. var | PCA expl. var | AE MSE (raw) | PCA MSE (raw) |"
    ),
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]


def row(name: str, p, seed: int) -> str:
    """The table row of one trained autoencoder against PCA at its code size."""
    from aeexport.report import compare_pca

    r = compare_pca(p.model, p.train, p.test, seed=seed)
    ae, pc = r["autoencoder"], r["pca"]
    return (
        f"| {name} | {r['n_features']} | {r['train_rows']} / {r['test_rows']} | {r['code_size']} "
        f"| {p.epochs} | {ae['mse_scaled']:.4f} | {pc['mse_scaled']:.4f} "
        f"| {r['mse_ratio_ae_to_pca']:.3f} | {ae['explained_variance']:.3f} "
        f"| {pc['explained_variance']:.3f} | {ae['mse_raw']:.4g} | {pc['mse_raw']:.4g} |"
    )


def main() -> None:
    args = parse_args(
        __doc__,
        "pca",
        ",".join(DATASETS),
        60,
        "comma-separated code sizes, 'default' = aeexport's default for the width",
    )
    dims = [None if d == "default" else int(d) for d in args.latent_dims.split(",")]
    rows = list(HEADER)
    with tempfile.TemporaryDirectory() as work:
        for name in args.names.split(","):
            for k in dims:
                p = prepare(name, args.datasets, latent_dim=k, epochs=args.epochs, seed=args.seed, workdir=Path(work))
                rows.append(row(name, p, args.seed))
                print(rows[-1], flush=True)
    body = [
        (
            "A small dense autoencoder (one hidden layer of max(d/2, 2k) units, aeexport's default shape, Adam, at most "
            f"{args.epochs} epochs with early stopping, patience 10: quick, not tuned) against PCA with as many "
            "components as the code, both fitted on the same normal training rows (PCA in the bundle's standard-"
            "scaled space) and measured on held-out normal test rows (split as `aeexport run` does: normal rows "
            "60/15/25 train/val/test, seed 0). MSE (scaled) is the mean squared error in the scaled space (the "
            "`mse` anomaly score); explained variance = 1 - SSE/SST there, SST about the training mean. "
            "AE / PCA < 1: the autoencoder reconstructs better."
        ),
        "",
        *rows,
    ]
    write("pca", "Autoencoder vs PCA at equal code size", body, args.path)


if __name__ == "__main__":
    main()
