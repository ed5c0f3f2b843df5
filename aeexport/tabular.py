"""Defaults for tabular anomaly detection (6 to a few hundred features).

Plain reconstruction-error autoencoders trained to convergence learn to
reconstruct anomalies too, especially when the training rows are contaminated.
The tabular defaults therefore favour a model that generalizes the bulk of the
data rather than memorizing every row:

- **standardization** (z-score) fitted on the training rows, inside the graphs;
- **widths**: encoder hidden layers [64, 32] and a linear latent of 8 (decoder
  mirrored) for up to 128 features; wider rows fall back to
  :func:`aeexport.models.dense.default_widths`. For narrow data (6 features) the
  code is wider than the input: the dropout, not the bottleneck, keeps the
  model from learning the identity;
- **dropout** 0.2 after each hidden activation (training only);
- **robust loss**: in every mini-batch the 20% of rows with the highest
  reconstruction error are left out of the step (``trim_fraction=0.2``), so
  anomalies in unlabelled training data do not pull the model towards them;
- **a fixed step budget**: batches of ``max(64, n_rows / 40)`` rows (about 40
  steps per epoch), at most :data:`TABULAR_EPOCHS` epochs, early stopping with
  patience 10 on a 15% validation split (whose rows also calibrate the threshold).

Chosen on the shared benchmark sets as one setting for all of them (not per
dataset); see ``benchmarks/results/anomaly.md``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from aeruntime.errors import InvalidInputError

from .train import TrainConfig, TrainResult, train_model

__all__ = ["TABULAR_EPOCHS", "PRESETS", "apply_preset", "tabular_config", "tabular_model_options", "fit_tabular"]

#: ``--preset`` choices of ``aeexport train|run``
PRESETS = ("default", "tabular")

#: epoch cap of the tabular defaults
TABULAR_EPOCHS = 60


def tabular_config(n_rows: int, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of the tabular defaults for ``n_rows`` training rows."""
    base: dict[str, Any] = {"epochs": TABULAR_EPOCHS, "patience": 10, "trim_fraction": 0.2,
                            "batch_size": int(max(64, n_rows // 40)), "scaler": "standard"}
    base.update(overrides)
    return TrainConfig(**base)


def tabular_model_options(n_features: int) -> dict[str, Any]:
    """Dense-model options of the tabular defaults (widths come from ``default_widths``)."""
    if n_features > 128:
        return {"dropout": 0.2}
    return {"hidden": [64, 32], "latent_dim": 8, "dropout": 0.2}


def apply_preset(
    preset: str,
    kind: str,
    config: TrainConfig,
    options: dict[str, Any],
    n_train: int,
    n_features: int,
    explicit: frozenset[str] | set[str] = frozenset(),
) -> tuple[TrainConfig, dict[str, Any]]:
    """Apply ``--preset`` to a training config and model options.

    ``"tabular"`` (dense models only) takes the tabular defaults for every setting the
    user did not give explicitly (names in ``explicit``, e.g. ``{"epochs"}``).
    """
    if preset == "default":
        return config, options
    if preset != "tabular":
        raise InvalidInputError(f"preset must be one of {list(PRESETS)}, got {preset!r}.")
    if kind != "dense":
        raise InvalidInputError(
            f"--preset tabular configures the dense model, but --model is {kind!r}; use --model dense "
            "or drop --preset."
        )
    tab = tabular_config(n_train)
    fields = {k: getattr(tab, k) for k in ("epochs", "patience", "batch_size", "trim_fraction") if k not in explicit}
    model_opts = {k: v for k, v in tabular_model_options(n_features).items()
                  if not (k == "hidden" and "hidden" in options) and not (k == "latent_dim" and "latent_dim" in options)}
    return dataclasses.replace(config, **fields), {**model_opts, **options}


def fit_tabular(X: np.ndarray, *, seed: int = 0, val_fraction: float = 0.15, progress: bool = False,
                **overrides: Any) -> tuple[TrainResult, np.ndarray]:
    """Train a dense AE with the tabular defaults on rows ``X`` (n_rows, n_features).

    The rows may contain anomalies (unsupervised). A random ``val_fraction`` of them is
    held out for early stopping; returns ``(result, X_val)`` -- pass ``X_val`` to
    :func:`aeexport.export.export_bundle` as ``calibration_x``.
    """
    X = np.asarray(X, dtype=np.float32)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    n_val = max(1, int(val_fraction * len(X)))
    train, val = X[perm[n_val:]], X[perm[:n_val]]
    cfg = tabular_config(len(train), seed=seed, progress=progress, device="cpu", val_fraction=val_fraction,
                         **overrides)
    result = train_model(train, val, kind="dense", model_options=tabular_model_options(X.shape[1]), config=cfg)
    return result, val
