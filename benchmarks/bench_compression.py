"""Compression, measured: bytes per row of the latent code at fp32 / fp16 / int8 against
reconstruction error and PSNR, next to PCA at equal bytes (issue 13).

For each dataset a small dense autoencoder (aeexport defaults, a few epochs with early
stopping) is trained on the normal training rows and exported; codes of held-out normal
test rows are cast to float16, or quantised to int8 with ``aeruntime.latent_codes``
(per-dimension affine; parameters from ``manifest["latent"]["quantization"]["int8"]`` when
the bundle has them, else fitted on the training rows' codes with ``fit_int8``), and
decoded by the deployed decoder. PCA (fitted on the same rows, scaled space) gets the
same byte budgets: ``B`` bytes per row = ``B/4`` components at fp32, ``B/2`` at fp16 or
``B`` at int8 (its int8 codes use the same ``fit_int8`` rule).

    python benchmarks/bench_compression.py --out /tmp/compression.md
    python benchmarks/bench_compression.py --record     # writes benchmarks/results/compression.md
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
from _small_ae import parse_args, prepare
from harness import write

BYTES = {"fp32": 4, "fp16": 2, "int8": 1}


def _codec(precision: str, train_codes: np.ndarray, params: dict | None = None):
    """code (n, k) float32 -> the code as the receiver decodes it (float32)."""
    from aeruntime.latent_codes import dequantize_int8, fit_int8, quantize_int8

    if precision == "fp32":
        return lambda z: z.astype(np.float32)
    if precision == "fp16":
        return lambda z: z.astype(np.float16).astype(np.float32)
    p = params or fit_int8(train_codes)
    return lambda z: dequantize_int8(quantize_int8(z, p), p)


def _figures(p, x_hat: np.ndarray) -> dict:
    """MSE (scaled, raw) and PSNR of reconstructions of ``p.test``; PSNR peak = the training rows' range."""
    from aeexport.report import scaler_of

    shape = tuple(p.model.input_shape)
    d = math.prod(shape)
    _, scale = scaler_of(p.model.manifest, shape)
    test = p.test.reshape(len(p.test), d).astype(np.float64)
    peak = float(p.train.max() - p.train.min())
    r = test - x_hat.reshape(len(test), d)
    mse_raw = float(np.mean(r**2))
    return {
        "mse_scaled": float(np.mean((r / scale.reshape(1, d)) ** 2)),
        "mse_raw": mse_raw,
        "psnr": 10 * math.log10(peak**2 / max(mse_raw, 1e-300)),
    }


def measure_ae(p) -> list[dict]:
    """The autoencoder's code at fp32, fp16 and int8, decoded by the deployed decoder."""
    model = p.model
    k = math.prod(model.latent_shape)
    z_train = model.encode(p.train.astype(np.float32)).reshape(len(p.train), k)
    z_test = model.encode(p.test.astype(np.float32)).reshape(len(p.test), k)
    stored = ((model.manifest.get("latent") or {}).get("quantization") or {}).get("int8")
    out = []
    for prec, nbytes in BYTES.items():
        codec = _codec(prec, z_train, stored if prec == "int8" else None)
        x_hat = model.decode(codec(z_test).reshape(len(p.test), *model.latent_shape))
        note = ("manifest params" if stored else "fit_int8 on training codes") if prec == "int8" else ""
        out.append(
            {
                "method": "autoencoder",
                "precision": prec,
                "values": k,
                "bytes": k * nbytes,
                "note": note,
                **_figures(p, x_hat),
            }
        )
    return out


def measure_pca(p, budgets: set[int], seed: int) -> list[dict]:
    """PCA with ``B / bytes(precision)`` components for every byte budget ``B`` (scaled space)."""
    from aeexport.report import fit_pca, scaler_of

    shape = tuple(p.model.input_shape)
    d = math.prod(shape)
    mean, scale = (a.reshape(1, d) for a in scaler_of(p.model.manifest, shape))
    xs_train = (p.train.reshape(len(p.train), d) - mean) / scale
    xs_test = (p.test.reshape(len(p.test), d) - mean) / scale
    out = []
    for budget in sorted(budgets, reverse=True):
        for prec, b in BYTES.items():
            if budget % b or budget // b > d:
                continue
            pca = fit_pca(xs_train, budget // b, seed)
            c_train, c_test = pca.transform(xs_train).astype(np.float32), pca.transform(xs_test).astype(np.float32)
            x_hat = pca.inverse_transform(_codec(prec, c_train)(c_test)) * scale + mean
            out.append(
                {
                    "method": "pca",
                    "precision": prec,
                    "values": int(pca.n_components_),
                    "bytes": budget,
                    "note": "",
                    **_figures(p, x_hat),
                }
            )
    return out


def section(name: str, preps: list, seed: int) -> list[str]:
    """The table of one dataset: every code size's AE at each precision, PCA at the same byte budgets."""
    p = preps[0]  # same seeded split for every code size
    d = math.prod(p.model.input_shape)
    ae = [r for q in preps for r in measure_ae(q)]
    codes = ", ".join(f"{math.prod(q.model.latent_shape)} ({q.epochs} epochs)" for q in preps)
    rows = sorted(
        ae + measure_pca(p, {r["bytes"] for r in ae}, seed), key=lambda r: (-r["bytes"], r["method"], -r["psnr"])
    )
    return [
        (
            f"## {name}: {d} features ({4 * d} bytes per row at fp32); AE codes {codes}; "
            f"{len(p.train)} training / {len(p.test)} test rows"
        ),
        "",
        (
            "| bytes / row | ratio vs fp32 row | method | precision | code values | MSE (scaled) "
            "| MSE (raw) | PSNR (dB) | int8 params |"
        ),
        "| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | --- |",
        *[
            f"| {r['bytes']} | {4 * d / r['bytes']:.1f}x | {r['method']} | {r['precision']} "
            f"| {r['values']} | {r['mse_scaled']:.4f} | {r['mse_raw']:.4g} | {r['psnr']:.2f} "
            f"| {r['note']} |"
            for r in rows
        ],
        "",
    ]


def main() -> None:
    args = parse_args(
        __doc__,
        "compression",
        "digits,30_satellite",
        200,
        "comma-separated code sizes, one AE each; 'default' = aeexport's default for the width",
    )
    body = [
        (
            "Held-out normal test rows (normal rows split 60/15/25 train/val/test as `aeexport run` does, seed 0). "
            "A small dense autoencoder (one hidden layer of max(d/2, 2k) units (aeexport's default shape), Adam, at most "
            f"{args.epochs} epochs, early stopping with patience 10: quick, not tuned). Bytes per row count the "
            "code only; int8 codes also need the per-dimension parameters once per stream (scale float32 + zero "
            "point, 8 bytes per code value, in the manifest). PSNR = 10 log10(peak^2 / MSE raw), peak = range "
            "of the training rows in raw units. PCA is fitted on the training rows in the bundle's scaled space."
        ),
        "",
    ]
    dims = [None if v == "default" else int(v) for v in args.latent_dims.split(",")]
    with tempfile.TemporaryDirectory() as work:
        for name in args.names.split(","):
            kw = {"epochs": args.epochs, "seed": args.seed, "workdir": Path(work)}
            lines = section(name, [prepare(name, args.datasets, latent_dim=k, **kw) for k in dims], args.seed)
            print("\n".join(lines), flush=True)
            body += lines
    write("compression", "Compression: code bytes per row vs reconstruction error, AE vs PCA", body, args.path)


if __name__ == "__main__":
    main()
