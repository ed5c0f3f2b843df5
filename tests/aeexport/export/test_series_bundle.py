"""A series run end to end: train -> export -> aeruntime (load, score a file, stream), against torch.

One short run on a generated series (sines + noise, spikes, a level shift; a time column), ``--window
auto`` with an alarm rule: the bundle is what section 11 of docs/bundle-format.md says an exporter
writes, and every consumer path of aeruntime gives torch's window scores at the window ends.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import aeruntime
from aeexport.data import windows
from aeexport.pipeline import run_pipeline
from aeexport.settings import SERIES_KIND, RunSettings, SeriesSettings, TrainConfig, TrainSettings
from tests.aeruntime.series.forge import generated_series

TOL = dict(rtol=1e-4, atol=1e-6)
N = 1500


@pytest.fixture(scope="module")
def series_run(tmp_path_factory):
    """(rows (N, 3), run folder, manifest, the trained torch model) of one ``run --window auto``."""
    tmp = tmp_path_factory.mktemp("series-run")
    x, _ = generated_series(n=N)
    lines = ["t,a,b,c"] + [f"{10 * i + 3},{r[0]!r},{r[1]!r},{r[2]!r}" for i, r in enumerate(x.tolist())]
    (tmp / "s.csv").write_text("\n".join(lines) + "\n")
    settings = RunSettings(
        training=TrainSettings(
            config=TrainConfig(epochs=3, progress=False, seed=0),
            header=True,
            series=SeriesSettings(window="auto", time_column="t", alarm=(2, 3), hold_off=4),
        ),
        test_fraction=0.2,
    )
    summary = run_pipeline(str(tmp / "s.csv"), tmp / "run", settings)
    manifest = json.loads((tmp / "run" / "bundle" / "manifest.json").read_text())
    from aeexport.train import load_checkpoint

    model = load_checkpoint(tmp / "run" / "checkpoint")[0]
    return x, tmp, manifest, model, summary


def test_the_manifest_is_the_series_contract(series_run):
    x, tmp, m, model, summary = series_run
    assert m["model"]["kind"] == SERIES_KIND  # the default kind of --window
    assert m["input"]["shape"] == [25, 3] and m["input"]["feature_names"] == ["a", "b", "c"]
    assert m["series"] == {
        "window": 25,
        "stride": 1,
        "time_column": "t",
        "step_score": "window_end",
        "warmup": {"score": None, "label": 0},
        "alarm": {"k": 2, "n": 3, "hold_off": 4},
    }
    assert m["model"]["config"]["window_rule"] == "period" and m["model"]["config"]["window_period"] == 25
    s = summary["rows"]["series"]
    v0, t0 = s["validation_starts_at_row"], s["test_starts_at_row"]
    assert (v0, t0) == (N - 300 - 225, N - 300)
    # the threshold is calibrated on every window inside the held-out validation part, nothing else
    assert m["threshold"]["calibration_rows"] == t0 - v0 - 25 + 1
    assert {r["batch"] for r in m["parity"]["rows"]} >= {1, 7, 1024} and m["parity"]["ok"]
    # the scaler is per column, fitted on the training steps only (rows 0 .. v0-1), inside the graphs
    np.testing.assert_allclose(model.scaler_mean.numpy(), np.broadcast_to(x[:v0].mean(0), (25, 3)), rtol=1e-5)
    np.testing.assert_allclose(model.scaler_scale.numpy()[0], x[:v0].std(0), rtol=1e-4)
    assert aeruntime.load(tmp / "run" / "bundle", providers="cpu").series == m["series"]


def _torch_scores(model, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model.scorer_graph(torch.from_numpy(np.ascontiguousarray(windows(x, 25)))).numpy()


def test_aeruntime_score_gives_one_row_per_input_row_equal_to_torch_at_window_ends(series_run):
    x, tmp, m, model, _ = series_run
    out = tmp / "scores.csv"
    cmd = [
        sys.executable,
        "-m",
        "aeruntime",
        "score",
        str(tmp / "run" / "bundle"),
        str(tmp / "s.csv"),
        "--out",
        str(out),
    ]
    subprocess.run(cmd + ["--batch-size", "100"], check=True, capture_output=True)  # chunks of 100 rows
    got = np.genfromtxt(out, delimiter=",", names=True)
    assert len(got) == N  # rows in = rows out
    np.testing.assert_array_equal(got["warmup"], (np.arange(N) < 24).astype(float))
    assert np.isnan(got["score"][:24]).all() and (got["label"][:24] == 0).all()
    np.testing.assert_allclose(got["score"][24:], _torch_scores(model, x), **TOL)
    np.testing.assert_array_equal(got["label"][24:], got["score"][24:] > m["threshold"]["value"])


def test_stream_push_and_push_many_equal_the_batch_scores(series_run):
    x, tmp, _, model, _ = series_run
    rt = aeruntime.load(tmp / "run" / "bundle", providers="cpu")
    reference = _torch_scores(model, x)
    stream = rt.stream()
    pushed = [stream.push(row) for row in x[:200]]
    assert pushed[:24] == [None] * 24
    np.testing.assert_allclose(np.array(pushed[24:], np.float32), reference[:176], **TOL)
    many = stream.push_many(x[200:])
    np.testing.assert_allclose(many, reference[176:], **TOL)


@pytest.mark.parametrize("kind", ["int8-dynamic", "fp16", "ort"])
def test_variants_of_a_series_bundle_keep_decision_parity(series_run, kind):
    from aeexport.variants import make_variant

    x, tmp, _, _, _ = series_run
    v = make_variant(tmp / "run" / "bundle", kind, tmp / f"v-{kind}", X=np.ascontiguousarray(windows(x, 25)))
    assert v["series"]["window"] == 25 and v["input"]["shape"] == [25, 3]
    rt = aeruntime.load(tmp / f"v-{kind}", providers="cpu")
    scores = rt.stream().push_many(x)
    assert scores.shape == (N,) and np.isnan(scores[:24]).all() and np.isfinite(scores[24:]).all()


def test_the_shipped_series_bundle_scores_its_generated_series_one_score_per_step():
    """models/series-dense (models/build.sh series-dense) on the series models/series_demo.py writes:
    per-step scores equal the scores of the windows ending at each step; the anomalies score highest."""
    import importlib.util

    from tests.conftest import MODELS

    spec = importlib.util.spec_from_file_location("series_demo", MODELS / "series_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    x, y = demo.demo_series()
    rt = aeruntime.load(MODELS / "series-dense", providers="cpu")
    w = rt.series["window"]
    assert rt.input_shape == (w, 2) and rt.feature_names == ["sensor_a", "sensor_b"]
    steps = rt.stream().push_many(x.astype(np.float32))
    np.testing.assert_allclose(steps[w - 1 :], rt.score(np.ascontiguousarray(windows(x.astype(np.float32), w))), **TOL)
    from sklearn.metrics import roc_auc_score

    test = slice(int(0.8 * len(x)), None)
    assert roc_auc_score(y[test], steps[test]) > 0.9
