"""Rows in: datasets and splits, the labels rule, the seeded reservoir sample, the Spark sample,
the scalers and the memory handed back once rows are scaled. Torch-free.
"""

from __future__ import annotations

from ._data import (
    DIGITS_ANOMALY_CLASS,
    MIN_CALIBRATION_ROWS,
    Dataset,
    FewRowsWarning,
    LabelLikeColumnWarning,
    Split,
    anomaly_labels,
    as_model_input,
    check_label_column,
    load_dataset,
    make_split,
    training_section,
    warn_if_few_calibration_rows,
)
from ._labels import as_binary_labels, binary_labels, is_binary
from ._memory import release_mapped, row_blocks, trim_heap
from ._reservoir import Reservoir, SampleInfo, quotas
from ._scalers import DISPERSED_K, DISPERSED_SHARE, SCALERS, Scaler, fit_scaler, robust_iqr_scaler, robust_scaler
from ._series import (
    FIXED_W,
    NOISE_BAND,
    W_MAX,
    W_MIN,
    WindowChoice,
    acf,
    choose_window,
    load_series,
    series_split,
    tsbad_period,
    windows,
)
from ._spark import MAX_CLASSES, SparkSample, sample

__all__ = [
    "FIXED_W",
    "NOISE_BAND",
    "W_MAX",
    "W_MIN",
    "WindowChoice",
    "acf",
    "choose_window",
    "load_series",
    "series_split",
    "tsbad_period",
    "windows",
    "DIGITS_ANOMALY_CLASS",
    "DISPERSED_K",
    "DISPERSED_SHARE",
    "Dataset",
    "FewRowsWarning",
    "LabelLikeColumnWarning",
    "MAX_CLASSES",
    "MIN_CALIBRATION_ROWS",
    "Reservoir",
    "SCALERS",
    "SampleInfo",
    "Scaler",
    "SparkSample",
    "Split",
    "anomaly_labels",
    "as_binary_labels",
    "as_model_input",
    "binary_labels",
    "check_label_column",
    "fit_scaler",
    "is_binary",
    "load_dataset",
    "make_split",
    "quotas",
    "release_mapped",
    "robust_iqr_scaler",
    "robust_scaler",
    "row_blocks",
    "sample",
    "training_section",
    "trim_heap",
    "warn_if_few_calibration_rows",
]
