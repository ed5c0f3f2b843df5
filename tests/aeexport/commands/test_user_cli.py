"""What a new user hits on the command line (issue 14): labels, column names, one consistent CLI."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from aeexport.cli import main as aeexport_main
from aeruntime.cli import main as aeruntime_main
from tests.conftest import BIN, MODELS, SUBPROCESS_ENV


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def _csv(path, X, names, extra=None):
    """Write rows X (n, k) with header ``names`` (+ one extra (name, column) pair) as CSV."""
    cols = [X[:, j] for j in range(X.shape[1])]
    header = list(names)
    if extra is not None:
        header.append(extra[0])
        cols.append(extra[1])
    data = np.column_stack(cols)
    np.savetxt(path, data, delimiter=",", header=",".join(header), comments="", fmt="%.6g")
    return path


@pytest.fixture(scope="module")
def tabular(tmp_path_factory):
    """400 rows of 6 gaussian features, the last 40 shifted (anomalies), and their 0/1 labels."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    y = np.zeros(400, np.int8)
    X[-40:] += 4.0
    y[-40:] = 1
    return tmp_path_factory.mktemp("tab"), X, y


# ---------------------------------------------------------------- labels and names


def test_dataset_keeps_csv_and_parquet_column_names(tabular):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from aeexport.data import load_dataset

    d, X, y = tabular
    names = [f"f{j}" for j in range(6)]
    ds = load_dataset(str(_csv(d / "a.csv", X, names, ("is_anomaly", y))), label_column="is_anomaly")
    assert ds.feature_names == names and ds.X.shape == (400, 6)
    np.testing.assert_array_equal(ds.y, y)
    np.testing.assert_allclose(ds.X, X, rtol=1e-5, atol=1e-5)
    table = pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "is_anomaly": y})
    pq.write_table(table, d / "a.parquet")
    ds = load_dataset(str(d / "a.parquet"), label_column="is_anomaly")
    assert ds.feature_names == names
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    np.save(d / "a.npy", X)
    assert load_dataset(str(d / "a.npy")).feature_names is None  # arrays stay positional


@pytest.mark.parametrize("name", ["is_anomaly", "label", "Target", "y", "anomaly_flag", "outlier"])
def test_a_forgotten_label_column_warns_naming_the_flag(tabular, name):
    from aeexport.data import LabelLikeColumnWarning, load_dataset

    d, X, y = tabular
    path = _csv(d / f"{name}.csv", X, [f"f{j}" for j in range(6)], (name, y))
    with pytest.warns(LabelLikeColumnWarning, match=f"--label-column {name}"):
        ds = load_dataset(str(path))
    assert ds.X.shape == (400, 7)


def test_no_label_warning_for_given_label_column_or_non_binary_column(tabular, recwarn):
    from aeexport.data import LabelLikeColumnWarning, load_dataset

    d, X, y = tabular
    names = [f"f{j}" for j in range(6)]
    load_dataset(str(_csv(d / "given.csv", X, names, ("label", y))), label_column="label")
    load_dataset(str(_csv(d / "cont.csv", X, names, ("target", X[:, 0]))))  # a real-valued target feature
    assert not [w for w in recwarn if issubclass(w.category, LabelLikeColumnWarning)]


def test_train_warning_is_one_line_without_source(runner, tabular, tmp_path):
    d, X, y = tabular
    path = _csv(d / "warn.csv", X, [f"f{j}" for j in range(6)], ("is_anomaly", y))
    r = runner.invoke(aeexport_main, ["train", str(path), "--out", str(tmp_path / "c"), "--epochs", "2", "-q"])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if "is_anomaly" in ln]
    assert len(lines) == 1 and lines[0].startswith("Warning: ") and "--label-column is_anomaly" in lines[0]
    assert "warnings.warn" not in r.stderr and ".py:" not in r.stderr


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_label_column_on_arrays_is_an_error(runner, tabular, tmp_path, suffix):
    _, X, y = tabular
    path = tmp_path / f"x{suffix}"
    if suffix == ".npy":
        np.save(path, X)
    else:
        np.savez(path, X=X, y=y)
    r = runner.invoke(aeexport_main, ["train", str(path), "--out", str(tmp_path / "c"), "--label-column", "y"])
    assert r.exit_code == 2 and "--label-column 'y' applies to CSV and Parquet tables only" in r.output
    np.save(tmp_path / "d.npy", np.zeros((3, 64), np.float32))
    r = runner.invoke(
        aeruntime_main, ["score", str(MODELS / "digits-dense"), str(tmp_path / "d.npy"), "--label-column", "y"]
    )
    assert r.exit_code == 2 and "--label-column 'y' applies to CSV and Parquet tables only" in r.output
    r = runner.invoke(aeexport_main, ["evaluate", str(MODELS / "digits-dense"), str(path), "--label-column", "y"])
    assert r.exit_code == 2 and "--label-column 'y' applies to CSV and Parquet tables only" in r.output


def test_multiclass_labels_take_anomaly_class_in_train_and_evaluate(runner, tabular, tmp_path, dense_bundle, digits):
    _, X, _ = tabular
    c = np.repeat([0, 1, 2, 3], 100)  # four classes
    path = _csv(tmp_path / "multi.csv", X, [f"f{j}" for j in range(6)], ("c", c))
    ckpt = tmp_path / "ckpt"
    r = runner.invoke(aeexport_main, ["train", str(path), "--out", str(ckpt), "--label-column", "c", "-q"])
    assert r.exit_code == 2 and "pass --anomaly-class" in r.output
    r = runner.invoke(
        aeexport_main,
        ["train", str(path), "--out", str(ckpt), "--label-column", "c", "--anomaly-class", "3", "--epochs", "2", "-q"],
    )
    assert r.exit_code == 0, r.output
    ds = json.loads((ckpt / "config.json").read_text())["dataset"]
    assert ds["anomaly_class"] == 3 and ds["train_rows"] + ds["val_rows"] == 300  # class 3 held out
    Xd, yd = digits
    dpath = _csv(tmp_path / "digits.csv", Xd[:300], [f"p{j}" for j in range(64)], ("digit", yd[:300]))
    r = runner.invoke(aeexport_main, ["evaluate", str(dense_bundle), str(dpath), "--label-column", "digit"])
    assert r.exit_code == 2 and "pass --anomaly-class" in r.output
    r = runner.invoke(
        aeexport_main,
        ["evaluate", str(dense_bundle), str(dpath), "--label-column", "digit", "--anomaly-class", "0", "--json"],
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["anomalies"] == int((yd[:300] == 0).sum()) and report["rows"] == 300


def test_train_holds_out_the_digits_anomaly_class_like_run(runner, tmp_path):
    from aeexport.data import DIGITS_ANOMALY_CLASS

    r = runner.invoke(aeexport_main, ["train", "digits", "--out", str(tmp_path / "c"), "--epochs", "1", "-q"])
    assert r.exit_code == 0, r.output
    ds = json.loads((tmp_path / "c" / "config.json").read_text())["dataset"]
    from sklearn.datasets import load_digits

    n_normal = int((load_digits().target != DIGITS_ANOMALY_CLASS).sum())
    assert ds["anomaly_class"] == DIGITS_ANOMALY_CLASS == 0
    assert ds["train_rows"] + ds["val_rows"] == n_normal
    assert "class 0" in r.output


def test_csv_feature_names_reach_checkpoint_and_export(runner, tabular, tmp_path, monkeypatch):
    _, X, y = tabular
    names = [f"f{j}" for j in range(6)]
    path = _csv(tmp_path / "n.csv", X, names, ("is_anomaly", y))
    ckpt = tmp_path / "ckpt"
    r = runner.invoke(
        aeexport_main, ["train", str(path), "--out", str(ckpt), "--label-column", "is_anomaly", "--epochs", "2", "-q"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads((ckpt / "config.json").read_text())["dataset"]["feature_names"] == names
    import aeexport.export

    seen = {}

    def fake_export(model, out, **kw):
        seen.update(kw)
        raise SystemExit(0)

    monkeypatch.setattr(aeexport.export, "export_bundle", fake_export)
    runner.invoke(aeexport_main, ["export", str(ckpt), "--out", str(tmp_path / "b")])
    assert seen["dataset"]["feature_names"] == names  # the export names the inputs from the dataset section


def test_exported_bundle_records_feature_names(runner, tabular, tmp_path):
    """The CSV header's names reach the bundle (export_bundle takes them from the dataset section)."""
    _, X, y = tabular
    names = [f"f{j}" for j in range(6)]
    path = _csv(tmp_path / "n.csv", X, names, ("is_anomaly", y))
    r = runner.invoke(
        aeexport_main,
        [
            "run",
            str(path),
            "--out",
            str(tmp_path / "run"),
            "--label-column",
            "is_anomaly",
            "--epochs",
            "2",
            "-q",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "run" / "bundle" / "manifest.json").read_text())
    assert manifest["input"]["feature_names"] == names


# ---------------------------------------------------------------- bundles and thresholds


def test_inspect_names_missing_files_and_exits_1(runner, dense_bundle, tmp_path):
    b = tmp_path / "b"
    shutil.copytree(dense_bundle, b)
    r = runner.invoke(aeexport_main, ["inspect", str(b)])
    assert r.exit_code == 0, r.output
    (b / "scorer.onnx").unlink()
    r = runner.invoke(aeexport_main, ["inspect", str(b)])
    assert r.exit_code == 1
    assert "bundle not valid" in r.stderr and "scorer.onnx" in r.stderr


def test_percentile_with_threshold_param_is_a_usage_error(runner, tmp_path):
    (tmp_path / "ckpt").mkdir()
    for extra, message in [
        (["--percentile", "90", "--threshold-param", "0.1"], "--percentile and --threshold-param"),
        (["--percentile", "90", "--threshold-method", "target_fpr"], "--percentile applies"),
        (["--threshold", "1", "--percentile", "90"], "--threshold fixes the threshold"),
    ]:
        r = runner.invoke(aeexport_main, ["export", str(tmp_path / "ckpt"), "--out", str(tmp_path / "b"), *extra])
        assert r.exit_code == 2, r.output
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_few_rows_warn_that_the_threshold_is_unstable(runner, digits, tmp_path):
    np.save(tmp_path / "few.npy", digits[0][:100])
    r = runner.invoke(
        aeexport_main, ["train", str(tmp_path / "few.npy"), "--out", str(tmp_path / "c"), "--epochs", "2", "-q"]
    )
    assert r.exit_code == 0, r.output
    assert "Warning: the threshold rests on only 15 held-out rows" in r.stderr
    r = runner.invoke(aeexport_main, ["train", "digits", "--out", str(tmp_path / "c2"), "--epochs", "1", "-q"])
    assert "threshold rests on" not in r.stderr


def test_train_says_when_it_stopped_at_the_epoch_cap(runner, tmp_path):
    r = runner.invoke(aeexport_main, ["train", "digits", "--out", str(tmp_path / "c"), "--epochs", "2", "-q"])
    assert r.exit_code == 0 and "stopped at the epoch cap (--epochs 2)" in r.output
    r = runner.invoke(
        aeexport_main,
        ["train", "digits", "--out", str(tmp_path / "c"), "--epochs", "50", "--lr", "1e-12", "--patience", "1", "-q"],
    )
    assert r.exit_code == 0 and "epoch cap" not in r.output, r.output  # early stopping ended it


@pytest.mark.slow
def test_run_takes_data_positionally_with_threshold_score_and_plot(runner, tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(
        aeexport_main,
        [
            "run",
            "digits",
            "--out",
            str(out),
            "--epochs",
            "3",
            "-q",
            "--score",
            "mae",
            "--threshold-method",
            "target_fpr",
            "--threshold-param",
            "0.1",
            "--plot",
            str(tmp_path / "p.png"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["score"] == "mae" and s["threshold_method"] == "target_fpr" and s["threshold_params"] == {"fpr": 0.1}
    assert (tmp_path / "p.png").stat().st_size > 1000 and s["stopped_at_cap"] is True
    # the hint's figures are what that threshold gives on the stored test scores
    t = np.load(out / "test_scores.npz", allow_pickle=False)
    hint = s["threshold_hint"]
    flagged = t["score"] > hint["threshold"]
    assert hint["recall"] == pytest.approx(flagged[t["y"] == 1].mean())
    assert hint["false_positive_rate"] == pytest.approx(flagged[t["y"] == 0].mean())
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(t["y"], t["score"])
    assert hint["recall"] - hint["false_positive_rate"] == pytest.approx((tpr - fpr).max())
    r = runner.invoke(aeexport_main, ["run", "digits", "--out", str(tmp_path / "r2"), "--epochs", "2", "-q"])
    assert r.exit_code == 0, r.output
    assert "{" not in r.stdout and "[" not in r.stdout  # no Python reprs
    for word in ("note", "threshold", "test"):
        assert any(line.startswith(word) for line in r.stdout.splitlines()), r.stdout
    r = runner.invoke(aeexport_main, ["run", "--dataset", "digits", "--out", str(tmp_path / "r3")])
    assert r.exit_code == 2 and "No such option '--dataset'" in r.stderr  # the deprecated option is gone


# ---------------------------------------------------------------- one consistent CLI


def test_debug_works_after_the_subcommand(runner, tmp_path):
    r = runner.invoke(aeexport_main, ["train", "nosuchdata", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and r.exception is None or isinstance(r.exception, SystemExit)
    r = runner.invoke(aeexport_main, ["train", "nosuchdata", "--out", str(tmp_path / "o"), "--debug"])
    from aeruntime.errors import InvalidInputError

    assert isinstance(r.exception, InvalidInputError)  # re-raised for the traceback
    r = runner.invoke(aeruntime_main, ["info", str(tmp_path), "--debug"])
    assert r.exception is not None and not isinstance(r.exception, SystemExit)


@pytest.mark.parametrize(
    ("main", "args", "message"),
    [
        (aeexport_main, ["run", "--out", "o", "--model", "gan"], "Invalid value for '--model'"),
        (aeexport_main, ["train"], "Missing argument 'DATA'"),
        (aeexport_main, ["nosuchcommand"], "No such command"),
        (aeruntime_main, ["score", "x"], "Directory 'x' does not exist"),
    ],
)
def test_usage_errors_are_one_line_on_stderr(runner, main, args, message):
    r = runner.invoke(main, args)
    assert r.exit_code == 2
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("Error: ") and message in r.stderr and "--help" in r.stderr


def test_usage_error_is_one_line_in_a_real_process():
    r = subprocess.run(
        [str(BIN / "aeexport"), "train", "digits", "--epochs", "0"],
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
        check=False,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "Invalid value for '--epochs'" in r.stderr


def test_inspect_and_info_print_no_python_reprs(runner):
    r = runner.invoke(aeexport_main, ["inspect", str(MODELS / "digits-dense")])
    assert r.exit_code == 0, r.output
    assert not set("{}[]'") & set(r.output), r.output
    assert "percentile 95" in r.output and "graph      scorer: scorer.onnx, x -> score" in r.output
    r = runner.invoke(aeruntime_main, ["info", str(MODELS / "digits-dense")])
    assert r.exit_code == 0 and not set("{}[]'") & set(r.output), r.output
    assert "decoder, encoder, scorer" in r.output


def test_evaluate_and_score_share_the_providers_default():
    from aeruntime.clibase import DEFAULT_PROVIDERS

    def param(cmd, name):
        return next(p for p in cmd.params if p.name == name)

    ev, sc = (
        param(aeexport_main.commands["evaluate"], "providers"),
        param(aeruntime_main.commands["score"], "providers"),
    )
    assert ev.default == sc.default == DEFAULT_PROVIDERS
    assert list(ev.type.choices) == list(sc.type.choices)


def test_verify_drops_the_label_column_of_csv_data(runner, dense_bundle, digits, tmp_path):
    X, y = digits
    path = _csv(tmp_path / "d.csv", X[:64], [f"p{j}" for j in range(64)], ("is_anomaly", (y[:64] == 0).astype(int)))
    r = runner.invoke(
        aeexport_main, ["verify", str(dense_bundle), "--data", str(path), "--label-column", "is_anomaly", "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["ok"]
