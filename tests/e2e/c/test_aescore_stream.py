"""``aescore --stream`` (examples/c/stream.c) against ``aeruntime score`` on the same series (issue 33).

Series bundles made by the numpy-only forger (``tests/aeruntime/series/forge.py``, with the
``aeexport.*`` graph metadata an exporter writes: ``input_shape`` ``[W, C]``, ``threshold``,
``series``), a generated series with spikes and a level shift. The C stream must give aeruntime's
per-step scores within the parity tolerance, the same labels and alarms, the warm-up rows marked
(``nan``, label 0), one line per row as it arrives, and stop at a refused row with one line naming it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import select
import shutil
import subprocess
import time

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import aeruntime
from tests.aeruntime.series.forge import generated_series, make_series_bundle, reference_scores
from tests.conftest import BIN, MODELS, SUBPROCESS_ENV
from tests.e2e.c.conftest import ROOTFS_SH

WINDOW = 24
#: the parity tolerance of bundles (manifest golden.tolerance of aeexport's exports)
ATOL, RTOL = 1e-5, 1e-4
#: name -> alarm rule of the forged bundle
ALARMS = {"plain": None, "persistent": {"k": 3, "n": 5, "hold_off": 40}}
#: series bundles shipped in models/ (none until aeexport exports them; then each is streamed here too)
SHIPPED_SERIES = sorted(
    p.parent.name for p in MODELS.glob("*/manifest.json") if json.loads(p.read_text()).get("series") is not None
)
#: those whose scorer decides (outputs label and p_value): the C stream prints score,label,p_value,alarm
DECISION_SERIES = [
    n
    for n in SHIPPED_SERIES
    if "p_value" in (json.loads((MODELS / n / "manifest.json").read_text()).get("decisions") or {}).get("outputs", [])
]


@pytest.fixture(scope="module")
def series(consumer) -> tuple[np.ndarray, dict[str, object]]:
    """(rows (n, 3), name -> series bundle in the bound folder), the CSV of the rows written beside them."""
    x, _ = generated_series(1500, 3, seed=3)
    mu, scale = x[:600].mean(axis=0), x[:600].std(axis=0)
    root = consumer.work / "series"
    bundles = {}
    for name, alarm in ALARMS.items():
        bundles[name] = make_series_bundle(
            root / name, mu, scale, WINDOW, threshold=_threshold(x, mu, scale), alarm=alarm
        )
    np.savetxt(root / "series.csv", x, delimiter=",", fmt="%.9g")
    return x, bundles


def _threshold(x: np.ndarray, mu: np.ndarray, scale: np.ndarray) -> float:
    """A threshold near the 90th percentile of the per-step scores, in the middle of the widest gap there, so no
    score lies within the parity tolerance of it (labels and alarms are then comparable exactly)."""
    s = np.sort(reference_scores(x, mu, scale, WINDOW)[WINDOW - 1 :])
    lo, hi = int(0.85 * len(s)), int(0.95 * len(s))
    i = lo + int(np.argmax(np.diff(s[lo:hi])))
    return float((s[i] + s[i + 1]) / 2)


def _aeruntime(bundle, rows_csv, out) -> np.ndarray:
    """``aeruntime score BUNDLE SERIES --out OUT``: the (n,) structured score, label, warmup, alarm table."""
    r = subprocess.run(
        [str(BIN / "aeruntime"), "score", str(bundle), str(rows_csv), "--out", str(out)],
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return np.genfromtxt(out, delimiter=",", names=True)


def _table(stdout: str) -> np.ndarray:
    """(n, 3) score, label, alarm of what ``aescore --stream`` printed (a p_value column is checked, then dropped)."""
    lines = stdout.splitlines()
    assert lines[0] in ("score,label,alarm", "score,label,p_value,alarm"), lines[:2]
    table = np.array([ln.split(",") for ln in lines[1:]], dtype=np.float64).reshape(-1, len(lines[0].split(",")))
    if table.shape[1] == 4:  # a decision scorer: p-values in [0, 1] after the warm-up
        p = table[~np.isnan(table[:, 0]), 2]
        assert ((p >= 0) & (p <= 1)).all()
    return table[:, [0, 1, -1]]


def _shipped(consumer, name: str) -> tuple[np.ndarray, object, object]:
    """A shipped series bundle (copied into the bound folder) and a series made of its golden windows' rows
    (windows (k, W, C) laid end to end: values on the scale it was trained on)."""
    bundle = shutil.copytree(MODELS / name, consumer.work / "series" / "shipped" / name)
    sets = sorted((bundle / "test_data" / "scorer").glob("test_data_set_*/input_0.pb"))
    x = np.concatenate([numpy_helper.to_array(onnx.load_tensor(str(p))).reshape(-1, _columns(bundle)) for p in sets])
    rows = bundle.parent / f"{name}.csv"
    np.savetxt(rows, x, delimiter=",", fmt="%.9g")
    return x, bundle, rows


def _columns(bundle) -> int:
    return int(json.loads((bundle / "manifest.json").read_text())["input"]["shape"][1])


@pytest.mark.parametrize("name", [*ALARMS, *SHIPPED_SERIES])
def test_stream_equals_aeruntime_batch_scores(consumer, series, name):
    x, bundles = series
    if name in ALARMS:
        bundle, rows = bundles[name], consumer.work / "series" / "series.csv"
    else:  # a series bundle shipped in models/ (issue 33: the C stream runs in CI on one)
        x, bundle, rows = _shipped(consumer, name)
    want = _aeruntime(bundle, rows, consumer.work / "series" / f"py-{name}.csv")
    r = consumer.run("--stream", bundle, "-", stdin=rows.read_text())
    assert r.returncode == 0, r.stderr
    got = _table(r.stdout)
    assert len(got) == len(x) == len(want)  # rows in = rows out
    warm = want["warmup"] == 1
    window = int(json.loads((bundle / "manifest.json").read_text())["input"]["shape"][0])  # the bundle's own W
    assert warm.sum() == window - 1 and np.isnan(got[warm, 0]).all() and (got[warm, 1] == 0).all()
    np.testing.assert_allclose(got[~warm, 0], want["score"][~warm], atol=ATOL, rtol=RTOL)
    # and aeruntime's own stream, row by row (model.stream().push), gives the same scores
    stream = aeruntime.load(bundle).stream()
    pushed = np.array([s if (s := stream.push(row)) is not None else np.nan for row in x])
    np.testing.assert_allclose(got[~warm, 0], pushed[~warm], atol=ATOL, rtol=RTOL)
    t = aeruntime.load(bundle).threshold
    tie = np.abs(want["score"] - t) <= ATOL + RTOL * abs(t)
    np.testing.assert_array_equal(got[~tie, 1], want["label"][~tie])  # identical but for ties within the tolerance
    if name not in ALARMS:
        return
    assert not tie.any()  # the forged bundles' threshold sits in a gap: labels and alarms must be identical
    np.testing.assert_array_equal(got[:, 2], want["alarm"])
    assert 0 < want["label"].sum() < len(x) and want["alarm"].sum() > 0
    if name == "persistent":  # the rule does something: fewer alarms than labels
        assert want["alarm"].sum() < want["label"].sum()


def _demo_series() -> np.ndarray:
    """The generated series models/series-dense was trained on (models/series_demo.py), anomalies included."""
    spec = importlib.util.spec_from_file_location("series_demo", MODELS / "series_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.demo_series()[0]


@pytest.mark.parametrize("name", DECISION_SERIES)
def test_stream_p_values_and_labels_equal_aeruntime_decisions(consumer, name):
    """A shipped decision series bundle: the C stream's p_value and label of each step are those of aeruntime's
    decision scorer (``model.decide``) on the window ending at that step; its scores are the stream's
    (``push_many``). Where C's score is aeruntime's bit for bit (every step here), the p-value is too; where it
    differs within the parity tolerance, the p-values may differ by the calibration scores between the two (and a
    label only where the score ties the threshold)."""
    bundle = shutil.copytree(MODELS / name, consumer.work / "series" / "decisions" / name)
    rows = bundle.parent / f"{name}-demo.csv"
    np.savetxt(rows, _demo_series(), delimiter=",", fmt="%.9g")
    x = np.loadtxt(rows, delimiter=",", dtype=np.float32)  # what the C stream parses
    model = aeruntime.load(bundle, providers="cpu")
    w = int(model.input_shape[0])
    score, label, p_value = model.decide(np.lib.stride_tricks.sliding_window_view(x, w, axis=0).transpose(0, 2, 1))
    r = consumer.run("--stream", bundle, "-", stdin=rows.read_text())
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "score,label,p_value,alarm"
    got = np.array([ln.split(",") for ln in lines[1:]], dtype=np.float64)
    assert got.shape == (len(x), 4)  # rows in = rows out
    assert np.isnan(got[: w - 1, [0, 2]]).all() and (got[: w - 1, [1, 3]] == 0).all()  # warm-up: nan, label 0
    got = got[w - 1 :]
    np.testing.assert_allclose(got[:, 0], model.stream().push_many(x)[w - 1 :], atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(got[:, 0], score, atol=ATOL, rtol=RTOL)
    calibration = numpy_helper.to_array(
        next(
            t
            for t in onnx.load(str(bundle / "scorer.onnx")).graph.initializer
            if t.name == model.manifest["decisions"]["p_value"]["initializer"]
        )
    ).reshape(-1)
    calibration = calibration[np.isfinite(calibration)]  # stored as a padded (blocks, k) table: +inf pads it
    n = model.calibration_size
    assert len(calibration) == n
    c_score, c_p = got[:, 0].astype(np.float32), got[:, 2].astype(np.float32)  # %.9g round-trips float32
    same = c_score == score
    np.testing.assert_array_equal(c_p[same], p_value[same])  # the same score: the same p-value, exactly
    # another score (within the parity tolerance): the p-values differ by at most the calibration scores between
    lo, hi = np.minimum(c_score, score)[~same, None], np.maximum(c_score, score)[~same, None]
    between = ((calibration[None, :] >= lo) & (calibration[None, :] <= hi)).sum(axis=1)
    ranks = np.rint(np.abs(c_p[~same].astype(np.float64) - p_value[~same]) * (n + 1))
    assert (ranks <= between).all()
    tie = np.abs(score - model.threshold) <= ATOL + RTOL * abs(model.threshold)
    np.testing.assert_array_equal(got[~tie, 1], label[~tie])
    np.testing.assert_array_equal(got[:, 3], got[:, 1])  # the shipped rule is k=1 of n=1: the alarm is the label
    # the series holds anomalies: some steps get the smallest p-value, 1 / (n + 1), and are labelled
    assert (p_value <= 1.0 / (n + 1) + 1e-7).sum() > 0 and 0 < label.sum() < len(label)


def test_rows_fed_one_by_one_through_a_pipe(consumer, series):
    """A sensor feed: each row written after a delay; its line comes back before the next row is sent."""
    x, bundles = series
    bundle = bundles["persistent"]
    n = WINDOW + 20
    lines = [",".join(f"{v:.9g}" for v in row) for row in x[:n]]
    err = open(consumer.work / "series" / "pipe.err", "w")  # onnxruntime's load noise: never blocks the pipe
    proc = subprocess.Popen(
        ["bash", str(ROOTFS_SH), "run", "--bind", str(consumer.work), str(consumer.binary), "--stream", str(bundle)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
    )
    out = []

    def read_line(timeout: float) -> str:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        assert ready, f"no line within {timeout} s after {len(out)} rows: the stream does not flush per row"
        return proc.stdout.readline().decode()

    try:
        assert read_line(120).strip() == "score,label,alarm"
        for line in lines:
            time.sleep(0.02)
            proc.stdin.write((line + "\n").encode())
            proc.stdin.flush()
            out.append(read_line(30).strip())  # before the next row is written
        proc.stdin.close()
        assert proc.stdout.read() == b"" and proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
    got = _table("score,label,alarm\n" + "\n".join(out))
    batch = consumer.run("--stream", bundle, "-", stdin="\n".join(lines) + "\n")
    np.testing.assert_array_equal(got, _table(batch.stdout))  # the same bytes as all at once


@pytest.mark.parametrize(
    ("case", "bad", "pattern"),
    [
        ("width", "1,2", r"stream row 30 refused: -: line 31 has 2 fields, but the model expects 3"),
        ("nan", "1,nan,2", r"stream row 30 refused: -: line 31 \(row 30\), column 2 holds a NaN"),
        ("text", "1,x,2", r"stream row 30 refused: .*column 2 on line 31 holds 'x'"),
    ],
)
def test_a_malformed_row_stops_the_stream_with_one_line(consumer, series, case, bad, pattern):
    x, bundles = series
    good = [",".join(f"{v:.9g}" for v in row) for row in x[:60]]
    text = "\n".join([*good[:30], bad, *good[30:]]) + "\n"
    r = consumer.run("--stream", bundles["plain"], "-", stdin=text)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and "\n" not in r.stderr, r.stderr
    assert re.search(pattern, r.stderr), r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1 + 30  # the header and rows 0..29, nothing after the refused row
    assert lines[-1].split(",")[0] != "nan" and math.isfinite(float(lines[-1].split(",")[0]))


def test_stream_refuses_a_row_bundle(consumer, bundles):
    r = consumer.run("--stream", bundles["digits-dense"], "-", stdin="1,2\n")
    assert r.returncode == 2 and r.stdout == ""
    assert "is not a series bundle (its graph has no aeexport.series metadata)" in r.stderr


@pytest.mark.parametrize("case", ["clean", "refused row"])
def test_stream_valgrind_clean(consumer, series, case):
    x, bundles = series
    lines = [",".join(f"{v:.9g}" for v in row) for row in x[:200]]
    if case == "refused row":
        lines[150] = "1,2"
    r = consumer.run("--stream", bundles["persistent"], "-", stdin="\n".join(lines) + "\n", valgrind=True)
    assert r.returncode == (0 if case == "clean" else 2), r.stderr  # 99: valgrind found a leak or a bad access
    assert len(r.stdout.splitlines()) == 1 + (200 if case == "clean" else 150)
    if case == "clean":
        assert r.stderr == ""
    else:
        assert r.stderr.startswith("error: stream row 150 refused") and "\n" not in r.stderr


def test_stream_header_with_feature_names(consumer, series):
    """The first line may be the bundle's C column names (section 11: names of one step's columns)."""
    x, _ = series
    names = ["temp", "vib", "amps"]
    mu, scale = x[:600].mean(axis=0), x[:600].std(axis=0)
    bundle = make_series_bundle(
        consumer.work / "series" / "named", mu, scale, WINDOW, threshold=_threshold(x, mu, scale), names=names
    )
    body = "\n".join(",".join(f"{v:.9g}" for v in row) for row in x[:40]) + "\n"
    with_header = consumer.run("--stream", bundle, "-", stdin=",".join(names) + "\n" + body)
    assert with_header.returncode == 0, with_header.stderr
    assert with_header.stdout == consumer.run("--stream", bundle, "-", stdin=body).stdout
    wrong = consumer.run("--stream", bundle, "-", stdin="temp,vib,volts\n" + body)
    assert (
        wrong.returncode == 2
        and "the header's column 3 is 'volts', but the bundle's feature 3 is 'amps'" in wrong.stderr
    )
