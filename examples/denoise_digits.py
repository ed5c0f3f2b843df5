"""Denoising demo on scikit-learn's digits: train, export, denoise held-out images with aeruntime.

    python examples/denoise_digits.py --out denoise_digits.png

Trains a ``denoising`` autoencoder (corruption at training time only), exports a
bundle, corrupts *held-out* digits with the same kind of noise, and reports MSE and
PSNR of the noisy and of the denoised images against the clean ones. Writes a PNG
grid: clean / noisy / denoised rows.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import aeruntime
from aeexport.data import load_dataset, make_split
from aeexport.export import export_bundle
from aeexport.settings import TrainConfig
from aeexport.train import corrupt, mse, psnr, train_model

#: digits pixels are integers 0..16
DATA_RANGE = (0.0, 16.0)
#: evaluation noise level per corruption (raw units: gaussian sigma = level * 16)
EVAL_LEVEL = {"gaussian": 0.25, "masking": 0.3, "salt_pepper": 0.2}
#: matching training-time corruption of the model. The model trains on raw pixels (scaler "none"):
#: per-pixel standardization would blow noise on the almost-always-blank border pixels up a hundredfold.
TRAIN_LEVEL = {"gaussian": 4.0, "masking": 0.3, "salt_pepper": 0.2}


def run(
    noise: str = "gaussian",
    epochs: int = 60,
    seed: int = 0,
    bundle: str | None = None,
    png: str | None = None,
    n_show: int = 10,
) -> dict:
    """Train (or load ``bundle``), denoise held-out digits; return the figures, write the PNG grid."""
    ds = load_dataset("digits")
    split = make_split(ds.X, None, val_fraction=0.2, seed=seed)  # val = held-out digits, never trained on
    work = Path(tempfile.mkdtemp(prefix="denoise-"))
    if bundle is None:
        cfg = TrainConfig(epochs=epochs, batch_size=64, lr=3e-3, patience=10, seed=seed, scaler="none", progress=False)
        options = {"noise": noise, "noise_level": TRAIN_LEVEL[noise], "hidden": [128], "latent_dim": 32}
        # Early stopping watches the reconstruction of the first half of the held-out rows;
        # the figures come from the second half only.
        half = len(split.val) // 2
        result = train_model(split.train, split.val[:half], kind="denoising", model_options=options, config=cfg)
        bundle = str(work / "bundle")
        export_bundle(result.model, bundle, calibration_x=split.val[:half])
        held_out = split.val[half:]
    else:
        held_out = split.val
    model = aeruntime.load(bundle, providers="cpu")
    clean = held_out
    noisy = corrupt(clean, noise, EVAL_LEVEL[noise], data_range=DATA_RANGE, seed=seed + 1)
    denoised = np.clip(model.denoise(noisy), *DATA_RANGE)
    span = DATA_RANGE[1] - DATA_RANGE[0]
    figures = {
        "noise": noise,
        "eval_level": EVAL_LEVEL[noise],
        "held_out_rows": len(clean),
        "mse_noisy": mse(noisy, clean),
        "mse_denoised": mse(denoised, clean),
        "psnr_noisy_db": psnr(noisy, clean, span),
        "psnr_denoised_db": psnr(denoised, clean, span),
    }
    if png:
        write_grid(png, clean[:n_show], noisy[:n_show], denoised[:n_show], figures)
    return figures


def write_grid(path: str, clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray, figures: dict) -> None:
    """PNG with three rows of 8x8 images: clean, noisy, denoised."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        ("clean", clean),
        (f"noisy\n{figures['psnr_noisy_db']:.1f} dB", noisy),
        (f"denoised\n{figures['psnr_denoised_db']:.1f} dB", denoised),
    ]
    n = len(clean)
    fig, axes = plt.subplots(3, n, figsize=(1.1 * n, 3.6))
    for r, (label, imgs) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[c].reshape(8, 8), cmap="gray_r", vmin=0, vmax=16, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"denoising AE on held-out digits ({figures['noise']} noise, PSNR vs clean)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", choices=sorted(EVAL_LEVEL), default="gaussian")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bundle", default=None, help="Use this denoising bundle instead of training one.")
    ap.add_argument("--out", default="denoise_digits.png", help="PNG grid to write.")
    args = ap.parse_args()
    figures = run(args.noise, args.epochs, args.seed, args.bundle, args.out)
    print(json.dumps(figures, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
