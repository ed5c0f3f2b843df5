"""Per-step causal scores of a series bundle: window-end rule, warm-up, chunk boundaries, streams."""

from __future__ import annotations

import numpy as np
import pytest

import aeruntime
from aeruntime.errors import InvalidInputError
from aeruntime.series import WindowScorer, alarms, score_series, sliding_windows

from .conftest import W
from .forge import reference_scores


def test_sliding_windows_are_a_view_of_every_window():
    rows = np.arange(30, dtype=np.float32).reshape(10, 3)
    win = sliding_windows(rows, 4)
    assert win.shape == (7, 4, 3) and np.shares_memory(win, rows)
    for t in range(7):
        np.testing.assert_array_equal(win[t], rows[t : t + 4])


def test_rows_in_equal_rows_out_with_warmup_and_the_window_end_rule(model, series, one_shot):
    assert one_shot.shape == (len(series.x),) and one_shot.dtype == np.float32
    assert np.isnan(one_shot[: W - 1]).all() and np.isfinite(one_shot[W - 1 :]).all()
    ref = reference_scores(series.x, series.mu, series.scale, W)
    np.testing.assert_allclose(one_shot[W - 1 :], ref[W - 1 :], rtol=1e-4, atol=1e-6)
    # the score of row t is that of the window ending at t, computed by the bundle itself
    t = 1234
    np.testing.assert_allclose(one_shot[t], model.score(series.x[None, t - W + 1 : t + 1])[0], rtol=1e-6)
    # the injected anomalies score above the threshold, the quiet start does not
    assert one_shot[series.y == 1].max() > model.threshold > np.nanmax(one_shot[:150])


class _Recorder:
    """A stand-in model that records every window it is fed and scores it exactly (numpy, per window)."""

    def __init__(self, window: int, columns: int) -> None:
        self.input_shape, self.fed = (window, columns), []

    def score(self, windows: np.ndarray) -> np.ndarray:
        assert windows.flags.c_contiguous and windows.shape[1:] == self.input_shape
        self.fed.append(windows.copy())
        return np.array([float(np.dot(w.ravel(), np.arange(w.size))) for w in windows], np.float32)


@pytest.mark.parametrize("chunk", [1, 7, W - 1, W, W + 1, 999])
def test_a_chunk_boundary_changes_nothing(model, series, one_shot, chunk):
    # the windows fed are exactly those of the series in one piece, whatever the chunks
    whole, parts = _Recorder(W, 3), _Recorder(W, 3)
    np.testing.assert_array_equal(
        score_series(parts, series.x, chunk_rows=chunk), score_series(whole, series.x, chunk_rows=len(series.x))
    )
    np.testing.assert_array_equal(np.concatenate(parts.fed), np.concatenate(whole.fed))
    np.testing.assert_array_equal(np.concatenate(whole.fed), sliding_windows(series.x, W))
    # with the bundle: onnxruntime's kernels may round the last bit differently per batch size
    np.testing.assert_allclose(score_series(model, series.x, chunk_rows=chunk), one_shot, rtol=1e-6)


def test_stream_push_and_push_many_equal_the_batch_scores(model, series, one_shot):
    stream = model.stream()
    pushed = [stream.push(row) for row in series.x[:100]]
    assert pushed[: W - 1] == [None] * (W - 1) and all(isinstance(s, float) for s in pushed[W - 1 :])
    np.testing.assert_allclose(np.array(pushed[W - 1 :]), one_shot[W - 1 : 100], rtol=1e-6)
    # then batches of uneven sizes, some shorter than the window
    got, start = [], 100
    for size in (3, 1, 40, W, 500, 7):
        got.append(stream.push_many(series.x[start : start + size]))
        start += size
    np.testing.assert_allclose(np.concatenate(got), one_shot[100:start], rtol=1e-6)
    assert stream.rows == start
    again = model.stream().push_many(series.x[:50])
    assert np.isnan(again[: W - 1]).all()
    np.testing.assert_allclose(again[W - 1 :], one_shot[W - 1 : 50], rtol=1e-6)


def test_stream_labels_and_alarms_follow_the_manifest_rule(model, series, one_shot):
    labels = np.where(np.isnan(one_shot), 0, one_shot > model.threshold).astype(np.int8)
    want = alarms(labels, k=2, n=3, hold_off=5)
    stream, got_labels, got_alarms = model.stream(), [], []
    for row in series.x[:2000]:
        stream.push(row)
        got_labels.append(stream.label)
        got_alarms.append(stream.alarm)
    np.testing.assert_array_equal(got_labels, labels[:2000])
    np.testing.assert_array_equal(got_alarms, want[:2000])
    assert 0 < sum(got_alarms) < sum(got_labels)  # the rule thins the labels out


def _stream_after(model, rows):
    s = model.stream()
    s.push_many(rows)
    return s


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros(2, np.float32), r"stream row 20 has shape \(2,\), expected \(3,\).*the stream is unchanged"),
        (np.zeros((1, 3), np.float32), r"stream row 20 has shape \(1, 3\), expected \(3,\)"),
        (np.array([0.0, np.nan, 1.0]), r"stream: row 20, column 1 holds a NaN.*The stream is unchanged"),
        (np.array([np.inf, 0.0, 1.0]), r"stream: row 20, column 0 holds .*infinite"),
    ],
)
def test_a_refused_row_names_its_index_and_leaves_the_stream_unchanged(model, series, one_shot, bad, match):
    stream = _stream_after(model, series.x[:20])
    label, alarm = stream.label, stream.alarm
    with pytest.raises(InvalidInputError, match=match):
        stream.push(bad)
    assert (stream.rows, stream.label, stream.alarm) == (20, label, alarm)
    # the stream goes on as if the row had never been pushed
    np.testing.assert_allclose(stream.push_many(series.x[20:60]), one_shot[20:60], rtol=1e-6)


def _scorer_after(model, rows):
    scorer = WindowScorer(model, "feed.npy")
    scorer.score(rows)
    return scorer


@pytest.mark.parametrize(
    ("make", "feed", "nan_match", "width_match"),
    [
        (
            _stream_after,
            "push_many",
            r"stream: row 34, column 2 holds a NaN",
            r"stream rows from 30 has shape \(10, 2\)",
        ),
        (
            _scorer_after,
            "score",
            r"feed.npy: row 34, column 2 holds a NaN",
            r"feed.npy: rows from 30 have shape \(10, 2\)",
        ),
    ],
)
def test_a_batch_with_a_bad_row_is_refused_whole(model, series, one_shot, make, feed, nan_match, width_match):
    """push_many (and the file scorer) are all or nothing: the error names the row, the state is kept."""
    fed = make(model, series.x[:30])
    rows = series.x[30:40].copy()
    rows[4, 2] = np.nan
    with pytest.raises(InvalidInputError, match=nan_match):
        getattr(fed, feed)(rows)
    with pytest.raises(InvalidInputError, match=width_match):
        getattr(fed, feed)(series.x[30:40, :2])
    assert fed.rows == 30
    np.testing.assert_allclose(getattr(fed, feed)(series.x[30:80]), one_shot[30:80], rtol=1e-6)


def test_stream_needs_a_series_bundle(shipped_dense):
    with pytest.raises(InvalidInputError, match=r"stream\(\) needs a series bundle .* use score\(rows\)"):
        aeruntime.load(shipped_dense, providers="cpu").stream()


def test_decide_gives_the_p_value_of_the_window_ending_at_each_step_across_chunks():
    """WindowScorer.decide on the shipped series bundle (a decision scorer): chunks of 7 rows (windows spanning
    chunks, a first chunk all warm-up) give the graph's p_value of each step's window, NaN in the warm-up, and
    the same scores as WindowScorer.score."""
    import runpy

    from tests.conftest import ROOT

    model = aeruntime.load(ROOT / "models" / "series-dense", providers="cpu")
    w = model.input_shape[0]
    x = runpy.run_path(str(ROOT / "models" / "series_demo.py"))["demo_series"]()[0][3700:3900].astype(np.float32)
    scorer = WindowScorer(model)
    got = [scorer.decide(x[i : i + 7]) for i in range(0, len(x), 7)]
    s, p = (np.concatenate([g[k] for g in got]) for k in (0, 1))
    want = model.p_value(np.ascontiguousarray(sliding_windows(x, w)))
    assert np.isnan(p[: w - 1]).all() and np.isnan(s[: w - 1]).all()
    np.testing.assert_array_equal(p[w - 1 :], want)
    assert want.min() < 0.01 < want.max()  # the level shift at 3880 is in this stretch
    np.testing.assert_array_equal(s, score_series(model, x))
