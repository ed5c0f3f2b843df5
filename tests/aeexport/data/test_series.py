"""Series in (aeexport.data): the window rule, the split by time (no leak), bad series refused by row."""

from __future__ import annotations

import numpy as np
import pytest

from aeexport.data import FIXED_W, W_MAX, choose_window, load_series, series_split, tsbad_period
from aeruntime.errors import InvalidInputError
from tests.aeruntime.series.forge import generated_series


def test_auto_window_finds_the_period_of_a_generated_sine():
    x, _ = generated_series(n=2000)  # column 0: period 25, noise, spikes, a level shift
    choice = choose_window("auto", x)
    assert (choice.window, choice.rule, choice.period) == (25, "period", 25)
    assert "period 25" in choice.reason()


def test_auto_window_clips_a_long_period_and_says_so():
    t = np.arange(3000, dtype=np.float64)[:, None]
    choice = choose_window("auto", np.sin(2 * np.pi * t / 100))
    assert (choice.window, choice.period) == (W_MAX, 100)
    assert "clipped to [8, 64]" in choice.reason()


@pytest.mark.parametrize("n", [500, 2000, 10000])
def test_auto_window_falls_back_on_noise_with_the_reason(n):
    noise = np.random.default_rng(n).standard_normal((n, 2))
    if n == 2000:
        assert tsbad_period(noise[:, 0], 0) > 0  # TSB-AD's rule alone takes a spurious maximum of noise
    choice = choose_window("auto", noise)
    assert (choice.window, choice.rule, choice.period) == (FIXED_W, "fallback", None)
    assert "no period" in choice.reason() and str(FIXED_W) in choice.reason()


def test_a_given_window_is_kept():
    assert choose_window(7, np.zeros((100, 1))).window == 7


@pytest.mark.parametrize("stride", [1, 3, 40])
@pytest.mark.parametrize("test_fraction", [0.0, 0.2])
def test_the_split_is_by_time_and_no_held_out_row_enters_a_training_window(stride, test_fraction):
    n, w = 1000, 16
    rows = np.repeat(np.arange(n, dtype=np.float32)[:, None], 2, axis=1)  # each step holds its own index
    split, (v0, t0) = series_split(rows, w, val_fraction=0.15, test_fraction=test_fraction, stride=stride)
    train = split.rows()[split.train_rows]  # (n_train, W, C): the step indices each training window holds
    assert train.max() == v0 - 1 - (v0 - w) % stride  # the last training window ends just before v0
    assert train.max() < v0 <= split.val.min()  # no held-out row in a training window, nor the reverse
    assert split.val.max() < t0 and len(split.val) == t0 - v0 - w + 1
    assert np.all(np.diff(split.train_rows) == stride) and split.train_rows[0] == 0
    assert v0 == n - int(n * test_fraction) - int(n * 0.15)  # the last part, not random rows
    if test_fraction:
        assert split.test.min() == t0 and split.test.max() == n - 1
    np.testing.assert_array_equal(split.val[:, -1, 0], np.arange(v0 + w - 1, t0))  # one window per step


def test_a_series_shorter_than_the_window_is_refused():
    with pytest.raises(InvalidInputError, match=r"the series has 10 rows, fewer than the window 32"):
        series_split(np.zeros((10, 2), np.float32), 32, val_fraction=0.15)
    with pytest.raises(InvalidInputError, match=r"too few for window 32"):
        series_split(np.zeros((60, 2), np.float32), 32, val_fraction=0.15)


def _csv(path, times, values) -> str:
    lines = ["time,a,b"] + [f"{t},{v},{2 * v}" for t, v in zip(times, values)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_the_time_column_is_checked_and_kept_out_of_the_features(tmp_path):
    ds = load_series(_csv(tmp_path / "s.csv", [1, 2, 5, 9], [0.5, 1, 2, 3]), time_column="time", header=True)
    assert ds.feature_names == ["a", "b"]
    np.testing.assert_array_equal(ds.X, np.array([[0.5, 1], [1, 2], [2, 4], [3, 6]], np.float32))


@pytest.mark.parametrize(
    ("times", "match"),
    [
        ([1, 2, 2, 3], r"time column 'time' repeats at row 2 \(2.0 then 2.0\)"),
        ([1, 2, 3, 0], r"time column 'time' goes backwards at row 3 \(3.0 then 0.0\)"),
    ],
)
def test_a_time_column_that_repeats_or_goes_backwards_names_the_row(tmp_path, times, match):
    with pytest.raises(InvalidInputError, match=match + ".*strictly increasing"):
        load_series(_csv(tmp_path / "s.csv", times, [0, 1, 2, 3]), time_column="time", header=True)


def test_nan_in_the_series_names_the_row_and_column(tmp_path):
    x = np.ones((50, 2), np.float32)
    x[17, 1] = np.nan
    np.save(tmp_path / "s.npy", x)
    with pytest.raises(InvalidInputError, match=r"row 17.*column 1|column 1.*row 17"):
        load_series(str(tmp_path / "s.npy"))


def test_an_npz_series_is_read_from_x_train(tmp_path):
    x, _ = generated_series(n=500)
    np.savez(tmp_path / "s.npz", X_train=x, X_test=x[:10])
    np.testing.assert_array_equal(load_series(str(tmp_path / "s.npz")).X, x)
    with pytest.raises(InvalidInputError, match="time-column applies to tables"):
        load_series(str(tmp_path / "s.npz"), time_column="t")
    with pytest.raises(InvalidInputError, match="time column 'nope' is not a column"):
        load_series(_csv(tmp_path / "s.csv", [1, 2], [0, 1]), time_column="nope", header=True)
