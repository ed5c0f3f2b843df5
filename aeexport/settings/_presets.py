"""Presets of ``aeexport train|run --preset``, one registry: name -> what the preset sets.

Torch-free (the CLI reads :data:`PRESETS` for its choices). The tabular defaults and the
measurements behind them are described in :mod:`aeexport.train`; the image defaults
(``image``, chosen by ``--preset auto`` for images such as digits) in :func:`image_config`,
measured in ``benchmarks/results/digits_defaults.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aeruntime.errors import InvalidInputError, check_choice

from ._config import TrainConfig

__all__ = [
    "IMAGE_PERCENTILE",
    "IMAGE_VAL_FRACTION",
    "PRESETS",
    "Preset",
    "TABULAR_EPOCHS",
    "TABULAR_HIDDEN",
    "TABULAR_MAX_BATCH",
    "TABULAR_MEMBERS",
    "TabularPreset",
    "apply_preset",
    "choose_preset",
    "image_config",
    "image_model_options",
    "preset_percentile",
    "split_config",
    "tabular_config",
    "tabular_model_options",
]

#: epoch cap of the tabular defaults
TABULAR_EPOCHS = 60
#: most rows per step of the tabular defaults (the batch is n/40 below that). A batch's activations,
#: dropout masks and gradients grow with it (at 42,500 rows several hundred MB, freed and re-allocated
#: every step), so the cap keeps them from growing with the data; at the cap an epoch runs at 0.97x a
#: plain torch loop (benchmarks/results/train.md). Reached from 655,360 training rows on, so no set of
#: benchmarks/anomaly.py (all smaller) changes.
TABULAR_MAX_BATCH = 1 << 14
#: dense models trained per fit and averaged in one ensemble graph (``TrainConfig.members``); 3 members
#: measured +0.001 / +0.008 on the two means for 3x the training time, 2x the batch-1 latency and 1/15
#: of the throughput of one model, so the default is one (``--members 3`` chooses them)
TABULAR_MEMBERS = 1


def tabular_config(n_rows: int, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of the tabular defaults for ``n_rows`` training rows."""

    base: dict[str, Any] = {
        "epochs": TABULAR_EPOCHS,
        "patience": 10,
        "trim_fraction": 0.35,
        "batch_size": int(min(max(64, n_rows // 40), TABULAR_MAX_BATCH)),
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


#: share of the normal rows the image preset holds out for early stopping and the threshold: 0.30 (485
#: calibration rows on digits instead of 242) narrows the 90% interval of the FPR of the 95th percentile on
#: unseen normals from 3.2-8.4% to 3.6-7.1% (:func:`aeexport.export.fpr_interval`)
IMAGE_VAL_FRACTION = 0.30
#: percentile of the held-out scores the image preset's threshold sits at, when no threshold option is given:
#: at 95 the image defaults flagged 5.9% +- 1.5 of the test normals over 10 digits seeds (above 6% on 6 of
#: them: the held-out rows that pick the best epoch score a little lower than unseen normals), at 96 5.3% +- 1.5
#: through ``aeexport run`` (8 of 10 at most 6%; ``benchmarks/results/digits_defaults.md``, tables 4b and 5)
IMAGE_PERCENTILE = 96.0


def image_config(n_rows: int, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of the image defaults (``n_rows``: training rows, unused: the budget is fixed).

    Measured on digits (10 seeds) and synthetic 16x16 shapes (3 seeds) in
    ``benchmarks/results/digits_defaults.md``: min-max scaling (to [0, 1], sigmoid output; the standard
    scaler blows up the near-constant border pixels), Adam at lr 3e-3 with the plateau schedule
    (halved after 5 epochs without a 1e-3 relative improvement) and early stopping on the same
    ``min_delta`` 1e-3: training ends by itself (about 200 of the 300 epochs, never at the cap) at
    ROC-AUC 0.98 on digits, where today's defaults ran into the cap at 0.89.
    """

    base: dict[str, Any] = {
        "scaler": "minmax",
        "lr": 3e-3,
        "lr_schedule": "plateau",
        "min_delta": 1e-3,
        "val_fraction": IMAGE_VAL_FRACTION,
    }
    base.update(overrides)
    return TrainConfig(**base)


def image_model_options(n_features: int) -> dict[str, Any]:
    """Dense-model options of the image defaults for images of ``n_features`` pixels: one hidden layer of
    n/2 and a latent of n/8 (digits: [32], 8; ROC-AUC 0.986 vs 0.944 for the default widths at lr 1e-3)."""
    return {"hidden": [max(1, n_features // 2)], "latent_dim": max(1, n_features // 8)}


@dataclass(frozen=True)
class Preset:
    kind: str  # model kind of the registry
    train: Callable[[int], TrainConfig]  # n_train rows -> TrainConfig of the preset
    model: Callable[[int], dict[str, Any]]  # n_features -> model options
    #: TrainConfig fields the preset sets (explicit command-line options still win)
    fields: tuple[str, ...] = ("epochs", "patience", "batch_size", "trim_fraction", "scaler", "members")
    #: the percentile threshold's percentile when no threshold option is given (None: the calibrator's, 95)
    percentile: float | None = None


#: the presets were all tabular ones before the image preset
TabularPreset = Preset


#: ``--preset`` name -> preset (``default``: no changes; ``auto``: see :func:`choose_preset`)
PRESETS: dict[str, Preset | None] = {
    "auto": None,
    "default": None,
    "tabular": Preset(kind="dense", train=tabular_config, model=tabular_model_options),
    "image": Preset(
        kind="dense",
        train=image_config,
        model=image_model_options,
        fields=("scaler", "lr", "lr_schedule", "min_delta", "val_fraction"),
        percentile=IMAGE_PERCENTILE,
    ),
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


def choose_preset(preset: str, *, image: bool, explicit: frozenset[str] | set[str] = frozenset()) -> str:
    """Resolve ``--preset auto``: ``"tabular"`` for rows of features, ``"image"`` for images
    (``image=True``: data with a (C, H, W) shape, such as digits), ``"default"`` when ``--model`` was
    given explicitly (``"kind"`` in ``explicit``). Other presets are returned unchanged."""
    check_choice("preset", preset, list(PRESETS))
    if preset != "auto":
        return preset
    if "kind" in explicit:
        return "default"
    return "image" if image else "tabular"


def split_config(
    preset: str, config: TrainConfig, explicit: frozenset[str] | set[str] = frozenset(), *, image: bool = False
) -> TrainConfig:
    """``config`` with the preset's ``val_fraction`` (unless given explicitly): the split is made
    before the preset's other settings, which may depend on the training rows."""
    spec = PRESETS[choose_preset(preset, image=image, explicit=explicit)]
    if spec is None or "val_fraction" not in spec.fields or "val_fraction" in explicit:
        return config
    return dataclasses.replace(config, val_fraction=spec.train(0).val_fraction)


def preset_percentile(
    preset: str, explicit: frozenset[str] | set[str] = frozenset(), *, image: bool = False
) -> float | None:
    """The percentile the resolved preset calibrates its threshold at (None: the calibrator's default)."""
    spec = PRESETS[choose_preset(preset, image=image, explicit=explicit)]
    return None if spec is None else spec.percentile


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
