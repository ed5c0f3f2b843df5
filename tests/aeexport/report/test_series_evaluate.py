"""`aeexport evaluate` on a series bundle: per-step metrics against scikit-learn and TSB-AD called
directly, event figures against a plain-Python reference, the CLI table and --json, bad input."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, roc_auc_score

import aeruntime
from aeexport.cli import main
from aeexport.report import evaluate_series, event_figures
from aeruntime.errors import AeError, InvalidInputError
from aeruntime.series import alarms as alarm_rule
from tests.aeruntime.series.forge import generated_series, make_series_bundle, reference_scores

W = 16
ALARM = {"k": 2, "n": 3, "hold_off": 5}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A forged series bundle (threshold 1.5, alarm 2 of 3, hold-off 5) and a labelled series as CSV and .npz."""
    x, y = generated_series(n=2000, seed=3)
    mu, scale = x[:500].mean(0), x[:500].std(0)
    d = tmp_path_factory.mktemp("series_eval")
    bundle = make_series_bundle(d / "bundle", mu, scale, W, threshold=1.5, alarm=ALARM, names=["a", "b", "c"])
    rows = [f"{i},{r[0]!r},{r[1]!r},{r[2]!r},{int(v)}" for i, (r, v) in enumerate(zip(x.tolist(), y))]
    (d / "series.csv").write_text("t,a,b,c,anomaly\n" + "\n".join(rows) + "\n")
    np.savez(d / "series.npz", X_test=x, y_test=y)  # no training part before it: W-1 warm-up steps
    ref = reference_scores(x, mu, scale, W)
    return bundle, d, x, y, ref


def reference_events(labels, alarms):
    """Plain-Python event figures: ranges of consecutive 1s, caught if an alarm lies inside, delay to it."""
    ranges, start = [], None
    for i, v in enumerate([*labels, 0]):
        if v and start is None:
            start = i
        if not v and start is not None:
            ranges.append((start, i))
            start = None
    delays = []
    for a, b in ranges:
        for i in range(a, b):
            if alarms[i]:
                delays.append(i - a)
                break
    normal = sum(1 for v in labels if not v)
    false = sum(1 for v, a in zip(labels, alarms) if a and not v)
    delays.sort()
    mid = len(delays) // 2
    median = None if not delays else (delays[mid] if len(delays) % 2 else (delays[mid - 1] + delays[mid]) / 2)
    return {
        "ranges": len(ranges),
        "ranges_caught": len(delays),
        "delay_mean": sum(delays) / len(delays) if delays else None,
        "delay_median": median,
        "false_alarms": false,
        "normal_steps": normal,
        "false_alarms_per_10k": 10000 * false / normal if normal else None,
    }


@pytest.mark.parametrize(
    "labels, alarms",
    [
        ([0, 1, 1, 1, 0, 0, 1, 1, 0, 0], [0, 0, 1, 0, 0, 1, 0, 0, 0, 1]),  # caught after 1 step, missed, 2 false
        ([1, 1, 0, 0, 1], [1, 0, 0, 0, 1]),  # ranges at both ends, caught at once
        ([0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1], [1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1]),  # delays 3, 0, 1
        ([0, 1, 1, 0], [0, 0, 0, 0]),  # nothing caught: no delay
        ([1, 1, 1], [0, 1, 1]),  # no normal step
    ],
)
def test_event_figures_match_a_plain_python_reference(labels, alarms):
    got = event_figures(np.array(labels), np.array(alarms))
    want = reference_events(labels, alarms)
    assert got == pytest.approx(want) if want["delay_mean"] is not None else got == want


def test_series_metrics_match_sklearn_tsbad_and_the_reference_events(case):
    from TSB_AD.evaluation.basic_metrics import generate_curve

    bundle, d, x, y, ref = case
    model = aeruntime.load(bundle, providers="cpu")
    report, scores, labels = evaluate_series(model, d / "series.npz")
    assert report["warmup_rows"] == W - 1 and report["scored"] == len(x) - (W - 1) and report["steps"] == len(x)
    assert np.isnan(scores[: W - 1]).all() and np.allclose(scores[W - 1 :], ref[W - 1 :], rtol=1e-4, atol=1e-5)
    s, yy = ref[W - 1 :], y[W - 1 :]
    assert report["auc_pr"] == pytest.approx(average_precision_score(yy, s), abs=1e-4)
    assert report["auc_roc"] == pytest.approx(roc_auc_score(yy, s), abs=1e-4)
    assert report["vus_pr"] == pytest.approx(generate_curve(yy.astype(int), s, W, "opt", 250)[7], abs=1e-3)
    assert 0 < report["vus_pr"] < 1
    # events: the runtime's alarm rule over the whole series (warm-up labels 0), warm-up rows dropped after
    alarm = alarm_rule(np.where(np.isnan(ref), 0, ref > 1.5), **ALARM)[W - 1 :]
    want = reference_events(yy.tolist(), alarm.tolist())
    assert {k: report[k] for k in want} == pytest.approx(want)
    assert want["ranges"] >= 5 and want["ranges_caught"] >= 1  # the generated spikes and level shift


SPLIT = 900  # the training part of the split .npz: the level shift at 1000-1100 lies after it


def test_the_training_tail_is_prepended_so_no_test_step_is_warm_up(case, tmp_path):
    """An .npz with X_train before X_test: its last W-1 rows are context, every test step is scored, the
    scores are aeruntime's on the concatenated series beyond the prepended rows."""
    bundle, d, x, y, ref = case
    np.savez(tmp_path / "split.npz", X_train=x[:SPLIT], X_test=x[SPLIT:], y_test=y[SPLIT:])
    model = aeruntime.load(bundle, providers="cpu")
    report, scores, labels = evaluate_series(model, tmp_path / "split.npz")
    assert report["warmup_rows"] == 0 and report["context_rows"] == W - 1
    assert report["steps"] == report["scored"] == len(x) - SPLIT == len(scores)
    joined = np.concatenate([x[SPLIT - (W - 1) : SPLIT], x[SPLIT:]])
    pushed = model.stream().push_many(joined)  # aeruntime's stream on the concatenated series
    assert np.isnan(pushed[: W - 1]).all() and not np.isnan(scores).any()
    np.testing.assert_allclose(scores, pushed[W - 1 :], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(scores, ref[SPLIT:], rtol=1e-4, atol=1e-5)  # numpy's windows of the whole series
    yy = y[SPLIT:]
    np.testing.assert_array_equal(labels, yy)
    assert report["auc_pr"] == pytest.approx(average_precision_score(yy, ref[SPLIT:]), abs=1e-4)
    assert report["auc_roc"] == pytest.approx(roc_auc_score(yy, ref[SPLIT:]), abs=1e-4)
    # alarms: the rule runs through the context (its state carries into the test part)
    r = ref[SPLIT - (W - 1) :]
    alarm = alarm_rule(np.where(np.isnan(r), 0, r > 1.5), **ALARM)[W - 1 :]
    want = reference_events(yy.tolist(), alarm.tolist())
    assert {k: report[k] for k in want} == pytest.approx(want)
    text = CliRunner().invoke(main, ["evaluate", str(bundle), str(tmp_path / "split.npz")])
    assert text.exit_code == 0, text.output
    assert (
        f"{len(x) - SPLIT} (0 warm-up rows excluded, {len(x) - SPLIT} scored); the last {W - 1} training rows "
        "before them prepended as context" in text.output
    )


def test_a_short_training_part_leaves_the_rest_as_warm_up_and_a_bad_one_is_refused(case, tmp_path):
    bundle, d, x, y, ref = case
    model = aeruntime.load(bundle, providers="cpu")
    np.savez(tmp_path / "short.npz", X_train=x[SPLIT - 5 : SPLIT], X_test=x[SPLIT:], y_test=y[SPLIT:])
    report, scores, _ = evaluate_series(model, tmp_path / "short.npz")
    assert report["context_rows"] == 5 and report["warmup_rows"] == W - 1 - 5
    assert np.isnan(scores[: W - 6]).all()
    np.testing.assert_allclose(scores[W - 6 :], reference_scores(x[SPLIT - 5 :], *_mu_scale(x), W)[W - 1 :], rtol=1e-4)
    np.savez(tmp_path / "wide.npz", X_train=np.hstack([x, x])[:SPLIT], X_test=x[SPLIT:], y_test=y[SPLIT:])
    with pytest.raises(
        InvalidInputError, match=r"X_train: the training part has shape \(900, 6\), expected \(steps, 3\)"
    ):
        evaluate_series(model, tmp_path / "wide.npz")
    bad = x[:SPLIT].copy()
    bad[SPLIT - 3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X_train=bad, X_test=x[SPLIT:], y_test=y[SPLIT:])
    with pytest.raises(InvalidInputError, match=f"X_train.*row {SPLIT - 3}.*NaN"):
        evaluate_series(model, tmp_path / "nan.npz")


def _mu_scale(x):
    return x[:500].mean(0), x[:500].std(0)


def test_cli_table_and_json_on_a_csv_with_a_label_column(case):
    bundle, d, *_ = case
    csv = str(d / "series.csv")
    out = CliRunner().invoke(main, ["evaluate", str(bundle), csv, "--label-column", "anomaly", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    npz, _, _ = evaluate_series(aeruntime.load(bundle, providers="cpu"), d / "series.npz")
    for key in ("auc_pr", "auc_roc", "vus_pr", "ranges_caught", "false_alarms", "warmup_rows"):
        assert report[key] == pytest.approx(npz[key], abs=1e-6), key  # the time column t is not a feature
    text = CliRunner().invoke(main, ["evaluate", str(bundle), csv, "--label-column", "anomaly"])
    assert text.exit_code == 0, text.output
    assert f"{W - 1} warm-up rows excluded" in text.output
    assert f"VUS-PR     {report['vus_pr']:.4f}" in text.output
    assert f"{report['ranges_caught']} of {report['ranges']} anomalous ranges caught" in text.output


def test_bad_series_input_is_a_one_line_error(case, tmp_path):
    bundle, d, x, y, _ = case
    model = aeruntime.load(bundle, providers="cpu")
    with pytest.raises(InvalidInputError, match="per-step label column"):
        evaluate_series(model, d / "series.csv")
    np.savez(tmp_path / "short.npz", X_test=x[:10], y_test=y[:10])
    with pytest.raises(InvalidInputError, match="fewer than the bundle's window of 16"):
        evaluate_series(model, tmp_path / "short.npz")
    np.savez(tmp_path / "wide.npz", X_test=np.hstack([x, x]), y_test=y)
    with pytest.raises(InvalidInputError, match=r"expected \(steps, 3\)"):
        evaluate_series(model, tmp_path / "wide.npz")
    np.savez(tmp_path / "keys.npz", rows=x)
    with pytest.raises(InvalidInputError, match="expected arrays X_test and y_test"):
        evaluate_series(model, tmp_path / "keys.npz")
    out = CliRunner().invoke(main, ["evaluate", str(bundle), str(d / "series.csv")])
    assert out.exit_code != 0 and "--label-column" in out.output and "Traceback" not in out.output


def test_vus_pr_without_tsbad_names_the_install(case, monkeypatch):
    bundle, d, *_ = case
    monkeypatch.setitem(sys.modules, "TSB_AD.evaluation.basic_metrics", None)
    with pytest.raises(AeError, match=r'pip install --no-deps "tsb-ad>=1.5"'):
        evaluate_series(aeruntime.load(bundle, providers="cpu"), d / "series.npz")
