"""Series bundles in the Node consumer (issue 33): one output line per input row (score, label, [p_value,]
warmup, alarm), equal to aeruntime's ``aeruntime score`` on the same forged bundle and CSV: per-step scores within
the parity tolerance, labels, warm-up flags and alarms identical; a chunk boundary changes nothing.

Needs ``node`` (else skipped) and ``npm ci --prefix examples/node`` (else fails, as the other Node tests).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.aeruntime.series.forge import generated_series, make_series_bundle, reference_scores
from tests.e2e.node.test_node_consumer import NODE, node_modules, ok, run_node  # noqa: F401

pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not installed")

W = 16
ALARM = {"k": 2, "n": 3, "hold_off": 5}


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    """(bundle, csv, rows (3000, 3), aeruntime's per-step outputs) of a generated series."""
    import aeruntime
    from aeruntime.jobs.series import score_series_file

    x, _ = generated_series()
    mu, scale = x[:1000].mean(0), x[:1000].std(0)
    tmp = tmp_path_factory.mktemp("node-series")
    bundle = make_series_bundle(
        tmp / "bundle", mu, scale, W, threshold=1.0, alarm=ALARM, names=["a", "b", "c"], golden=True
    )
    csv = tmp / "series.csv"
    # a time column first (not a feature: matched out by name) and the columns in another order
    cols = np.column_stack([np.arange(len(x)), x[:, 2], x[:, 0], x[:, 1]])
    np.savetxt(csv, cols, delimiter=",", header="time,c,a,b", comments="", fmt="%.9g")
    model = aeruntime.load(bundle, providers="cpu")
    score_series_file(model, csv, tmp / "py.csv", batch_size=700, show_progress=False)
    want = np.genfromtxt(tmp / "py.csv", delimiter=",", names=True)
    assert np.nanmax(np.abs(want["score"] - reference_scores(x, mu, scale, W))) < 1e-4
    return bundle, csv, x, want


def _lines(stdout: str) -> np.ndarray:
    lines = stdout.strip().splitlines()
    assert lines[0] == "score,label,warmup,alarm"
    return np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])


@pytest.mark.parametrize("chunk", [3000, 1000, 7])
def test_node_series_equals_aeruntime_in_any_chunks(forged, chunk):
    bundle, csv, x, want = forged
    got = _lines(ok("score", bundle, csv, "--batch-size", str(chunk)))
    assert len(got) == len(x)  # rows in = rows out
    np.testing.assert_array_equal(np.isnan(got[:, 0]), np.isnan(want["score"]))
    assert np.isnan(got[: W - 1, 0]).all() and not np.isnan(got[W - 1 :, 0]).any()
    np.testing.assert_allclose(got[W - 1 :, 0], want["score"][W - 1 :], rtol=1e-5, atol=1e-6)
    for j, key in enumerate(("label", "warmup", "alarm"), start=1):
        np.testing.assert_array_equal(got[:, j].astype(np.int8), want[key].astype(np.int8), err_msg=key)
    assert got[:, 3].sum() > 0 and got[:, 3].sum() < got[:, 1].sum()  # alarms raised, the rule thins them


def test_a_chunk_boundary_changes_nothing(forged):
    bundle, csv, _, _ = forged
    one = json.loads(ok("score", bundle, csv, "--json", "--batch-size", "5000"))
    for chunk in ("15", "16", "17", "333"):  # boundaries inside, at and past a window
        assert json.loads(ok("score", bundle, csv, "--json", "--batch-size", chunk)) == one
    assert one["window"] == W and one["alarm_rule"] == ALARM and one["scores"][: W - 1] == [None] * (W - 1)


def test_alarms_follow_the_manifest_rule(forged, tmp_path):
    """Another rule in the manifest gives aeruntime.series.alarms of the same labels."""
    from aeruntime.series import alarms

    _, csv, x, _ = forged
    mu, scale = x[:1000].mean(0), x[:1000].std(0)
    rule = {"k": 3, "n": 5, "hold_off": 20}
    bundle = make_series_bundle(
        tmp_path / "b", mu, scale, W, threshold=0.8, alarm=rule, names=["a", "b", "c"], golden=True
    )
    got = _lines(ok("score", bundle, csv))
    labels = got[:, 1].astype(np.int8)
    np.testing.assert_array_equal(got[:, 3].astype(np.int8), alarms(labels, **rule))
    assert 0 < got[:, 3].sum() < labels.sum()


def test_series_refusals(forged, tmp_path):
    bundle, csv, x, _ = forged
    short = tmp_path / "short.csv"
    np.savetxt(short, x[: W - 1], delimiter=",", header="a,b,c", comments="", fmt="%.9g")
    r = run_node("score", bundle, short)
    assert r.returncode == 2 and "has 15 rows, fewer than the bundle's window of 16 rows" in r.stderr, r.stderr
    assert r.stdout == ""  # nothing written
    r = run_node("score", bundle, csv, "--fpr", "0.1")
    assert r.returncode == 2 and "a series bundle labels time steps by its threshold and alarm rule" in r.stderr


def test_a_threshold_override_labels_the_steps_as_aeruntime(forged, tmp_path):
    import aeruntime
    from aeruntime.jobs.series import score_series_file

    bundle, csv, _, base = forged
    score_series_file(
        aeruntime.load(bundle, providers="cpu", threshold=1.5), csv, tmp_path / "py.csv", show_progress=False
    )
    want = np.genfromtxt(tmp_path / "py.csv", delimiter=",", names=True)
    got = _lines(ok("score", bundle, csv, "--threshold", "1.5"))
    assert want["label"].sum() < base["label"].sum()  # the override moved the labels
    np.testing.assert_array_equal(got[:, 1].astype(np.int8), want["label"].astype(np.int8))
    np.testing.assert_array_equal(got[:, 3].astype(np.int8), want["alarm"].astype(np.int8))


def test_a_decision_series_bundle_prints_the_graphs_p_value(tmp_path):
    """The shipped series bundle decides: Node adds p_value (the graph's output, nan in the warm-up) between label
    and warmup, as ``aeruntime score`` does; each p-value is (1 + #{c >= score}) / (n + 1) of Node's own score
    against the calibration scores stored in the graph, and equals aeruntime's where the scores are equal."""
    import aeruntime
    from aeruntime.decisions import calibration_scores, conformal_p_values
    from aeruntime.jobs.series import score_series_file
    from tests.aeruntime.series.test_cli import _demo_series
    from tests.conftest import MODELS

    bundle = MODELS / "series-dense"
    model = aeruntime.load(bundle, providers="cpu")
    x = _demo_series(600)
    csv = tmp_path / "series.csv"
    np.savetxt(csv, x, delimiter=",", header=",".join(model.feature_names), comments="", fmt="%.9g")
    score_series_file(model, csv, tmp_path / "py.csv", show_progress=False)
    want = np.genfromtxt(tmp_path / "py.csv", delimiter=",", names=True)
    lines = ok("score", bundle, csv, "--batch-size", "97").strip().splitlines()
    assert lines[0] == "score,label,p_value,warmup,alarm" and len(lines) == len(x) + 1
    got = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])
    warm = got[:, 3] == 1
    np.testing.assert_array_equal(warm, want["warmup"] == 1)
    assert np.isnan(got[warm, 2]).all() and not np.isnan(got[~warm, 2]).any()
    cal = calibration_scores(model.manifest, (bundle / "scorer.onnx").read_bytes())
    np.testing.assert_array_equal(
        got[~warm, 2].astype(np.float32), conformal_p_values(got[~warm, 0].astype(np.float32), cal)
    )
    np.testing.assert_allclose(got[~warm, 0], want["score"][~warm], rtol=1e-5, atol=1e-6)
    same = got[:, 0].astype(np.float32) == want["score"].astype(np.float32)  # both print float32 scores
    assert same.mean() > 0.5  # most steps bit-identical to aeruntime's CPU scores
    np.testing.assert_array_equal(got[same, 2].astype(np.float32), want["p_value"][same].astype(np.float32))
