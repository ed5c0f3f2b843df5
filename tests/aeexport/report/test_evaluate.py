"""Evaluation through aeruntime, explain, score definitions and the `evaluate` CLI."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

import aeruntime
from aeexport.cli import main
from aeexport.report import evaluate_bundle, evaluate_scores
from aeexport.settings import ExportOptions, ThresholdSpec
from aeruntime.errors import InvalidInputError


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, digits_split):
    """digits test split (digit 0 = anomaly) as .npz and .csv files with labels."""
    d = tmp_path_factory.mktemp("eval")
    X, y = digits_split.test, digits_split.y_test
    np.savez(d / "test.npz", X=X, y=y)
    header = ",".join([f"f{i}" for i in range(X.shape[1])] + ["label"])
    rows = [",".join(map(str, [*r.tolist(), int(v)])) for r, v in zip(X, y)]
    (d / "test.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return d, X, y


def test_evaluate_scores_hand_checked():
    s = np.array([0.1, 0.4, 0.35, 0.8])
    y = np.array([0, 0, 1, 1])
    r = evaluate_scores(s, y, threshold=0.3)
    assert r["roc_auc"] == pytest.approx(0.75)
    # ranked 0.8 (1), 0.4 (0), 0.35 (1), 0.1 (0): AP = 0.5 * 1 + 0.5 * 2/3
    assert r["average_precision"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == 1.0 and r["f1"] == pytest.approx(0.8)
    assert r["confusion"] == {"tp": 2, "fp": 1, "tn": 1, "fn": 0}
    assert r["false_positive_rate"] == 0.5


def test_evaluate_agrees_with_sklearn(dense_bundle, labelled):
    d, X, y = labelled
    report, scores, labels = evaluate_bundle(dense_bundle, d / "test.npz")
    model = aeruntime.load(dense_bundle, providers="cpu")
    np.testing.assert_array_equal(scores, model.score(X))  # deployed graphs, not torch
    pred = scores > model.threshold
    assert report["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert report["average_precision"] == pytest.approx(average_precision_score(y, scores))
    assert report["precision"] == pytest.approx(precision_score(y, pred))
    assert report["recall"] == pytest.approx(recall_score(y, pred))
    assert report["f1"] == pytest.approx(f1_score(y, pred))
    assert report["threshold"] == model.threshold and report["threshold_method"] == "percentile"
    # CSV with a label column gives the same report
    report_csv, _, _ = evaluate_bundle(dense_bundle, d / "test.csv", label_column="label")
    assert report_csv["roc_auc"] == pytest.approx(report["roc_auc"], abs=1e-6)


def test_threshold_override(dense_bundle, labelled):
    d, X, y = labelled
    model = aeruntime.load(dense_bundle, providers="cpu", threshold=0.123)
    assert model.threshold == 0.123
    np.testing.assert_array_equal(model.predict(X), (model.score(X) > 0.123).astype(np.int8))
    assert model.info()["threshold"] == 0.123
    median = float(np.median(model.score(X)))
    r, _, _ = evaluate_bundle(dense_bundle, d / "test.npz", threshold=median)
    assert r["threshold_method"] == "override" and r["threshold"] == median
    assert r["flagged_share"] == pytest.approx(0.5, abs=0.01)


def test_bad_evaluation_input(dense_bundle, labelled, tmp_path):
    d, X, y = labelled
    y3 = y.astype(np.int64).copy()
    y3[:3] = 2
    np.savez(tmp_path / "three.npz", X=X, y=y3)
    with pytest.raises(InvalidInputError, match=r"must be 0 \(normal\) and 1 \(anomaly\), got the values \[0, 1, 2\]"):
        evaluate_bundle(dense_bundle, tmp_path / "three.npz")
    with pytest.raises(InvalidInputError, match=r"label column 'nope' not found; the columns are \['f0'"):
        evaluate_bundle(dense_bundle, d / "test.csv", label_column="nope")
    np.savez(tmp_path / "narrow.npz", X=X[:, :5], y=y)
    with pytest.raises(InvalidInputError, match=r"rows have 5 features .* the bundle expects 64"):
        evaluate_bundle(dense_bundle, tmp_path / "narrow.npz")
    np.savez(tmp_path / "nolabels.npz", X=X)
    with pytest.raises(InvalidInputError, match="evaluation needs labels"):
        evaluate_bundle(dense_bundle, tmp_path / "nolabels.npz")
    np.savez(tmp_path / "onlynormal.npz", X=X, y=np.zeros(len(X)))
    with pytest.raises(InvalidInputError, match="both normal"):
        evaluate_bundle(dense_bundle, tmp_path / "onlynormal.npz")


def test_cli_evaluate_json_and_plot(dense_bundle, labelled, tmp_path):
    d, X, y = labelled
    png = tmp_path / "eval.png"
    res = CliRunner().invoke(main, ["evaluate", str(dense_bundle), str(d / "test.npz"), "--json", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, aeruntime.load(dense_bundle).score(X)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    res = CliRunner().invoke(main, ["evaluate", str(dense_bundle), str(d / "test.npz")])
    assert res.exit_code == 0 and "ROC-AUC" in res.output and "F1" in res.output


def test_cli_evaluate_bad_input_is_one_line(dense_bundle, labelled):
    d, _, _ = labelled
    res = CliRunner().invoke(main, ["evaluate", str(dense_bundle), str(d / "test.csv"), "--label-column", "nope"])
    assert res.exit_code == 2
    assert "label column 'nope' not found" in res.output and "Traceback" not in res.output


def test_explain_ranks_planted_feature_first(dense_bundle, labelled):
    _, X, y = labelled
    model = aeruntime.load(dense_bundle, providers="cpu")
    m = model.manifest["scaler"]
    rows = X[y == 0][:20].copy()
    planted = 37
    rows[:, planted] = m["mean"][planted] + 25 * m["scale"][planted]
    ex = model.explain(rows, top_k=3, feature_names=[f"px{i}" for i in range(64)])
    assert (ex.indices[:, 0] == planted).all()
    assert all(n[0] == "px37" for n in ex.names)
    assert (ex.shares[:, 0] > 0.5).all() and (np.diff(ex.errors, axis=1) <= 0).all()
    # the per-feature errors decompose the deployed score
    np.testing.assert_allclose(ex.scores, model.score(rows), rtol=1e-4)
    fe = model.feature_errors(rows)
    assert fe.shape == rows.shape
    with pytest.raises(InvalidInputError, match=r"top_k must be an integer in \[1, 64\]"):
        model.explain(rows, top_k=0)
    with pytest.raises(InvalidInputError, match="expects"):
        model.explain(rows[:, :10])


@pytest.fixture(scope="module")
def mae_bundle(tmp_path_factory, dense_trained, digits_split):
    from aeexport.export import export_bundle

    out = tmp_path_factory.mktemp("mae") / "b"
    export_bundle(
        dense_trained.model,
        out,
        calibration_x=digits_split.val,
        threshold_spec=ThresholdSpec(score="mae", method="target_fpr", param=0.1),
        options=ExportOptions(batches=(1, 7)),
    )
    dense_trained.model.score_name = "mse"  # the session fixture is shared
    return out


def test_mae_score_recorded_and_computed(mae_bundle, digits_split):
    model = aeruntime.load(mae_bundle, providers="cpu")
    m = model.manifest
    assert m["score"]["name"] == "mae" and m["score"]["element_error"] == "absolute"
    meta = {p.key: p.value for p in onnx.load(str(mae_bundle / "scorer.onnx")).metadata_props}
    assert json.loads(meta["aeexport.score"])["name"] == "mae"
    X = digits_split.test
    scale = np.asarray(m["scaler"]["scale"], np.float32)
    expected = (np.abs(X - model.reconstruct(X)) / scale).mean(axis=1)
    np.testing.assert_allclose(model.score(X), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.feature_errors(X).mean(axis=1), model.score(X), rtol=1e-4, atol=1e-6)
    thr = m["threshold"]
    assert thr["method"] == "target_fpr" and thr["params"] == {"fpr": 0.1}
    assert float(meta["aeexport.threshold"]) == thr["value"]
    assert (model.score(digits_split.val) > thr["value"]).mean() <= 0.1


def test_verify_mae_bundle_and_unknown_score(mae_bundle, dense_trained, tmp_path):
    from aeexport.export import export_bundle, verify_bundle

    report = verify_bundle(mae_bundle, batches=(1, 7))
    assert report["ok"] and report["rows"]
    with pytest.raises(InvalidInputError, match=r"score must be one of \['mae', 'mse'\], got 'rmse'"):
        export_bundle(
            dense_trained.model,
            tmp_path / "x",
            calibration_x=np.zeros((3, 64), np.float32),
            threshold_spec=ThresholdSpec(score="rmse"),
        )
    assert not (tmp_path / "x").exists()
