"""Settings of a run, torch-free: the training configuration and its presets, the model kinds,
the threshold and export specs, and the one object that carries a run (:class:`RunSettings`).
"""

from __future__ import annotations

from ._config import (
    AUTO_THREADS_BATCH,
    DEVICES,
    LR_SCHEDULES,
    PLATEAU_FACTOR,
    PLATEAU_PATIENCE,
    STOP_RULES,
    TrainConfig,
    default,
    flag,
)
from ._kinds import KINDS, MODEL_KINDS, Kind
from ._presets import (
    IMAGE_PERCENTILE,
    IMAGE_VAL_FRACTION,
    PRESETS,
    TABULAR_EPOCHS,
    TABULAR_HIDDEN,
    TABULAR_MAX_BATCH,
    TABULAR_MEMBERS,
    Preset,
    TabularPreset,
    apply_preset,
    choose_preset,
    image_config,
    image_model_options,
    preset_percentile,
    split_config,
    tabular_config,
    tabular_model_options,
)
from ._run import RunSettings, TrainSettings
from ._specs import DEFAULT_PERCENTILE, ExportOptions, ThresholdSpec, Tolerance

__all__ = [
    "AUTO_THREADS_BATCH",
    "PLATEAU_FACTOR",
    "PLATEAU_PATIENCE",
    "DEFAULT_PERCENTILE",
    "DEVICES",
    "ExportOptions",
    "IMAGE_PERCENTILE",
    "IMAGE_VAL_FRACTION",
    "KINDS",
    "Kind",
    "LR_SCHEDULES",
    "MODEL_KINDS",
    "PRESETS",
    "RunSettings",
    "Preset",
    "STOP_RULES",
    "TABULAR_EPOCHS",
    "TABULAR_HIDDEN",
    "TABULAR_MAX_BATCH",
    "TABULAR_MEMBERS",
    "TabularPreset",
    "ThresholdSpec",
    "Tolerance",
    "TrainConfig",
    "TrainSettings",
    "apply_preset",
    "choose_preset",
    "default",
    "flag",
    "image_config",
    "image_model_options",
    "preset_percentile",
    "split_config",
    "tabular_config",
    "tabular_model_options",
]
