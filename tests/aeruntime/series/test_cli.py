"""`aeruntime score BUNDLE series.(npy|csv|parquet)` with a series bundle: one output row per input row."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from aeruntime.cli import main as rt_main
from aeruntime.series import alarms
from tests.helpers import needs_pyarrow

from .conftest import W


def _score(bundle, inp, out, *extra, code: int = 0):
    res = CliRunner().invoke(rt_main, ["score", str(bundle), str(inp), "--out", str(out), *extra])
    assert res.exit_code == code, res.output
    return res


def _expected(model, one_shot):
    warm = np.isnan(one_shot)
    labels = (~warm & (one_shot > model.threshold)).astype(np.int8)
    return warm.astype(np.int8), labels, alarms(labels, 2, 3, 5)


@pytest.mark.parametrize("batch", ["7", "100000"])
def test_npy_series_rows_in_equal_rows_out(bundle_dir, model, series, one_shot, tmp_path, batch):
    np.save(tmp_path / "s.npy", series.x)
    res = _score(bundle_dir, tmp_path / "s.npy", tmp_path / "out.npy", "--batch-size", batch)
    rec = np.load(tmp_path / "out.npy", allow_pickle=False)
    assert rec.dtype.names == ("score", "label", "warmup", "alarm") and len(rec) == len(series.x)
    warm, labels, alarm = _expected(model, one_shot)
    np.testing.assert_allclose(rec["score"], one_shot, rtol=1e-6)  # NaN where one_shot is NaN
    np.testing.assert_array_equal(rec["warmup"], warm)
    assert warm[: W - 1].all() and not warm[W - 1 :].any()
    np.testing.assert_array_equal(rec["label"], labels)
    np.testing.assert_array_equal(rec["alarm"], alarm)
    assert f"scored {len(series.x)} rows" in res.output


@needs_pyarrow
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_series_matched_by_name_with_the_time_column_passed_through(
    bundle_dir, model, series, one_shot, tmp_path, suffix
):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    n = 500
    cols = {"ts": np.arange(n, dtype=np.int64), "c": series.x[:n, 2], "a": series.x[:n, 0], "b": series.x[:n, 1]}
    table = pa.table(cols)
    inp = tmp_path / f"s{suffix}"
    (pacsv.write_csv if suffix == ".csv" else pq.write_table)(table, inp)
    _score(bundle_dir, inp, tmp_path / "out.parquet", "--id-column", "ts", "--batch-size", "64")
    out = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert list(out) == ["ts", "score", "label", "warmup", "alarm"] and len(out["ts"]) == n
    assert [int(v) for v in out["ts"]] == list(range(n))  # CSV ids pass through as text
    score = np.array([np.nan if v is None else v for v in out["score"]], np.float32)
    np.testing.assert_allclose(score, one_shot[:n], rtol=1e-4)
    assert out["warmup"] == [1] * (W - 1) + [0] * (n - W + 1)


def test_a_series_shorter_than_the_window_is_refused_and_nothing_written(bundle_dir, series, tmp_path):
    np.save(tmp_path / "short.npy", series.x[: W - 1])
    res = _score(bundle_dir, tmp_path / "short.npy", tmp_path / "out.npy", code=2)
    assert f"the series has {W - 1} rows, fewer than the bundle's window of {W} rows" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "out.npy").exists()


def test_nan_in_the_middle_of_a_series_names_the_row(bundle_dir, series, tmp_path):
    x = series.x[:300].copy()
    x[211, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    res = _score(bundle_dir, tmp_path / "nan.npy", tmp_path / "out.npy", "--batch-size", "50", code=2)
    assert "row 211" in res.output and "NaN" in res.output and not (tmp_path / "out.npy").exists()


def test_wrong_width_is_refused(bundle_dir, series, tmp_path):
    np.save(tmp_path / "w.npy", series.x[:100, :2])
    res = _score(bundle_dir, tmp_path / "w.npy", tmp_path / "out.npy", code=2)
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_csv_on_stdout_marks_the_warmup_rows_as_documented(bundle_dir, model, series, one_shot, tmp_path):
    np.save(tmp_path / "s.npy", series.x[:40])
    res = CliRunner().invoke(rt_main, ["score", str(bundle_dir), str(tmp_path / "s.npy")])
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "score,label,warmup,alarm" and len(lines) == 41
    assert lines[1:W] == ["nan,0,1,0"] * (W - 1)
    np.testing.assert_allclose([float(v.split(",")[0]) for v in lines[W:]], one_shot[W - 1 : 40], rtol=1e-6)


def _demo_series(n: int) -> np.ndarray:
    """The first ``n`` steps of the series ``models/series-dense`` was trained on (models/series_demo.py)."""
    import importlib.util

    from tests.conftest import MODELS

    spec = importlib.util.spec_from_file_location("series_demo", MODELS / "series_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.demo_series()[0][:n]


@pytest.mark.parametrize("batch", ["7", "100000"])
def test_a_decision_series_bundle_adds_the_graphs_p_value(tmp_path, batch):
    """The shipped series bundle decides: ``p_value`` per step, (1 + #{c >= score}) / (n + 1) of that step's own
    score against the calibration scores stored in the graph (numpy), NaN in the warm-up; columns in Spark's
    and ``aescore --stream``'s order."""
    import aeruntime
    from aeruntime.decisions import calibration_scores, conformal_p_values
    from tests.conftest import MODELS

    bundle = MODELS / "series-dense"
    model = aeruntime.load(bundle, providers="cpu")
    x = _demo_series(700).astype(np.float32)
    np.save(tmp_path / "s.npy", x)
    _score(bundle, tmp_path / "s.npy", tmp_path / "out.npy", "--batch-size", batch)
    rec = np.load(tmp_path / "out.npy", allow_pickle=False)
    assert rec.dtype.names == ("score", "label", "p_value", "warmup", "alarm") and len(rec) == len(x)
    w = model.input_shape[0]
    warm = rec["warmup"] == 1
    assert warm[: w - 1].all() and not warm[w - 1 :].any() and np.isnan(rec["p_value"][warm]).all()
    graph = (bundle / model.manifest["graphs"]["scorer"]["file"]).read_bytes()
    cal = calibration_scores(model.manifest, graph)
    assert cal is not None and len(cal) == model.calibration_size
    np.testing.assert_array_equal(rec["p_value"][~warm], conformal_p_values(rec["score"][~warm], cal))
    windows = np.lib.stride_tricks.sliding_window_view(x, w, axis=0).transpose(0, 2, 1)
    score, label, p = model.decide(np.ascontiguousarray(windows))
    np.testing.assert_array_equal(rec["score"][~warm], score)
    np.testing.assert_array_equal(rec["p_value"][~warm], p)
    np.testing.assert_array_equal(rec["label"][~warm], label.astype(np.int8))
    assert rec["p_value"][~warm].min() < 0.05 < rec["p_value"][~warm].max()  # anomalies and normal steps both seen
