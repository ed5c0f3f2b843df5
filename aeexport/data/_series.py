"""Series in: rows as time steps in file order, the window rule, windows and the split by time. Torch-free.

A series is ``(n, C)``: row t is time step t. :func:`load_series` reads it (``.npz`` with ``X`` or
``X_train``, ``.npy``, CSV, Parquet), checks the time column (strictly increasing; kept out of the
features) and NaN/Inf (the row rule, naming row and column). :func:`choose_window` is ``--window
auto``: TSB-AD's ``find_length_rank(rank=1)`` period of column 0 of the training rows, clipped to
[:data:`W_MIN`, :data:`W_MAX`], :data:`FIXED_W` when there is none or it is within white noise's band (benchmarks/results/series.md
chose it). :func:`series_split` holds out the **last** ``val_fraction`` (and ``test_fraction``) of
the steps: training windows end before the held-out part and held-out windows start inside it, so
no window crosses the split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.errors import InvalidInputError
from aeruntime.tables import load_table, read_npz
from aeruntime.validation import check_rows

from ._data import Dataset, Split
from ._labels import as_binary_labels

__all__ = [
    "FIXED_W",
    "NOISE_BAND",
    "SeriesTail",
    "W_MAX",
    "W_MIN",
    "WindowChoice",
    "acf",
    "choose_window",
    "drop_labelled_windows",
    "labelled_windows",
    "load_series",
    "series_split",
    "series_tail",
    "tsbad_period",
    "windows",
]

#: the window when the autocorrelation shows no period, and the bounds of ``--window auto``
FIXED_W, W_MIN, W_MAX = 32, 8, 64
#: a period counts when its autocorrelation exceeds NOISE_BAND / sqrt(n): white noise's is about
#: N(0, 1/n) at each lag, so its highest of ~100 local maxima stays below 4 / sqrt(n)
NOISE_BAND = 4.0


def acf(x: np.ndarray, nlags: int) -> np.ndarray:
    """Autocorrelation at lags 0..nlags (statsmodels ``acf(fft=True)``: biased autocovariance / variance)."""
    x = np.asarray(x, np.float64) - np.mean(x)
    n = len(x)
    f = np.fft.rfft(x, 2 * n)
    acov = np.fft.irfft(f * np.conj(f))[: nlags + 1] / n
    return acov / acov[0] if acov[0] > 0 else np.zeros(nlags + 1)


def _highest_peak(x: np.ndarray, lo: int = 3, hi: int = 300) -> tuple[int, float] | None:
    """(lag, autocorrelation) of the highest local ACF maximum of ``x`` at lags 3..400 (TSB-AD's
    ``find_length_rank(rank=1)``), None when there is none or its lag index is outside [lo, hi]."""
    from scipy.signal import argrelextrema

    x = np.asarray(x, np.float64)[:20000]
    base = 3
    if len(x) <= base + 2:
        return None
    ac = acf(x, min(400, len(x) - 1))[base:]
    peaks = argrelextrema(ac, np.greater)[0]
    if len(peaks) == 0:
        return None
    best = peaks[np.argmax(ac[peaks])]
    if best < lo or best > hi:
        return None
    return int(best + base), float(ac[best])


def tsbad_period(x: np.ndarray, fallback: int, lo: int = 3, hi: int = 300) -> int:
    """TSB-AD's ``find_length_rank(x, rank=1)``: the lag of the highest local ACF maximum (lags 3..400);
    ``fallback`` when there is none with index in [lo, hi]."""
    peak = _highest_peak(x, lo, hi)
    return fallback if peak is None else peak[0]


@dataclass(frozen=True)
class WindowChoice:
    """The window of a run and why: ``rule`` "fixed" (``--window W``), "period" or "fallback" (auto)."""

    window: int
    rule: str
    period: int | None = None  # the autocorrelation period found (auto), before clipping

    def reason(self) -> str:
        if self.rule == "period":
            clip = "" if self.period == self.window else f", clipped to [{W_MIN}, {W_MAX}]"
            return f"period {self.period} of column 0's autocorrelation{clip}"
        if self.rule == "fallback":
            return (
                f"no period in column 0's autocorrelation (lags 3..300, above the noise band): the fallback {FIXED_W}"
            )
        return "given"

    def as_config(self) -> dict[str, Any]:
        """What the model's config records (manifest ``model.config``)."""
        return {"window_rule": self.rule, "window_period": self.period}


def choose_window(window: int | str, train: np.ndarray) -> WindowChoice:
    """``--window``: an integer W as given, or ``"auto"``: the period of column 0 of ``train`` (n, C):
    TSB-AD's highest local autocorrelation maximum (lags 3..300), kept only when it clears
    :data:`NOISE_BAND` / sqrt(n) (white noise's autocorrelation has spurious maxima below that), clipped
    to [:data:`W_MIN`, :data:`W_MAX`]; :data:`FIXED_W` when there is none."""
    if window != "auto":
        return WindowChoice(int(window), "fixed")
    x = train[:, 0]
    peak = _highest_peak(x)
    if peak is None or peak[1] <= NOISE_BAND / np.sqrt(min(len(x), 20000)):
        return WindowChoice(FIXED_W, "fallback")
    return WindowChoice(int(np.clip(peak[0], W_MIN, W_MAX)), "period", peak[0])


def windows(rows: np.ndarray, w: int) -> np.ndarray:
    """(n, C) -> (n - w + 1, w, C) view (no copy): window i holds rows i .. i + w - 1."""
    return np.lib.stride_tricks.sliding_window_view(rows, w, axis=0).transpose(0, 2, 1)


def _check_time(t: np.ndarray, name: str, where: str) -> None:
    bad = np.flatnonzero(np.diff(t) <= 0)
    if len(bad):
        i = int(bad[0]) + 1
        how = "repeats" if t[i] == t[i - 1] else "goes backwards"
        raise InvalidInputError(
            f"{where}: time column {name!r} {how} at row {i} ({float(t[i - 1])!r} then {float(t[i])!r}); expected strictly "
            "increasing time stamps: sort the rows by time and drop duplicates."
        )


def load_series(
    source: str, *, time_column: str | None = None, header: bool | None = None, label_column: str | None = None
) -> Dataset:
    """The series in ``source`` (n, C) as a :class:`Dataset`, rows in file order; ``time_column``
    (tables only) checked strictly increasing and dropped from the features; ``label_column`` (tables
    only): per-step 0/1 labels (1 = anomalous step), kept out of the features, as ``Dataset.y`` (n,) int8."""
    path = Path(source)
    if not path.is_file():
        raise InvalidInputError(f"series {source!r} is not a file; pass a .csv, .parquet, .npy or .npz series.")
    y = None
    if path.suffix.lower() == ".npz":
        for option, value in (("--time-column", time_column), ("--label-column", label_column)):
            if value is not None:
                raise InvalidInputError(f"{path}: {option} applies to tables (CSV, Parquet), not to .npz arrays.")
        X, _ = read_npz(path, ("X", "X_train"))
        names = None
    else:
        if label_column is not None and label_column == time_column:
            raise InvalidInputError(
                f"{path}: {label_column!r} is given as both the time column and the label column; pass two columns."
            )
        table = load_table(path, label_column, header=header, dtype=np.float64)
        X, names = table.X, table.feature_names
        if label_column is not None:
            y = as_binary_labels(table.y, len(X), f"{path}: label column {label_column!r} (1 = anomalous step)")
    X = np.asarray(X)
    if X.ndim != 2:
        raise InvalidInputError(f"{path}: a series is rows (n_steps, n_columns), got an array of shape {X.shape}.")
    if time_column is not None:
        if not names or time_column not in names:
            raise InvalidInputError(
                f"{path}: time column {time_column!r} is not a column (columns: {names}); pass one of them."
            )
        j = names.index(time_column)
        _check_time(X[:, j], time_column, str(path))
        X, names = np.delete(X, j, axis=1), [n for n in names if n != time_column]
        if X.shape[1] == 0:
            raise InvalidInputError(f"{path}: no feature column besides the time column {time_column!r}.")
    X = check_rows(X, X.shape[1:], str(path), columns=names, dtype=np.float32)  # NaN/Inf: row and column named
    return Dataset(X, y, path.name, None, names)


def labelled_windows(labels: np.ndarray, window: int) -> np.ndarray:
    """(n - W + 1,) bool: window i (steps i .. i + W - 1) holds a step labelled 1 in ``labels`` (n,)."""
    cs = np.concatenate([[0], np.cumsum(np.asarray(labels, np.int64) != 0)])
    return cs[window:] > cs[: len(cs) - window]


def drop_labelled_windows(split: Split, labels: np.ndarray, window: int, bounds: tuple[int, int]) -> tuple:
    """Leave the windows holding a labelled anomalous step out of training and validation/calibration.

    ``split`` and ``bounds``: what :func:`series_split` returned for the series whose per-step 0/1
    ``labels`` (n,) are given. Returns ``(split, dropped)``: the split with those training windows
    (``train_rows``) and validation windows (``val``) left out, the test part untouched, and
    ``dropped`` = {"train_windows": ..., "val_windows": ...}. A part left with no window (training:
    fewer than 2) is an :class:`InvalidInputError`.
    """
    v0, t0 = bounds
    bad = labelled_windows(labels, window)
    train = split.train_rows[~bad[split.train_rows]]
    val_idx = np.arange(v0, t0 - window + 1)
    val_keep = val_idx[~bad[val_idx]]
    if len(train) < 2 or len(val_keep) == 0:
        part = "training" if len(train) < 2 else "validation"
        raise InvalidInputError(
            f"every {part} window holds a step labelled anomalous ({int(np.sum(labels))} such steps in the "
            f"series); windows holding one are left out of training and calibration, so none is left; pass a "
            "series whose normal part comes first, a smaller --window or a lower --val-fraction."
        )
    val = split.val if len(val_keep) == len(val_idx) else np.ascontiguousarray(split.rows()[val_keep])
    dropped = {
        "train_windows": int(len(split.train_rows) - len(train)),
        "val_windows": int(len(val_idx) - len(val_keep)),
    }
    return Split(split.X, train, val, split.test, split.y_test), dropped


def series_split(rows: np.ndarray, window: int, *, val_fraction: float, test_fraction: float = 0.0, stride: int = 1):
    """Split the series ``rows`` (n, C) by time: training | validation (the last ``val_fraction`` before
    the test part) | test (the last ``test_fraction``). Returns ``(split, bounds)``: the :class:`Split`
    over the windows view (n - W + 1, W, C) (``train_rows``: the training windows, every ``stride``-th,
    all inside the training steps; ``val``/``test``: copies of every window inside their part), and
    ``bounds`` = (first validation step, first test step)."""
    n = len(rows)
    if n < window:
        raise InvalidInputError(
            f"the series has {n} rows, fewer than the window {window}; pass a longer series or a smaller --window."
        )
    n_test = math.floor(n * test_fraction)
    n_val = max(window, math.floor(n * val_fraction))
    v0, t0 = n - n_test - n_val, n - n_test
    if v0 - window + 1 < 2 or (n_test and n_test < window):
        raise InvalidInputError(
            f"the series has {n} rows: too few for window {window} with the last {n_val} rows held out for "
            f"validation{f' and {n_test} for test' if n_test else ''} (each part needs at least one window, "
            "training at least 2); pass a longer series, a smaller --window or a lower --val-fraction."
        )
    win = windows(rows, window)
    train = np.arange(0, v0 - window + 1, stride)  # window i ends at step i + W - 1 < v0
    val = np.ascontiguousarray(win[v0 : t0 - window + 1])
    test = np.ascontiguousarray(win[t0 : n - window + 1]) if n_test else None
    return Split(win, train, val, test, None), (v0, t0)


@dataclass(frozen=True)
class SeriesTail:
    """The test part of a series as a device sees it: ``rows`` (k + n, C) float32, the k <= W-1 steps
    before the test part (context: scored, never evaluated), then its n steps; ``labels`` (n,) 0/1 of
    the test steps, or None (unlabelled)."""

    rows: np.ndarray
    context: int
    labels: np.ndarray | None

    @property
    def steps(self) -> int:
        return len(self.rows) - self.context


def series_tail(rows: np.ndarray, labels: np.ndarray | None, window: int, first: int) -> SeriesTail:
    """The :class:`SeriesTail` of ``rows`` (n, C) from step ``first`` on, with the W-1 steps before it."""
    start = max(first - (window - 1), 0)
    tail = np.ascontiguousarray(rows[start:], dtype=np.float32)
    return SeriesTail(tail, first - start, None if labels is None else np.asarray(labels[first:], np.int8))
