"""The page on a series bundle and on a decision bundle, in headless Chromium, against aeruntime.

- A series bundle (forged, tests/aeruntime/series/forge.py): a CSV is a series; the page gives one
  output per row (score, label, warmup, alarm) equal to ``aeruntime score`` on the same CSV (scores
  within the parity tolerance; labels, warm-up and alarms identical), the downloaded CSV is the same,
  and the series view (series, per-step score, threshold, alarms) is screenshotted; with
  ``AEEXPORT_WRITE_SCREENSHOTS=1`` the screenshot goes to ``docs/web-series.png``.
- A freshly exported decision bundle: the page's labels and p-values are the graph's, equal to
  aeruntime's ``decide``.

Needs ``node`` and ``chromium`` (else skipped) and ``npm ci --prefix examples/web`` (else fails).
"""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest

from tests.aeruntime.series.forge import generated_series, make_series_bundle
from tests.conftest import ROOT

from .browser import NEEDS_BROWSER, build, drive, require_web_modules, serve

pytestmark = NEEDS_BROWSER
W = 16
ALARM = {"k": 2, "n": 3, "hold_off": 5}


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> None:
    require_web_modules()


@pytest.fixture(scope="module")
def series_page(tmp_path_factory):
    """(what the page reported, aeruntime's per-step outputs, the screenshot) on a generated series."""
    from aeruntime import load
    from aeruntime.jobs.series import score_series_file

    x, _ = generated_series()
    root = tmp_path_factory.mktemp("series-site")
    bundle = make_series_bundle(
        root / "bundle",
        x[:1000].mean(0),
        x[:1000].std(0),
        W,
        threshold=1.0,
        alarm=ALARM,
        names=["a", "b", "c"],
        golden=True,
    )
    csv = root / "series.csv"
    np.savetxt(csv, x, delimiter=",", header="a,b,c", comments="", fmt="%.9g")
    score_series_file(load(bundle, providers="cpu"), csv, root / "py.csv", show_progress=False)
    want = np.genfromtxt(root / "py.csv", delimiter=",", names=True)
    build(bundle, root / "site")
    shot = root / "web-series.png"
    with serve(root / "site") as base:
        res = drive(f"{base}/", "--csv", csv, "--screenshot", f"series={shot}")
    return res, want, shot


def test_the_page_scores_a_series_as_aeruntime(series_page):
    res, want, _ = series_page
    assert res["state"] == "ready", res["error"]
    got = res["csv"]
    assert got["series"] and got["n"] == len(want) and got["window"] == W and got["alarm_rule"] == ALARM
    scores = np.array([np.nan if s is None else s for s in got["scores"]])
    np.testing.assert_array_equal(np.isnan(scores), np.isnan(want["score"]))
    np.testing.assert_allclose(scores[W - 1 :], want["score"][W - 1 :], rtol=1e-5, atol=1e-6)
    for key, mine in (("label", "labels"), ("warmup", "warmup"), ("alarm", "alarms")):
        np.testing.assert_array_equal(np.asarray(got[mine], np.int8), want[key].astype(np.int8), err_msg=key)
    assert 0 < got["n_alarms"] < got["n_anomalies"]
    assert not [c for c in res["console"] if c.startswith(("error", "pageerror"))], res["console"]


def test_the_downloaded_series_csv_is_one_line_per_step(series_page):
    res, want, _ = series_page
    assert res["download"]["name"] == "series.scores.csv"
    text = res["download"]["text"]
    assert text.splitlines()[0] == "score,label,warmup,alarm"
    back = np.genfromtxt(io.StringIO(text), delimiter=",", names=True)
    assert len(back) == len(want)
    for key in ("label", "warmup", "alarm"):
        np.testing.assert_array_equal(back[key], want[key], err_msg=key)


def test_the_series_view_is_screenshotted(series_page):
    res, _, shot = series_page
    data = shot.read_bytes()
    assert res["screenshots"].get("series") == str(shot)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    if os.environ.get("AEEXPORT_WRITE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "web-series.png")


def _calibration_scores(bundle) -> np.ndarray:
    """The sorted calibration scores stored in the scorer graph (a (blocks, B) table padded with +inf)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(bundle / "scorer.onnx")).graph
    table = next(numpy_helper.to_array(t) for t in graph.initializer if t.name == "aeexport_calibration_scores")
    return table[np.isfinite(table)]


def test_the_page_shows_the_graphs_label_and_p_value(dense_bundle, digits, tmp_path):
    """The page's p-values are the graph's conformal rule on its own scores, bit for bit. Rows of the
    validation split are among the calibration rows, so their score ties a calibration score exactly;
    onnxruntime-web's score may differ from onnxruntime's by an ulp (within the parity tolerance) and
    land one rank away from aeruntime's p-value there: at most 1/(n+1), never more."""
    import aeruntime
    from aeruntime.decisions import conformal_p_values, fpr_labels, graph_threshold

    model = aeruntime.load(dense_bundle, providers="cpu")
    n = model.calibration_size
    cal = _calibration_scores(dense_bundle)
    assert n is not None and len(cal) == n
    X = np.concatenate([digits[0][:150], digits[0][:10] * 4.0 + 3.0]).astype(np.float32)
    score, label, p = model.decide(X)
    csv = tmp_path / "rows.csv"
    np.savetxt(csv, X, delimiter=",", header=",".join(f"f{i}" for i in range(64)), comments="", fmt="%.9g")
    build(dense_bundle, tmp_path / "site")
    t = float(np.median(score))
    with serve(tmp_path / "site") as base:
        res = drive(f"{base}/", "--csv", csv)
        at_t = drive(f"{base}/?threshold={t!r}", "--csv", csv)
        at_fpr = drive(f"{base}/?fpr=0.1", "--csv", csv)
    assert res["state"] == "ready", res["error"]
    s_web = np.asarray(res["csv"]["scores"], np.float32)
    p_web = np.asarray(res["csv"]["p_values"], np.float32)
    np.testing.assert_allclose(s_web, score, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(p_web, conformal_p_values(s_web, cal))
    np.testing.assert_array_equal(res["csv"]["labels"], (s_web > graph_threshold(model.threshold)).astype(np.int8))
    assert np.abs(p_web - p).max() <= 1.0001 / (n + 1) and (p_web == p).mean() > 0.8
    assert (np.asarray(res["csv"]["labels"]) != label).sum() <= 1
    assert res["download"]["text"].splitlines()[0] == "score,label,p_value"
    assert 0 < label.sum() < len(X)
    # ?threshold=T: the graph's rule at T on the page's scores (aeruntime with T fed agrees off ties)
    want_t = (s_web > graph_threshold(t)).astype(np.int8)
    assert not np.array_equal(want_t, res["csv"]["labels"])  # the operating point really moved
    np.testing.assert_array_equal(at_t["csv"]["labels"], want_t)
    assert (want_t != aeruntime.load(dense_bundle, providers="cpu", threshold=t).decide(X)[1]).sum() <= 1
    # ?fpr=0.1: aeruntime.decisions' rank rule on the page's p-values
    np.testing.assert_array_equal(at_fpr["csv"]["labels"], fpr_labels(p_web, n, 0.1))
    assert at_fpr["operating_point"]["line"] == model.operating_point(0.1).line()  # aeruntime's words, threshold read
    assert (np.asarray(at_fpr["csv"]["labels"]) != model.predict(X, fpr=0.1)).sum() <= 2
