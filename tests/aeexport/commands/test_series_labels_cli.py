"""``aeexport run|train SERIES --window W --label-column NAME``: the label column is no feature, windows holding a
labelled anomalous step stay out of training and calibration, and ``run`` reports evaluate's figures on every
test step (the W-1 steps before the test part lead in), checked against aeruntime, scikit-learn and TSB-AD."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, roc_auc_score

import aeruntime
from aeexport.cli import main
from aeexport.data import drop_labelled_windows, labelled_windows, load_series, series_split
from aeruntime.errors import InvalidInputError
from tests.aeexport.report.test_series_evaluate import reference_events
from tests.aeruntime.series.forge import generated_series

N, W = 3000, 20
#: an injected spike in the validation part (steps 1950..2399 of 3000 with the default fractions), and a level
#: shift and a spike in the test part (2400..2999); generated_series' own spikes and level shift lie in training
VAL_SPIKE, TEST_SHIFT, TEST_SPIKE = 2100, (2600, 2660), 2850


def _series() -> tuple[np.ndarray, np.ndarray]:
    x, y = generated_series(N, seed=1)
    x[VAL_SPIKE, 2] += 6.0
    x[TEST_SHIFT[0] : TEST_SHIFT[1], 1] += 3.0
    x[TEST_SPIKE, 0] -= 6.0
    y[[VAL_SPIKE, TEST_SPIKE]] = 1
    y[TEST_SHIFT[0] : TEST_SHIFT[1]] = 1
    return x, y


def _write(path, x, y, labels=None) -> str:
    """A CSV ``t,a,b,y,c``: the label column between features, as a user's table may have it."""
    labels = y if labels is None else labels
    rows = [f"{i},{r[0]!r},{r[1]!r},{v},{r[2]!r}" for i, (r, v) in enumerate(zip(x.tolist(), labels.tolist()))]
    path.write_text("t,a,b,y,c\n" + "\n".join(rows) + "\n")
    return str(path)


def _holds_anomaly(y: np.ndarray, w: int) -> np.ndarray:
    """Brute force: window i (steps i..i+w-1) holds a step labelled 1."""
    return np.array([bool(y[i : i + w].any()) for i in range(len(y) - w + 1)])


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("series-labels")
    x, y = _series()
    csv = _write(d / "s.csv", x, y)
    args = ["run", csv, "--window", str(W), "--time-column", "t", "--label-column", "y", "--epochs", "3"]
    r = CliRunner().invoke(main, [*args, "--out", str(d / "r")])
    assert r.exit_code == 0, r.output
    return d, x.astype(np.float32), y, r.output, json.loads((d / "r" / "summary.json").read_text())


def test_windows_holding_a_labelled_step_stay_out_of_training_and_calibration(labelled_run):
    d, x, y, _, s = labelled_run
    m = aeruntime.load(d / "r" / "bundle", providers="cpu").manifest
    assert m["dataset"]["feature_names"] == ["a", "b", "c"]  # neither the time nor the label column
    v0, t0 = m["dataset"]["series"]["validation_starts_at_row"], m["dataset"]["series"]["test_starts_at_row"]
    assert (v0, t0) == (1950, 2400)
    bad = _holds_anomaly(y, W)
    train_bad, val_bad = int(bad[: v0 - W + 1].sum()), int(bad[v0 : t0 - W + 1].sum())
    assert train_bad > 100 and val_bad == W  # generated_series' level shift and spikes; the one validation spike
    assert m["dataset"]["series"]["labels"] == {
        "anomalous_steps": int(y.sum()),
        "dropped_windows": {"train_windows": train_bad, "val_windows": val_bad},
    }
    assert m["dataset"]["train_rows"] == (v0 - W + 1) - train_bad
    assert m["dataset"]["val_rows"] == (t0 - W + 1 - v0) - val_bad


def test_run_reports_evaluates_figures_on_every_test_step(labelled_run):
    from TSB_AD.evaluation.basic_metrics import generate_curve

    d, x, y, output, s = labelled_run
    model = aeruntime.load(d / "r" / "bundle", providers="cpu")
    t0 = 2400
    want = model.stream().push_many(x)[t0:]  # aeruntime's per-step scores of the whole series, test steps
    saved = np.load(d / "r" / "test_scores.npz", allow_pickle=False)
    np.testing.assert_allclose(saved["score"], want, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(saved["y"], y[t0:])
    np.testing.assert_array_equal(saved["label"], want > model.threshold)
    assert s["test_steps"] == N - t0 and s["test_context_rows"] == W - 1 and s["test_warmup_rows"] == 0
    r = s["series_test"]
    yy = y[t0:]
    assert r["auc_pr"] == pytest.approx(average_precision_score(yy, want), abs=1e-6)
    assert r["auc_roc"] == pytest.approx(roc_auc_score(yy, want), abs=1e-6)
    assert r["vus_pr"] == pytest.approx(generate_curve(yy.astype(int), want.astype(np.float64), W, "opt", 250)[7])
    events = reference_events(yy.tolist(), (want > model.threshold).tolist())  # the shipped rule: k=1 of n=1
    assert {k: r[k] for k in events} == pytest.approx(events)
    assert r["ranges"] == 2 and r["anomalous_steps"] == TEST_SHIFT[1] - TEST_SHIFT[0] + 1
    assert f"AUC-PR {r['auc_pr']:.4f}, AUC-ROC {r['auc_roc']:.4f}, VUS-PR {r['vus_pr']:.4f}" in output
    assert f"of the {N - t0} test steps (the {W - 1} steps before them lead in: 0 warm-up)" in output
    assert f"{r['ranges_caught']} of 2 anomalous ranges caught" in output
    assert "windows holding one left out: " in output


def test_labels_in_memory_and_from_a_file_follow_one_rule(tmp_path):
    x, y = _series()
    ds = load_series(_write(tmp_path / "s.csv", x, y), time_column="t", label_column="y", header=True)
    assert ds.feature_names == ["a", "b", "c"] and ds.y.dtype == np.int8
    np.testing.assert_array_equal(ds.y, y)
    np.testing.assert_allclose(ds.X, x, rtol=1e-7)
    np.testing.assert_array_equal(labelled_windows(y, W), _holds_anomaly(y, W))
    split, (v0, t0) = series_split(ds.X, W, val_fraction=0.15, test_fraction=0.2, stride=3)
    kept, dropped = drop_labelled_windows(split, y, W, (v0, t0))
    bad = _holds_anomaly(y, W)
    np.testing.assert_array_equal(kept.train_rows, [i for i in range(0, v0 - W + 1, 3) if not bad[i]])
    want_val = [i for i in range(v0, t0 - W + 1) if not bad[i]]
    np.testing.assert_array_equal(kept.val, np.stack([ds.X[i : i + W] for i in want_val]))
    assert kept.test is split.test and dropped["val_windows"] == W


@pytest.mark.parametrize(
    ("labels", "extra", "match"),
    [
        (
            "two",
            [],
            r"label column 'y' \(1 = anomalous step\) must be 0 \(normal\) and 1 \(anomaly\), got the values \[0, 1, 2\]",
        ),
        ("ok", ["--anomaly-class", "1"], "--anomaly-class 1 does not apply with --window"),
        ("ok", ["--time-column", "y"], "'y' is given as both the time column and the label column"),
        ("late", [], "every validation window holds a step labelled anomalous"),
    ],
)
def test_bad_labels_exit_2_with_one_line(tmp_path, labels, extra, match):
    x, y = _series()
    lab = y.astype(int)
    if labels == "two":
        lab[5] = 2
    if labels == "late":  # anomalies all through the validation part
        lab[1900::10] = 1
    args = [
        "train",
        _write(tmp_path / "s.csv", x, y, lab),
        "--window",
        str(W),
        "--label-column",
        "y",
        "--epochs",
        "1",
        *extra,
    ]
    r = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "ck")])
    assert r.exit_code == 2, r.output
    assert re.search(match, r.output), r.output
    assert "Traceback" not in r.output and not (tmp_path / "ck").exists()


def test_a_label_column_of_an_npz_is_refused(tmp_path):
    x, _ = _series()
    np.savez(tmp_path / "s.npz", X=x)
    with pytest.raises(InvalidInputError, match=r"--label-column applies to tables \(CSV, Parquet\), not to .npz"):
        load_series(str(tmp_path / "s.npz"), label_column="y")


def test_plot_of_an_unlabelled_series_run_is_refused_before_training(tmp_path):
    x, y = _series()
    csv = _write(tmp_path / "s.csv", x, y)
    r = CliRunner().invoke(
        main, ["run", csv, "--window", "8", "--plot", str(tmp_path / "p.png"), "--out", str(tmp_path / "r")]
    )
    assert r.exit_code == 2 and "--plot needs a labelled test part" in r.output, r.output
    assert not (tmp_path / "r").exists()
