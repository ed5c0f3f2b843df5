"""``aeexport train|run DATA --window W|auto``: a series prepared as windows, split by time.

DATA's rows are time steps in file order (:func:`aeexport.data.load_series`). The window is given or
chosen from the training part (``--window auto``: :func:`aeexport.data.choose_window`); the split
holds out the **last** ``val_fraction`` of the steps for validation and calibration (and, for ``run``,
the last ``test_fraction`` for the test figures) and no window crosses it
(:func:`aeexport.data.series_split`). The model kind is ``--model`` when given (a series kind), else
:data:`aeexport.settings.SERIES_KIND`; the series defaults (batch 128, standard scaling) apply unless
given; presets do not apply.
"""

from __future__ import annotations

import dataclasses
import math

from aeruntime.errors import InvalidInputError

from ..data import Dataset, choose_window, load_series, series_split, warn_if_few_calibration_rows
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
        return dataset
    if training.label_column is not None:
        raise InvalidInputError("--label-column does not apply with --window (a series is trained on every step).")
    return load_series(dataset, time_column=s.time_column, header=training.header)


def prepare_series(dataset: str | Dataset, training: TrainSettings, *, test_fraction: float, warn: bool) -> tuple:
    """The parts of the :class:`~aeexport.train.Prepared` of a series run (``training.series`` set):
    ``(ds, split, cfg, model_options, kind, series)``; ``series``: the window chosen and why (``window``,
    ``rule``, ``period``, ``reason``) and the split's bounds."""
    s = training.series
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
    if warn:
        warn_if_few_calibration_rows(len(split.val))
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
    ds = dataclasses.replace(ds, X=ds.X[:0], y=None)
    return ds, split, cfg, options, kind, info
