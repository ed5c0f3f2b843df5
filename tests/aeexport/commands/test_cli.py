"""Both command lines: CliRunner for behaviour, real subprocesses for the console scripts."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from aeexport.cli import main as aeexport_main
from aeexport.models import REGISTRY
from aeexport.settings import MODEL_KINDS
from aeruntime.cli import main as aeruntime_main
from tests.conftest import BIN, MODELS, SUBPROCESS_ENV


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def test_model_kinds_mirror_the_registry():
    assert sorted(MODEL_KINDS) == sorted(REGISTRY)


def test_train_export_verify_inspect(tmp_path, runner):
    ckpt, bundle = tmp_path / "ckpt", tmp_path / "bundle"
    r = runner.invoke(aeexport_main, ["train", "digits", "--out", str(ckpt), "--epochs", "3", "-q"])
    assert r.exit_code == 0, r.output
    assert "trained dense" in r.output and (ckpt / "model.safetensors").is_file()
    r = runner.invoke(aeexport_main, ["export", str(ckpt), "--out", str(bundle), "--percentile", "90"])
    assert r.exit_code == 0, r.output
    assert "overall: ok" in r.output and "torch.onnx" not in r.output  # exporter chatter silenced
    r = runner.invoke(aeexport_main, ["verify", str(bundle), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["ok"] and {row["batch"] for row in report["rows"]} >= {1, 7, 1024}
    r = runner.invoke(aeexport_main, ["inspect", str(bundle)])
    assert r.exit_code == 0 and "dense" in r.output and "percentile" in r.output
    r = runner.invoke(aeexport_main, ["inspect", str(bundle), "--json"])
    assert json.loads(r.output)["threshold"]["params"] == {"percentile": 90.0}


def test_verify_fails_with_exit_1_on_a_parity_violation(tmp_path, runner, dense_bundle):
    from safetensors.numpy import load_file, save_file

    from aeruntime.format import sha256_file

    b = tmp_path / "b"
    shutil.copytree(dense_bundle, b)
    w = load_file(str(b / "weights.safetensors"))
    w["decoder.0.bias"] = w["decoder.0.bias"] + 1e-3  # torch now differs from the graphs
    save_file(w, str(b / "weights.safetensors"))
    m = json.loads((b / "manifest.json").read_text())
    m["files"]["weights.safetensors"] = sha256_file(b / "weights.safetensors")
    (b / "manifest.json").write_text(json.dumps(m))
    r = runner.invoke(aeexport_main, ["verify", str(b)])
    assert r.exit_code == 1
    assert "FAIL" in r.output and "parity violation" in r.output


def test_run_main_job_summary(tmp_path, runner):
    r = runner.invoke(aeexport_main, ["run", "digits", "--out", str(tmp_path / "run"), "--epochs", "5", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["rows"]["anomaly_class"] == 0 and s["parity_ok"]
    assert 0.5 < s["roc_auc"] <= 1.0 and 0 <= s["test_anomaly_rate"] <= 1
    scores = np.load(tmp_path / "run" / "test_scores.npz", allow_pickle=False)
    from sklearn.metrics import roc_auc_score

    assert s["roc_auc"] == pytest.approx(roc_auc_score(scores["y"], scores["score"]))


def test_aeruntime_score_and_info(tmp_path, runner, digits):
    X = digits[0][:20]
    np.save(tmp_path / "x.npy", X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", header=",".join(f"f{i}" for i in range(64)), comments="")
    import aeruntime

    model = aeruntime.load(MODELS / "digits-dense")
    expected = model.score(X)
    r = runner.invoke(aeruntime_main, ["score", str(MODELS / "digits-dense"), str(tmp_path / "x.npy")])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0] == "score,label,p_value" and len(lines) == 21
    np.testing.assert_allclose([float(line.split(",")[0]) for line in lines[1:]], expected, rtol=1e-6)
    for suffix in (".npy", ".npz", ".csv"):
        out = tmp_path / f"out{suffix}"
        r = runner.invoke(
            aeruntime_main,
            ["score", str(MODELS / "digits-dense"), str(tmp_path / "x.csv"), "--out", str(out), "--batch-size", "7"],
        )
        assert r.exit_code == 0, r.output
        if suffix == ".npy":
            got = np.load(out, allow_pickle=False)["score"]
        elif suffix == ".npz":
            got = np.load(out, allow_pickle=False)["score"]
        else:
            got = np.loadtxt(out, delimiter=",", skiprows=1)[:, 0]
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    r = runner.invoke(aeruntime_main, ["info", str(MODELS / "digits-dense"), "--json"])
    info = json.loads(r.output)
    assert info["kind"] == "dense" and info["providers"] == ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("main", "args", "code", "message"),
    [
        ("aeruntime", ["score", "MODEL", "missing.npy"], 2, "does not exist"),
        ("aeruntime", ["score", "MODEL", "WIDE"], 2, "X has 3 features, but the model expects 64"),
        ("aeruntime", ["score", "MODEL", "WIDE", "--out", "x.txt"], 2, "unsupported output type"),
        ("aeruntime", ["score", "MODEL", "WIDE", "--providers", "tpu"], 2, "Invalid value for '--providers'"),
        # not a valid bundle (or checkpoint): exit 1, like a modified or wrong-version bundle
        ("aeruntime", ["info", "EMPTYDIR"], 1, "manifest.json' is missing"),
        ("aeexport", ["train", "nosuchdata", "--out", "o"], 2, "neither a built-in dataset"),
        ("aeexport", ["run", "--out", "o", "--model", "gan"], 2, "Invalid value for '--model'"),
        ("aeexport", ["export", "EMPTYDIR", "--out", "o"], 1, "is not a checkpoint"),
        ("aeexport", ["verify", "EMPTYDIR"], 1, "manifest.json' is missing"),
    ],
)
def test_cli_errors_are_one_line_with_exit_codes(tmp_path, runner, main, args, code, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "WIDE.npy", np.ones((2, 3), np.float32))
    (tmp_path / "EMPTYDIR").mkdir()
    args = [str(MODELS / "digits-dense") if a == "MODEL" else "WIDE.npy" if a == "WIDE" else a for a in args]
    r = runner.invoke(aeruntime_main if main == "aeruntime" else aeexport_main, args)
    assert r.exit_code == code, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_console_scripts_run_as_real_processes(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 64), np.float32))
    r = subprocess.run(
        [str(BIN / "aeruntime"), "score", str(MODELS / "digits-dense"), str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "score,label,p_value" and len(r.stdout.splitlines()) == 4
    r = subprocess.run(
        [str(BIN / "aeexport"), "inspect", str(MODELS / "digits-dense"), "--json"],
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
    )
    assert r.returncode == 0 and json.loads(r.stdout)["model"]["kind"] == "dense"
    # a user's mistake: one line on stderr, exit 2, no traceback; --debug shows it
    np.save(tmp_path / "bad.npy", np.zeros((3, 5), np.float32))
    cmd = [str(BIN / "aeruntime"), "score", str(MODELS / "digits-dense"), str(tmp_path / "bad.npy")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=SUBPROCESS_ENV)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("Error: ")
    assert "X has 5 features, but the model expects 64" in r.stderr
    r = subprocess.run([cmd[0], "--debug", *cmd[1:]], capture_output=True, text=True, env=SUBPROCESS_ENV)
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_plot_without_matplotlib_names_the_extra(tmp_path, runner, dense_bundle, digits, monkeypatch):
    import sys

    X, y = digits
    np.savez(tmp_path / "d.npz", X=X[:100], y=(y[:100] == 0).astype(np.int8))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    r = runner.invoke(
        aeexport_main, ["evaluate", str(dense_bundle), str(tmp_path / "d.npz"), "--plot", str(tmp_path / "p.png")]
    )
    assert r.exit_code == 1 and "pip install 'aeexport[plot]'" in r.output and "Traceback" not in r.output
