"""Issue 24: the first screen of ``aeexport run``: the test lines lead with ROC-AUC, recall and FPR at the
stored threshold and the best recall at 1% / 5% / 10% FPR; the threshold line says on how many rows it rests."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score, roc_curve

from aeexport.cli import main
from aeexport.commands._run import _run_rows
from aeexport.report import recall_at_fpr


def _scores(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(500) < 0.3).astype(np.int64)
    s = rng.normal(size=500) + 1.5 * y
    s[:40] = np.round(s[:40], 1)  # ties
    return s, y


def test_recall_at_fpr_is_the_roc_curve_best_recall_within_each_rate():
    s, y = _scores()
    got = recall_at_fpr(s, y)
    assert list(got) == ["0.01", "0.05", "0.1"]
    fpr, tpr, _ = roc_curve(y, s)  # sklearn's curve, intermediate points dropped
    for key, rate in zip(got, (0.01, 0.05, 0.10)):
        assert got[key] == pytest.approx(tpr[fpr <= rate].max())
        # brute force: every threshold "score >= t" over the distinct scores
        best = max(((s >= t)[y == 1].mean() for t in np.unique(s) if (s >= t)[y == 0].mean() <= rate), default=0.0)
        assert got[key] == pytest.approx(best)


def _summary(**over):
    s = {
        "dataset": "digits",
        "rows": {"rows": 1797, "train_rows": 811, "val_rows": 485, "test_rows": 501, "anomaly_class": 0},
        "model": "dense",
        "members": 1,
        "epochs_run": 183,
        "best_epoch": 163,
        "epoch_cap": 300,
        "stopped_at_cap": False,
        "threshold": 0.0349,
        "threshold_method": "percentile",
        "threshold_params": {"percentile": 96.0},
        "threshold_calibration_rows": 485,
        "expected_false_positive_rate": 0.04,
        "expected_false_positive_rate_interval": {"level": 0.9, "low": 0.0275, "high": 0.0594},
        "score": "mse",
        "parity_max_abs": 1e-6,
        "test_anomaly_rate": 0.37,
        "test_true_anomaly_share": 0.355,
        "test_normal_rows": 323,
        "test_anomaly_rows": 178,
        "roc_auc": 0.9821,
        "average_precision": 0.95,
        "recall": 0.955,
        "false_positive_rate": 0.059,
        "recall_at_fpr": {"0.01": 0.371, "0.05": 0.955, "0.1": 1.0},
        "threshold_hint": {"threshold": 0.03, "recall": 0.97, "false_positive_rate": 0.08},
        "seconds": 20.0,
        "bundle": "runs/digits/bundle",
    }
    return {**s, **over}


def test_the_first_screen_in_plain_words():
    rows = dict(_run_rows(_summary()))
    assert "note" not in rows and "hint" not in rows  # the budget finished; no advice against the defaults
    assert rows["threshold"] == (
        "0.0349 (percentile 96 of 485 held-out normal rows, score mse); expected FPR 4.0%, "
        "90% interval 2.8% to 5.9% from that many rows"
    )
    assert rows["test"] == (
        "ROC-AUC 0.982; the stored threshold catches 95.5% of the 178 anomalies (recall) and flags 5.9% of "
        "the 323 normal rows (FPR)"
    )
    assert rows[""] == "best recall at FPR 1% / 5% / 10%: 37.1% / 95.5% / 100.0%; AP 0.950"
    capped = dict(_run_rows(_summary(stopped_at_cap=True)))
    assert capped["note"].startswith("training stopped at the epoch cap (--epochs 300)")
    unlabelled = {k: v for k, v in _summary().items() if k not in ("roc_auc", "recall_at_fpr")}
    assert dict(_run_rows(unlabelled))["test"].startswith("flagged 37.0% of the test rows (no labels")


@pytest.mark.slow
def test_run_digits_figures_are_those_of_its_stored_scores(tmp_path):
    """The summary's figures against sklearn on ``test_scores.npz``, and the threshold section of the
    manifest: percentile 96 on the image preset's 485 held-out rows, with its FPR interval."""
    out = tmp_path / "r"
    r = CliRunner().invoke(main, ["run", "digits", "--out", str(out), "--epochs", "3", "-q", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    t = np.load(out / "test_scores.npz", allow_pickle=False)
    flagged = t["score"] > s["threshold"]
    assert s["recall"] == pytest.approx(flagged[t["y"] == 1].mean())
    assert s["false_positive_rate"] == pytest.approx(flagged[t["y"] == 0].mean())
    assert s["roc_auc"] == pytest.approx(roc_auc_score(t["y"], t["score"]))
    fpr, tpr, _ = roc_curve(t["y"], t["score"])
    assert s["recall_at_fpr"] == pytest.approx({f"{a:g}": tpr[fpr <= a].max() for a in (0.01, 0.05, 0.1)})
    assert (s["test_normal_rows"], s["test_anomaly_rows"]) == (323, 178)
    assert s["threshold_params"] == {"percentile": 96.0} and s["threshold_calibration_rows"] == 485
    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    assert manifest["threshold"]["calibration_rows"] == 485
    assert manifest["threshold"]["expected_false_positive_rate_interval"] == s["expected_false_positive_rate_interval"]
    import aeruntime

    assert aeruntime.load(out / "bundle", providers="cpu").threshold == pytest.approx(s["threshold"])
    # an explicit threshold option wins over the preset's percentile
    r = CliRunner().invoke(
        main, ["run", "digits", "--out", str(tmp_path / "p"), "--epochs", "1", "-q", "--json", "--percentile", "95"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["threshold_params"] == {"percentile": 95.0}
