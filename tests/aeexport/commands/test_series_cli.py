"""``aeexport train|run DATA --window``: what it prints, and bad series refused with one line and exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeexport.cli import main
from aeexport.settings import SERIES_KIND
from tests.aeruntime.series.forge import generated_series


@pytest.fixture(scope="module")
def csv_series(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("series-cli")
    x, _ = generated_series(n=1500)
    lines = ["t,a,b,c"] + [f"{i},{r[0]!r},{r[1]!r},{r[2]!r}" for i, r in enumerate(x.tolist())]
    (tmp / "s.csv").write_text("\n".join(lines) + "\n")
    return tmp / "s.csv"


def test_train_window_auto_prints_the_choice_then_export_writes_a_series_bundle(csv_series, tmp_path):
    r = CliRunner().invoke(
        main,
        ["train", str(csv_series), "--window", "auto", "--time-column", "t", "--model", "series-tcn"]
        + ["--epochs", "2", "--stride", "2", "--out", str(tmp_path / "ck"), "-q"],
    )
    assert r.exit_code == 0, r.output
    assert "window     25 (period 25 of column 0's autocorrelation), stride 2; validation from row 1275" in r.output
    assert "trained series-tcn" in r.output
    r = CliRunner().invoke(main, ["export", str(tmp_path / "ck"), "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    m = aeruntime.load(tmp_path / "b", providers="cpu").manifest
    assert m["series"]["stride"] == 2 and m["series"]["time_column"] == "t" and m["input"]["shape"] == [25, 3]


def _bad(tmp_path, rows: list[str]) -> str:
    (tmp_path / "bad.csv").write_text("\n".join(["t,a"] + rows) + "\n")
    return str(tmp_path / "bad.csv")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--window", "0"], "expected 'auto' or an integer >= 1, got '0'"),
        (["--window", "8", "--alarm", "3/2"], "expected K/N with 1 <= K <= N"),
        (["--stride", "2"], "--stride apply to series: add --window W or --window auto"),
        (["--window", "8", "--model", "dense"], "model kind 'dense' takes rows"),
        (["--window", "64"], "the series has 40 rows, fewer than the window 64"),
        (["--window", "4", "--time-column", "t"], "time column 't' goes backwards at row 7"),
    ],
)
def test_bad_series_options_exit_2_with_one_line(tmp_path, args, match):
    rows = [f"{i if i != 7 else 2},{np.sin(i / 3):.4f}" for i in range(40)]
    r = CliRunner().invoke(main, ["train", _bad(tmp_path, rows), *args, "--out", str(tmp_path / "ck")])
    assert r.exit_code == 2, r.output
    assert match in r.output and "Traceback" not in r.output
    assert not (tmp_path / "ck").exists()  # nothing written


def test_run_json_records_the_window_and_its_reason(csv_series, tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "run",
            str(csv_series),
            "--window",
            "auto",
            "--time-column",
            "t",
            "--epochs",
            "2",
            "--json",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.output[r.output.index("{") :])
    assert s["model"] == SERIES_KIND == "series-tcn"  # the default kind of --window (the cross-check's winner)
    assert s["rows"]["series"]["window"] == 25 and s["rows"]["series"]["rule"] == "period"
    # every test step scored, the W-1 steps before the test part leading in: aeruntime's scores of the whole series
    t0 = s["rows"]["series"]["test_starts_at_row"]
    x = np.loadtxt(csv_series, delimiter=",", skiprows=1, usecols=(1, 2, 3), dtype=np.float32)
    model = aeruntime.load(tmp_path / "r" / "bundle", providers="cpu")
    saved = np.load(tmp_path / "r" / "test_scores.npz", allow_pickle=False)
    np.testing.assert_allclose(saved["score"], model.stream().push_many(x)[t0:], rtol=1e-6, atol=1e-7)
    assert s["test_steps"] == len(x) - t0 == len(saved["score"]) and s["test_warmup_rows"] == 0
    assert s["test_anomaly_rate"] == pytest.approx(np.mean(saved["score"] > model.threshold))
