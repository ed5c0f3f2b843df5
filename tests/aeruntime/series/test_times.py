"""The time column of a series file: strictly increasing (else a one-line error naming the row, nothing
written); irregular gaps flagged with a warning naming the first, the scores unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from aeruntime.cli import main as rt_main
from aeruntime.errors import InvalidInputError
from aeruntime.series.times import TimeCheck
from tests.helpers import needs_pyarrow

from . import forge


def _csv(path, x, t):
    rows = [f"{ti},{r[0]!r},{r[1]!r},{r[2]!r}" for ti, r in zip(t, x.tolist())]
    path.write_text("t,a,b,c\n" + "\n".join(rows) + "\n")
    return path


def _run(bundle, inp, out, *extra):
    return CliRunner().invoke(rt_main, ["score", str(bundle), str(inp), "--out", str(out), *extra])


@pytest.mark.parametrize(
    "chunks, error",
    [
        ([[0, 1, 2, 2, 3]], "repeats at row 3"),
        ([[0, 1, 2], [5, 4]], "goes back at row 4"),
        ([[0, 1, 2], [2, 3]], "repeats at row 3"),  # across a chunk boundary
        ([[0, 1, float("nan")]], "row 2 has no time stamp"),
        ([np.array(["2026-01-01T00:00", "2026-01-01T00:01", "2026-01-01T00:00"])], "goes back at row 2"),
        ([np.array(["2026-01-01", "soon"])], "'soon' is not a time stamp"),
        ([np.array(["9", "10", "10"], dtype=object)], "repeats at row 2"),  # CSV text: numbers, not years
    ],
)
def test_time_stamps_must_strictly_increase(chunks, error):
    check = TimeCheck("t")
    with pytest.raises(InvalidInputError, match=error):
        for c in chunks:
            check.check(np.asarray(c))


def test_gaps_are_counted_across_chunks_and_name_the_first_row():
    check = TimeCheck("t")
    t = np.arange(100, dtype=np.float64) * 10
    t[40:] += 25  # step 35 at row 40 (reference step 10)
    t[70:] += 100  # step 110 at row 70
    for i in range(0, 100, 30):
        check.check(t[i : i + 30])
    assert (check.step, check.gaps, check.first_gap) == (10.0, 2, 40)
    assert "2 irregular time step(s)" in check.warning("s.csv") and "the first at row 40" in check.warning("s.csv")
    regular = TimeCheck("t")
    regular.check(np.arange(50) * 2.0 + 0.1 * (np.arange(50) % 2))  # small jitter is not a gap
    assert regular.gaps == 0 and regular.warning("s.csv") is None


@needs_pyarrow
@pytest.mark.parametrize("batch", ["10", "65536"])
def test_score_refuses_a_repeated_time_stamp_and_writes_nothing(bundle_dir, series, tmp_path, batch):
    t = np.arange(len(series.x))
    t[40] = t[39]
    inp = _csv(tmp_path / "s.csv", series.x, t)
    res = _run(bundle_dir, inp, tmp_path / "out.csv", "--time-column", "t", "--batch-size", batch)
    assert res.exit_code != 0 and "repeats at row 40" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out.csv").exists()


@needs_pyarrow
def test_score_flags_gaps_and_keeps_the_scores(bundle_dir, series, one_shot, tmp_path):
    t = np.arange(len(series.x)) * 10
    t[1234:] += 50
    inp = _csv(tmp_path / "s.csv", series.x, t)
    res = _run(bundle_dir, inp, tmp_path / "out.npy", "--time-column", "t", "--batch-size", "500")
    assert res.exit_code == 0, res.output
    assert "1 irregular time step(s) in column 't'" in res.output and "the first at row 1234" in res.output
    rec = np.load(tmp_path / "out.npy", allow_pickle=False)
    assert rec.dtype.names == ("score", "label", "warmup", "alarm")  # the time column is not copied
    np.testing.assert_allclose(rec["score"], one_shot, rtol=1e-6)
    res = _run(bundle_dir, inp, tmp_path / "ids.csv", "--time-column", "t", "--id-column", "t")
    assert res.exit_code == 0, res.output
    first = (tmp_path / "ids.csv").read_text().splitlines()[1].split(",")
    assert first[0].strip('"') == "0" and len(first) == 5  # t copied, then score, label, warmup, alarm


@needs_pyarrow
def test_the_bundles_recorded_time_column_is_checked(series, tmp_path, monkeypatch):
    section = forge.series_section
    monkeypatch.setattr(forge, "series_section", lambda w, alarm: {**section(w, alarm), "time_column": "t"})
    bundle = forge.make_series_bundle(tmp_path / "b", series.mu, series.scale, 16, names=["a", "b", "c"])
    t = np.arange(len(series.x))
    t[100] = 5
    res = _run(bundle, _csv(tmp_path / "s.csv", series.x, t), tmp_path / "out.csv")
    assert res.exit_code != 0 and "time column 't' goes back at row 100" in res.output
    np.save(tmp_path / "s.npy", series.x)  # no time column in the file: nothing to check
    assert _run(bundle, tmp_path / "s.npy", tmp_path / "out.npy").exit_code == 0


@needs_pyarrow
def test_the_readme_example_series_scores_with_its_time_column(tmp_path):
    """examples/make_series.py (the README's series): regular time stamps, one output row per step."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    subprocess.run(
        [sys.executable, str(ROOT / "examples/make_series.py"), "--out", str(tmp_path / "s.csv")], check=True
    )
    plain = np.genfromtxt(tmp_path / "s.csv", delimiter=",", names=True)
    labelled = np.genfromtxt(tmp_path / "s_labelled.csv", delimiter=",", names=True)
    assert plain.dtype.names == ("t", "a", "b", "c") and labelled.dtype.names[-1] == "anomaly"
    x = np.stack([plain["a"], plain["b"], plain["c"]], axis=1)
    np.testing.assert_array_equal(labelled["a"], plain["a"])
    y = labelled["anomaly"]
    assert not y[: 2 * len(y) // 3].any() and y.sum() > 100  # anomalies only in the last third
    bundle = forge.make_series_bundle(tmp_path / "b", x[:1000].mean(0), x[:1000].std(0), 16, names=["a", "b", "c"])
    res = _run(bundle, tmp_path / "s.csv", tmp_path / "out.csv", "--time-column", "t")
    assert res.exit_code == 0 and "irregular" not in res.output, res.output
    assert len((tmp_path / "out.csv").read_text().splitlines()) == len(x) + 1
