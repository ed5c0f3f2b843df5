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
``tabular-v3`` is the preset before the wider layers (hidden [64, 32]); ``tabular-v2`` that
one without the dispersed-feature rule (scaler ``robust-iqr``);
``tabular-v1`` the tabular preset before issue 11 (standard scaling, ``trim_fraction=0.2``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from aeruntime.errors import InvalidInputError

from .train import TrainConfig, TrainResult, train_model

__all__ = [
    "DISPERSED_K",
    "DISPERSED_SHARE",
    "PRESETS",
    "ROBUST_SCALERS",
    "TABULAR_EPOCHS",
    "TABULAR_HIDDEN",
    "TABULAR_MEMBERS",
    "TabularPreset",
    "apply_preset",
    "choose_preset",
    "fit_tabular",
    "is_image_data",
    "robust_iqr_scaler",
    "robust_scaler",
    "tabular_config",
    "tabular_model_options",
]

#: epoch cap of the tabular defaults
TABULAR_EPOCHS = 60
#: dense models trained per fit and averaged in one ensemble graph (``TrainConfig.members``); 3 members
#: measured +0.001 / +0.008 on the two means for 3x the training time, 2x the batch-1 latency and 1/15
#: of the throughput of one model, so the default is one (``--members 3`` chooses them)
TABULAR_MEMBERS = 1


#: a feature whose robust scale leaves more than this share of the training rows beyond
#: :data:`DISPERSED_K` scales from its median is scaled by its standard deviation (see :func:`robust_scaler`)
DISPERSED_SHARE = 0.15
#: distance from the median, in robust scales, that counts a training value as "far out"
DISPERSED_K = 10.0


def robust_scaler(X: np.ndarray, dispersed_share: float | None = DISPERSED_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (median, scale) of rows ``X`` (n_rows, *row_shape), float64; the ``robust`` scaler.

    The scale is IQR / 1.349 (equal to the standard deviation for normal data), so a few extreme
    rows (the anomalies of unlabelled training data) do not inflate it. Two kinds of feature take
    their standard deviation instead:

    - IQR 0 (the middle half is one value: binary or mostly-constant features; a constant
      feature then gets scale 1 in ``fit_scaler``);
    - *dispersed* features: more than ``dispersed_share`` of the training rows lie more than
      :data:`DISPERSED_K` (10) robust scales from the median. Around a roughly normal bulk no
      ordinary value lies that far out, only (some of) the anomalies, which are rarely 15% of the
      rows; more than that means the middle half does not describe the feature's spread
      (zero-inflated features such as sparse pixels or word counts: a spike at 0 and a broad
      tail of ordinary values), and the IQR would turn those ordinary values into huge scaled
      errors that swamp every other feature in the score.

    ``dispersed_share=None`` keeps the IQR for dispersed features (the ``robust-iqr`` scaler,
    preset ``tabular-v2``).
    """
    X = np.asarray(X, dtype=np.float64)
    q25, med, q75 = np.percentile(X, [25, 50, 75], axis=0)
    std = X.std(axis=0)
    scale = (q75 - q25) / 1.349
    use_std = scale < 1e-8
    if dispersed_share is not None:
        far = (np.abs(X - med) > DISPERSED_K * np.where(use_std, 1.0, scale)).mean(axis=0)  # share per feature
        use_std |= far > dispersed_share
    return med, np.where(use_std, std, scale)


def robust_iqr_scaler(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``robust-iqr`` scaler: median and IQR / 1.349 (std where the IQR is 0), no dispersed rule."""
    return robust_scaler(X, dispersed_share=None)


#: ``TrainConfig.scaler`` names fitted here (``aeexport.train.fit_scaler`` dispatches to them)
ROBUST_SCALERS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "robust": robust_scaler,
    "robust-iqr": robust_iqr_scaler,
}


def tabular_config(n_rows: int, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of the tabular defaults for ``n_rows`` training rows."""
    base: dict[str, Any] = {
        "epochs": TABULAR_EPOCHS,
        "patience": 10,
        "trim_fraction": 0.35,
        "batch_size": int(max(64, n_rows // 40)),
        "scaler": "robust",
        "members": TABULAR_MEMBERS,
    }
    base.update(overrides)
    return TrainConfig(**base)


#: hidden widths of the tabular defaults (up to 128 features; wider rows take ``default_widths``)
TABULAR_HIDDEN = [128, 64]


def tabular_model_options(n_features: int, hidden: list[int] | None = None) -> dict[str, Any]:
    """Dense-model options of the tabular defaults for rows of ``n_features`` (``hidden``: other widths)."""
    if n_features > 128:
        return {"dropout": 0.2}  # widths come from ``default_widths``
    return {"hidden": list(hidden or TABULAR_HIDDEN), "latent_dim": 8, "dropout": 0.2}


@dataclass(frozen=True)
class TabularPreset:
    kind: str  # model kind of the registry
    train: Callable[[int], TrainConfig]  # n_train rows -> TrainConfig of the preset
    model: Callable[[int], dict[str, Any]]  # n_features -> model options
    #: TrainConfig fields the preset sets (explicit command-line options still win)
    fields: tuple[str, ...] = ("epochs", "patience", "batch_size", "trim_fraction", "scaler", "members")


#: ``--preset`` name -> preset (``default``: no changes; ``auto``: see :func:`choose_preset`)
PRESETS: dict[str, TabularPreset | None] = {
    "auto": None,
    "default": None,
    "tabular": TabularPreset(kind="dense", train=tabular_config, model=tabular_model_options),
    "tabular-v3": TabularPreset(
        kind="dense",
        train=tabular_config,
        model=lambda f: tabular_model_options(f, hidden=[64, 32]),
    ),
    "tabular-v2": TabularPreset(
        kind="dense",
        train=lambda n: tabular_config(n, scaler="robust-iqr"),
        model=lambda f: tabular_model_options(f, hidden=[64, 32]),
    ),
    "tabular-v1": TabularPreset(
        kind="dense",
        train=lambda n: tabular_config(n, scaler="standard", trim_fraction=0.2),
        model=lambda f: tabular_model_options(f, hidden=[64, 32]),
    ),
}


def is_image_data(dataset: Any) -> bool:
    """True when a loaded :class:`aeexport.data.Dataset` holds images, not rows of features: it has
    an image shape (digits, (N, C, H, W) arrays) or rows that are not flat (N, H, W)."""
    return dataset.image_shape is not None or np.asarray(dataset.X).ndim != 2


def choose_preset(preset: str, *, image: bool, explicit: frozenset[str] | set[str] = frozenset()) -> str:
    """Resolve ``--preset auto``: ``"tabular"`` for rows of features, ``"default"`` for images
    (``image=True``: data with a (C, H, W) shape, such as digits) or when ``--model`` was given
    explicitly (``"kind"`` in ``explicit``). Other presets are returned unchanged."""
    if preset not in PRESETS:
        raise InvalidInputError(f"preset must be one of {list(PRESETS)}, got {preset!r}.")
    if preset != "auto":
        return preset
    return "default" if image or "kind" in explicit else "tabular"


def apply_preset(
    preset: str,
    kind: str,
    config: TrainConfig,
    options: dict[str, Any],
    n_train: int,
    n_features: int,
    explicit: frozenset[str] | set[str] = frozenset(),
    *,
    image: bool = False,
) -> tuple[TrainConfig, dict[str, Any]]:
    """Apply ``--preset`` to a training config and model options.

    ``"auto"`` is resolved by :func:`choose_preset` (``image``: the data are images).
    ``"tabular"`` (dense models only) takes the tabular defaults for every setting the
    user did not give explicitly (names in ``explicit``, e.g. ``{"epochs"}``).
    """
    preset = choose_preset(preset, image=image, explicit=explicit)
    spec = PRESETS[preset]
    if spec is None:
        return config, options
    if kind != spec.kind:
        raise InvalidInputError(
            f"--preset {preset} configures the {spec.kind} model, but --model is {kind!r}; use --model "
            f"{spec.kind} or drop --preset."
        )
    tab = spec.train(n_train)
    fields = {k: getattr(tab, k) for k in spec.fields if k not in explicit}
    model_opts = {
        k: v
        for k, v in spec.model(n_features).items()
        if not (k == "hidden" and "hidden" in options) and not (k == "latent_dim" and "latent_dim" in options)
    }
    return dataclasses.replace(config, **fields), {**model_opts, **options}


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
