"""``aeexport train|run DATA --window W|auto``: a series prepared as windows, split by time.

DATA's rows are time steps in file order (:func:`aeexport.data.load_series`). The window is given or
chosen from the training part (``--window auto``: :func:`aeexport.data.choose_window`); the split
holds out the **last** ``val_fraction`` of the steps for validation and calibration (and, for ``run``,
the last ``test_fraction`` for the test figures) and no window crosses it
(:func:`aeexport.data.series_split`). The model kind is ``--model`` when given (a series kind), else
:data:`aeexport.settings.SERIES_KIND`; the series defaults (batch 128, standard scaling) apply unless
given; presets do not apply. Per-step labels (``--label-column``, 1 = anomalous step) keep every window
holding a labelled anomalous step out of training and validation/calibration (the test part keeps
them all: ``run`` scores every test step).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from aeruntime.errors import InvalidInputError

from ..data import (
    Dataset,
    Split,
    choose_window,
    drop_labelled_windows,
    load_series,
    series_split,
    series_tail,
    warn_if_few_calibration_rows,
)
from ..models import get_spec
from ..settings import SERIES_DEFAULTS, SERIES_KIND, TrainSettings

__all__ = ["prepare_series", "series_kind"]


def series_kind(training: TrainSettings) -> str:
    """The model kind of a series run: ``--model`` when given (it must take windows), else :data:`SERIES_KIND`."""
    if "kind" not in training.explicit:
        return SERIES_KIND
    if get_spec(training.kind).input_rank != 2:
        raise InvalidInputError(
            f"--window trains on windows, but model kind {training.kind!r} takes rows; pass --model "
            "series-dense or series-tcn (or drop --model), or drop --window to train on rows."
        )
    return training.kind


def _rows(dataset: str | Dataset, training: TrainSettings) -> Dataset:
    s = training.series
    if isinstance(dataset, Dataset):
        if dataset.X.ndim != 2:
            raise InvalidInputError(f"a series is rows (n_steps, n_columns), got rows of shape {dataset.X.shape}.")
        return dataclasses.replace(dataset, y=None)  # rows in memory: unlabelled steps, as they always were
    return load_series(dataset, time_column=s.time_column, header=training.header, label_column=training.label_column)


def _labelled(split: Split, labels: np.ndarray | None, window: int, bounds: tuple[int, int], info: dict) -> Split:
    """Per-step labels given (``--label-column``): windows holding a labelled anomalous step are left out
    of training and validation/calibration (:func:`aeexport.data.drop_labelled_windows`); ``info`` records
    how many (the manifest's ``dataset.series.labels``)."""
    if labels is None:
        return split
    split, dropped = drop_labelled_windows(split, labels, window, bounds)
    info["labels"] = {"anomalous_steps": int(labels.sum()), "dropped_windows": dropped}
    return split


def prepare_series(dataset: str | Dataset, training: TrainSettings, *, test_fraction: float, warn: bool) -> tuple:
    """The parts of the :class:`~aeexport.train.Prepared` of a series run (``training.series`` set):
    ``(ds, split, cfg, model_options, kind, series, tail)``; ``series``: the window chosen and why
    (``window``, ``rule``, ``period``, ``reason``), the split's bounds and, with per-step labels
    (``--label-column``), the windows left out; ``tail``: the test part with the W-1 steps before it
    (:class:`aeexport.data.SeriesTail`, None without a test part)."""
    s = training.series
    if training.anomaly_class is not None:
        raise InvalidInputError(
            f"--anomaly-class {training.anomaly_class} does not apply with --window: a series' --label-column "
            "holds per-step labels 0 (normal) and 1 (anomalous step); map the classes to 0/1 first."
        )
    kind = series_kind(training)
    ds = _rows(dataset, training)
    cfg = dataclasses.replace(
        training.config, **{k: v for k, v in SERIES_DEFAULTS.items() if k not in training.explicit}
    )
    n = len(ds.X)
    first_held = n - math.floor(n * test_fraction) - math.floor(n * cfg.val_fraction)
    choice = choose_window(s.window, ds.X[: max(first_held, 1)])
    split, (v0, t0) = series_split(
        ds.X, choice.window, val_fraction=cfg.val_fraction, test_fraction=test_fraction, stride=s.stride
    )
    options = {**dict(training.model_options), **s.model_options(), **choice.as_config()}
    tail = series_tail(ds.X, ds.y, choice.window, t0) if test_fraction else None
    info = {
        "window": choice.window,
        "rule": choice.rule,
        "period": choice.period,
        "reason": choice.reason(),
        "stride": s.stride,
        "steps": n,
        "time_column": s.time_column,
        "validation_starts_at_row": v0,
        "test_starts_at_row": t0 if test_fraction else None,
    }
    split = _labelled(split, ds.y, choice.window, (v0, t0), info)
    if warn:
        warn_if_few_calibration_rows(len(split.val))
    ds = dataclasses.replace(ds, X=ds.X[:0], y=None)
    return ds, split, cfg, options, kind, info, tail
