"""Numpy corruptions and image-quality figures for evaluating denoising models.

Training-time corruption lives in the model (:mod:`aeexport.models.denoising`,
torch, scaled space). These functions corrupt *raw* rows for evaluation and
demos, seeded, and clip to the data's range ``(low, high)`` so a noisy image is
still a valid image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from aeruntime.errors import check_choice

__all__ = ["CORRUPTIONS", "corrupt", "mse", "psnr"]


def _gaussian(x: np.ndarray, level: float, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    return x + level * (high - low) * rng.standard_normal(x.shape)


def _masking(x: np.ndarray, level: float, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(x.shape) < level, low, x)


def _salt_pepper(x: np.ndarray, level: float, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(x.shape)
    return np.where(u < level / 2, low, np.where(u < level, high, x))


#: name -> corruption(x, level, low, high, rng); gaussian's level is sigma as a fraction of (high - low)
CORRUPTIONS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": _gaussian,
    "masking": _masking,
    "salt_pepper": _salt_pepper,
}


def corrupt(x: np.ndarray, kind: str, level: float, *, data_range: tuple[float, float], seed: int = 0) -> np.ndarray:
    """Corrupted copy of raw rows ``x`` (n_rows, *row_shape), clipped to ``data_range``, float32.

    ``kind``: ``"gaussian"`` (sigma = ``level * (high - low)``), ``"masking"`` (each
    value set to ``low`` with probability ``level``) or ``"salt_pepper"`` (each value
    set to ``low`` or ``high`` with probability ``level``).
    """
    check_choice("corruption", kind, sorted(CORRUPTIONS))
    low, high = float(data_range[0]), float(data_range[1])
    rng = np.random.default_rng(seed)
    out = CORRUPTIONS[kind](np.asarray(x, dtype=np.float64), float(level), low, high, rng)
    return np.clip(out, low, high).astype(np.float32)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared difference over all elements."""
    return float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


def psnr(estimate: np.ndarray, clean: np.ndarray, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range^2 / mse)``; higher = closer to ``clean``."""
    return float(10 * np.log10(data_range**2 / max(mse(estimate, clean), 1e-300)))
