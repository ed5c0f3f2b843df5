"""The tabular fit: :func:`fit_tabular` trains with the ``tabular`` preset on rows of features;
:func:`is_image_data` tells images from rows (the preset ``auto`` picks by it).

Why the tabular defaults are what they are (robust scaling, widths, dropout, trimmed loss, the step
budget) and every variant measured: ``benchmarks/results/tabular-defaults.md``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..settings import PRESETS, TrainConfig, apply_preset, choose_preset
from ._loop import TrainResult, train_model

__all__ = ["fit_tabular", "is_image_data"]


def is_image_data(dataset: Any) -> bool:
    """True when a loaded :class:`aeexport.data.Dataset` holds images, not rows of features: it has
    an image shape (digits, (N, C, H, W) arrays) or rows that are not flat (N, H, W)."""
    return dataset.image_shape is not None or np.asarray(dataset.X).ndim != 2


def fit_tabular(
    X: np.ndarray,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    progress: bool = False,
    preset: str = "tabular",
    init_seed: int | None = None,
    model_options: dict[str, Any] | None = None,
    **overrides: Any,
) -> tuple[TrainResult, np.ndarray]:
    """Train an autoencoder with the tabular defaults on rows ``X`` (n_rows, n_features).

    The rows may contain anomalies (unsupervised). A random ``val_fraction`` of them is
    held out for early stopping; returns ``(result, X_val)`` -- pass ``X_val`` to
    :func:`aeexport.export.export_bundle` as ``calibration_x``. ``preset`` picks another
    entry of :data:`PRESETS` (``"default"``: the generic dense defaults); ``overrides``
    are :class:`TrainConfig` fields, ``model_options`` override the preset's model options.
    ``seed`` seeds the split and, unless ``init_seed`` is given, the init and shuffling
    (another ``init_seed`` trains another model on the same split).
    """
    X = np.asarray(X, dtype=np.float32)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    n_val = max(1, int(val_fraction * len(X)))
    train, val = X[perm[n_val:]], X[perm[:n_val]]
    spec = PRESETS[choose_preset(preset, image=False)]
    kind = spec.kind if spec is not None else "dense"
    init = seed if init_seed is None else init_seed
    base = TrainConfig(seed=init, progress=progress, device="cpu", val_fraction=val_fraction)
    cfg, options = apply_preset(preset, kind, base, {}, len(train), X.shape[1])
    cfg = dataclasses.replace(cfg, **overrides)
    options = {**options, **(model_options or {})}
    result = train_model(train, val, kind=kind, model_options=options, config=cfg)
    return result, val
