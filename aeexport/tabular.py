"""Defaults for tabular anomaly detection (rows of 5 to a few hundred features).

``aeexport run|train`` on a table of feature rows (.csv, or .npy/.npz of 2-D rows;
not images) trains with the ``tabular`` preset unless told otherwise
(``--preset auto``, the default; :func:`choose_preset` decides). Plain
reconstruction-error autoencoders trained to convergence learn to reconstruct
anomalies too, especially when the training rows are contaminated, so the
tabular defaults favour a model that generalizes the bulk of the data:

- **robust scaling** inside the graphs: median and interquartile range fitted on
  the training rows (:func:`robust_scaler`), so the anomalies in unlabelled
  training data do not inflate the scale of the features they are extreme in,
  and the score (squared error in that space) weighs a deviation by how spread
  out the *typical* rows are; *dispersed* features (over 15% of the rows more
  than 10 robust scales out: zero-inflated pixels or counts) take their standard
  deviation instead, so their ordinary values do not swamp the score;
- **widths**: encoder hidden layers [128, 64] and a linear latent of 8 (decoder
  mirrored) for up to 128 features (wider hidden layers than the [64, 32] of
  ``tabular-v3``: +0.007 on the development mean on each of three seeds, benchmark
  mean unchanged); wider rows fall back to
  :func:`aeexport.models.dense.default_widths`. For narrow data (6 features) the
  code is wider than the input: the dropout, not the bottleneck, keeps the
  model from learning the identity;
- **dropout** 0.2 after each hidden activation (training only);
- **robust loss**: in every mini-batch the 35% of rows with the highest
  reconstruction error are left out of the step (``trim_fraction=0.35``): on
  contaminated data the model then fits the bulk and leaves the anomalies poorly
  reconstructed (0.35 beat 0.2 on the development sets for two seeds);
- **a fixed step budget**: batches of ``max(64, n_rows / 40)`` rows (about 40
  steps per epoch), at most :data:`TABULAR_EPOCHS` epochs, early stopping with
  patience 10 on a 15% validation split (whose rows also calibrate the threshold).

Chosen as one setting for the 24 shared ODDS/ADBench sets together (never per
dataset); every variant measured is in ``benchmarks/results/anomaly_experiments.md``,
the side-by-side run with PyOD in ``benchmarks/results/anomaly.md``.
``--members 3`` (``TrainConfig.members``) trains three dense models on the same rows (seeds
``seed``, ``seed + 1``, ``seed + 2``) side by side in one ensemble graph scored by the mean of
their scores (:meth:`aeexport.models.ensemble.EnsembleAutoencoder.from_members`); measured, not
the default (see :data:`TABULAR_MEMBERS`).
Issue 23 checked the defaults with a two-half protocol (chosen on one fixed half of the 24 sets,
measured on the other, ``benchmarks/anomaly.py``): EntropyStop (``stop_rule="entropy"``,
:mod:`aeexport.stopping`), growing batches (``batch_growth``), fewer epochs or narrower layers on
wide rows and hyper-ensembles over bottleneck and width each gained on one half and lost on the
other, so the defaults above stay; ``--stop-rule entropy`` is an option.
``tabular-v3`` is the preset before the wider layers (hidden [64, 32]); ``tabular-v2`` that
one without the dispersed-feature rule (scaler ``robust-iqr``);
``tabular-v1`` the tabular preset before issue 11 (standard scaling, ``trim_fraction=0.2``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .config import TrainConfig
from .presets import (
    PRESETS,
    TABULAR_EPOCHS,
    TABULAR_HIDDEN,
    TABULAR_MEMBERS,
    TabularPreset,
    apply_preset,
    choose_preset,
    tabular_config,
    tabular_model_options,
)
from .scalers import DISPERSED_K, DISPERSED_SHARE, robust_iqr_scaler, robust_scaler
from .train import TrainResult, train_model

__all__ = ["fit_tabular", "is_image_data"]
# the presets and robust scalers lived here before aeexport.presets and aeexport.scalers: re-exported
__all__ += ["PRESETS", "TABULAR_EPOCHS", "TABULAR_HIDDEN", "TABULAR_MEMBERS", "TabularPreset", "apply_preset"]
__all__ += ["choose_preset", "tabular_config", "tabular_model_options"]
__all__ += ["DISPERSED_K", "DISPERSED_SHARE", "robust_iqr_scaler", "robust_scaler"]


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
