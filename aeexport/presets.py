"""Presets of ``aeexport train|run --preset``, one registry: name -> what the preset sets.

Torch-free (the CLI reads :data:`PRESETS` for its choices). The tabular defaults and the
measurements behind them are described in :mod:`aeexport.tabular`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aeruntime.errors import InvalidInputError

if TYPE_CHECKING:
    from .config import TrainConfig

__all__ = [
    "PRESETS",
    "TABULAR_EPOCHS",
    "TABULAR_HIDDEN",
    "TABULAR_MEMBERS",
    "TabularPreset",
    "apply_preset",
    "choose_preset",
    "tabular_config",
    "tabular_model_options",
]

#: epoch cap of the tabular defaults
TABULAR_EPOCHS = 60
#: dense models trained per fit and averaged in one ensemble graph (``TrainConfig.members``); 3 members
#: measured +0.001 / +0.008 on the two means for 3x the training time, 2x the batch-1 latency and 1/15
#: of the throughput of one model, so the default is one (``--members 3`` chooses them)
TABULAR_MEMBERS = 1


def tabular_config(n_rows: int, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of the tabular defaults for ``n_rows`` training rows."""
    from .config import TrainConfig

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
