"""The rows and settings of one training run, by one rule for ``aeexport train`` and ``run``.

:func:`prepare` reads the data, labels it, splits it (novelty detection: anomalies only in the test
split) and applies the preset; it leaves the split the only holder of the raw rows, so that
:func:`aeexport.train.train_split` frees them once they are scaled. It imports no exporter: ``aeexport
train`` stays as light as training.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from aeruntime.errors import InvalidInputError

from ..data import (
    Dataset,
    SeriesTail,
    Split,
    anomaly_labels,
    as_model_input,
    load_dataset,
    make_split,
    warn_if_few_calibration_rows,
)
from ..models import get_spec
from ..settings import TrainConfig, TrainSettings, apply_preset, preset_percentile, split_config
from ._tabular import is_image_data

__all__ = ["Prepared", "dataset_info", "prepare"]


class Prepared(NamedTuple):
    """The data and settings of one run, after the preset."""

    ds: Dataset  # the dataset's name, names and provenance; no rows (they are the split's: see prepare)
    split: Split  # the only holder of the raw rows, so train_split can free them once scaled
    anomaly_class: int | None
    cfg: TrainConfig
    model_options: dict[str, Any]
    percentile: float | None  # the preset's threshold percentile (None: the calibrator's default)
    kind: str | None = None  # the model kind when the run chose it (series: aeexport.settings.SERIES_KIND)
    series: dict[str, Any] | None = None  # a series run: the window and why, the split's bounds
    series_tail: SeriesTail | None = None  # a series run's test part with the W-1 steps before it


def prepare(
    dataset: str | Dataset,
    training: TrainSettings,
    *,
    test_fraction: float = 0.0,
    plot: str | Path | None = None,
    warn: bool = True,
) -> Prepared:
    """Rows as the model takes them, labels by one rule, the novelty split (anomalies only in the test
    split), the preset applied; ``warn``: about too few calibration rows. One rule for ``aeexport train``
    (``test_fraction=0``: every normal row not held out for validation is trained on) and ``run``.

    ``training`` says the kind, configuration, model options, preset and labels; ``plot`` (a figure
    of the test split) needs labels, checked before any training.

    The split is left the only holder of the raw rows (the returned ``ds`` keeps none), so that
    :func:`aeexport.train.train_split` frees a table read into memory once its rows are scaled. A
    :class:`Dataset` given in memory stays the caller's: its rows are not freed.
    """
    if training.series is not None:  # --window: time steps in file order, windows, a split by time
        from ._series import prepare_series

        ds, split, cfg, options, kind, series, tail = prepare_series(
            dataset, training, test_fraction=test_fraction, warn=warn
        )
        return Prepared(ds, split, None, cfg, options, None, kind, series, tail)
    cfg, preset, explicit = training.config, training.preset, training.explicit
    ds = _dataset(dataset, training)
    y, anomaly_class = anomaly_labels(ds, training.anomaly_class)
    X = as_model_input(ds.X, get_spec(training.kind).input_rank, ds.image_shape)
    image = is_image_data(ds)
    cfg = split_config(preset, cfg, explicit, image=image)  # the preset's val_fraction sets the split
    split = make_split(X, y, val_fraction=cfg.val_fraction, test_fraction=test_fraction, seed=cfg.seed)
    n_features = int(np.prod(X.shape[1:]))
    cfg, model_options = apply_preset(
        preset, training.kind, cfg, dict(training.model_options), split.n_train, n_features, explicit, image=image
    )
    if plot is not None and y is None:
        raise InvalidInputError(
            "--plot needs a labelled test split, but this data has no labels; pass "
            "--label-column (CSV, Parquet) or an .npz with y, or drop --plot."
        )
    if warn:
        warn_if_few_calibration_rows(len(split.val))
    ds = dataclasses.replace(ds, X=np.empty((0, *ds.X.shape[1:]), np.float32), y=None)  # the rows are the split's
    return Prepared(ds, split, anomaly_class, cfg, model_options, preset_percentile(preset, explicit, image=image))


def _dataset(dataset: str | Dataset, training: TrainSettings) -> Dataset:
    """The rows to train on: read (and sampled with ``max_rows``) from a source, or given in memory."""
    cfg, label_column = training.config, training.label_column
    if not isinstance(dataset, Dataset):
        return load_dataset(
            dataset, label_column=label_column, max_rows=cfg.max_rows, seed=cfg.seed, header=training.header
        )
    if label_column is not None:
        raise InvalidInputError(
            f"label_column={label_column!r} applies to files; a Dataset in memory has its labels already "
            "(Dataset.from_arrow(table, label_column=...)): drop label_column."
        )
    if 0 < cfg.max_rows < len(dataset.X):
        raise InvalidInputError(
            f"max_rows={cfg.max_rows} but the Dataset in memory holds {len(dataset.X)} rows; max_rows samples a "
            "file while it is read: sample before (aeexport.data.sample(df, max_rows)) or leave max_rows at 0."
        )
    return dataset


def dataset_info(p: Prepared, *, test_rows: bool, percentile: bool) -> dict[str, Any]:
    """The checkpoint's and manifest's ``dataset`` section of a prepared run: source, row counts, anomaly
    class, feature names and the sample's provenance. ``test_rows``: the test split's size (``run``);
    ``percentile``: the preset's threshold percentile, for ``aeexport export`` to calibrate at (``train``)."""
    info: dict[str, Any] = {
        "source": p.ds.name,
        "rows": p.split.n_rows,
        "anomaly_class": p.anomaly_class,
        "train_rows": p.split.n_train,
        "val_rows": len(p.split.val),
    }
    if test_rows:
        info["test_rows"] = 0 if p.split.test is None else len(p.split.test)
    if p.ds.feature_names:
        info["feature_names"] = list(p.ds.feature_names)
    if percentile and p.percentile is not None:
        info["threshold_percentile"] = p.percentile
    if p.ds.sample:
        info["sample"] = p.ds.sample
    if p.series:
        info["series"] = p.series
    return info
