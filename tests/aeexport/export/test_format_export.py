"""Export through aeruntime.format.BundleWriter: what the exporter must and must not do.

Bugs fixed here (each test fails on the exporter before the fix): the caller's
model changed in place, a fixed threshold checked as if the score were mse,
graphs carrying the exporting machine's paths (and a bundle_id depending on
them); plus feature names, int8 code parameters, slim bundles and
``aeexport verify`` input errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from onnx import numpy_helper

import aeruntime
import aeruntime.format as fmt
from aeexport.cli import main as aeexport_main
from aeexport.export import export_bundle
from aeexport.models.base import ELEMENT_ERRORS
from aeexport.settings import ExportOptions, ThresholdSpec
from aeruntime.errors import InvalidInputError
from aeruntime.latent_codes import dequantize_int8, quantize_int8
from tests.conftest import ROOT, SUBPROCESS_ENV

NAMES = [f"px{i:02d}" for i in range(64)]


@pytest.fixture(scope="module")
def named_bundle(dense_trained, digits_split, tmp_path_factory):
    """The dense model exported with feature names and a training history."""
    out = tmp_path_factory.mktemp("named") / "dense"
    training = {**dense_trained.summary(), "history": [{"epoch": 1, "train_loss": 1.5, "val_loss": 1.25}]}
    export_bundle(
        dense_trained.model, out, calibration_x=digits_split.val, training=training, dataset={"feature_names": NAMES}
    )
    return out


def test_export_does_not_change_the_callers_model(dense_trained, digits_split, tmp_path):
    model = dense_trained.model
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_bundle(
        model,
        tmp_path / "b",
        calibration_x=digits_split.val[:50],
        threshold_spec=ThresholdSpec(score="mae"),
        options=ExportOptions(batches=(1, 7)),
    )
    assert model.training and model.score_name == "mse"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()


def test_fixed_threshold_is_checked_against_the_chosen_score(dense_trained, digits_split, tmp_path):
    """A score that may be negative accepts a negative fixed threshold; mse refuses it."""
    spec = fmt.ScoreSpec(
        "test_signed",
        {"name": "test_signed", "direction": "higher_is_more_anomalous", "definition": "mean of (x - x_hat) / scale"},
        element_error=lambda r: r,
        nonnegative=False,
    )
    fmt.register_score(spec)
    ELEMENT_ERRORS["test_signed"] = lambda d: d
    import aeexport.export as ex

    ex.SCORE_DEFINITIONS["test_signed"] = spec.definition
    try:
        m = export_bundle(
            dense_trained.model,
            tmp_path / "signed",
            calibration_x=digits_split.val[:50],
            threshold_spec=ThresholdSpec(score="test_signed", value=-0.25),
            options=ExportOptions(batches=(1, 7)),
        )
        assert m["threshold"]["value"] == -0.25 and m["score"]["name"] == "test_signed"
        assert aeruntime.load(tmp_path / "signed", providers="cpu").threshold == -0.25
    finally:
        fmt.SCORES.pop("test_signed")
        ELEMENT_ERRORS.pop("test_signed")
        ex.SCORE_DEFINITIONS.pop("test_signed")
    with pytest.raises(InvalidInputError, match="'mae' scores are >= 0"):
        export_bundle(
            dense_trained.model,
            tmp_path / "mae",
            calibration_x=digits_split.val[:50],
            threshold_spec=ThresholdSpec(score="mae", value=-0.25),
        )
    assert not (tmp_path / "mae").exists()


def test_graphs_hold_no_exporter_metadata_and_pass_the_onnx_checker(dense_bundle):
    for role in ("encoder", "decoder", "scorer"):
        data = (dense_bundle / f"{role}.onnx").read_bytes()
        assert str(ROOT).encode() not in data and b"stack_trace" not in data and b"pkg.torch" not in data
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto, full_check=True)
        assert all(len(n.metadata_props) == 0 and not n.doc_string for n in proto.graph.node)
        assert {p.key for p in proto.metadata_props} >= {"aeexport.bundle_id", "aeexport.partners"}
        assert proto.producer_name == "aeexport" and role in proto.doc_string
    for p in (dense_bundle / "test_data").rglob("*.pb"):
        label = p.parts[-3] == "scorer" and p.name == "output_1.pb"  # the decision scorer's label: bool
        assert numpy_helper.to_array(onnx.load_tensor(str(p))).dtype == (np.bool_ if label else np.float32)


@pytest.mark.slow
def test_same_weights_same_bundle_id_from_another_checkout_and_directory(dense_bundle, digits_split, tmp_path):
    """Export the bundle's weights again from a copy of the code in another directory, in another process."""
    checkout = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(ROOT / "aeexport", checkout / "aeexport", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "runtime" / "aeruntime", checkout / "runtime" / "aeruntime", ignore=shutil.ignore_patterns("__pycache__")
    )
    np.save(tmp_path / "cal.npy", digits_split.val)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    m = json.loads((dense_bundle / "manifest.json").read_text())
    code = (
        "import json, sys, numpy as np; from aeexport.train import model_from_weights; from aeexport.settings import ThresholdSpec; "
        "from aeexport.export import export_bundle; m = json.load(open(sys.argv[1] + '/manifest.json')); "
        "model = model_from_weights(m['model']['kind'], m['model']['config'], m['input']['shape'], "
        "sys.argv[1] + '/weights.safetensors'); "
        "out = export_bundle(model, 'again', calibration_x=np.load(sys.argv[2]), threshold_spec=ThresholdSpec(value=float(sys.argv[3]))); "
        "import aeexport; print(json.dumps([aeexport.__file__, out['bundle_id'], "
        "{r: g['graph_sha256'] for r, g in out['graphs'].items()}]))"
    )
    env = {**SUBPROCESS_ENV, "PYTHONPATH": f"{checkout}:{checkout / 'runtime'}"}
    res = subprocess.run(
        [sys.executable, "-c", code, str(dense_bundle), str(tmp_path / "cal.npy"), repr(m["threshold"]["value"])],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    where, bundle_id, hashes = json.loads(res.stdout.strip().splitlines()[-1])
    assert where.startswith(str(checkout))  # really the other copy of the code
    assert hashes == {r: g["graph_sha256"] for r, g in m["graphs"].items()}
    # the same threshold (fixed here: the scorer holds it as its threshold input's default), other time, other
    # directory: same graphs, same id
    assert bundle_id == m["bundle_id"]
    assert str(checkout).encode() not in (cwd / "again" / "encoder.onnx").read_bytes()


def test_feature_names_quantization_and_history_in_the_manifest(named_bundle, digits_split):
    model = aeruntime.load(named_bundle, providers="cpu")
    m = model.manifest
    assert m["input"]["feature_names"] == NAMES and model.feature_names == NAMES
    meta = fmt.scan_model((named_bundle / "decoder.onnx").read_bytes()).metadata
    assert json.loads(meta["aeexport.feature_names"]) == NAMES
    assert m["training"]["history"] == [{"epoch": 1, "train_loss": 1.5, "val_loss": 1.25}]
    ex = model.explain(digits_split.test[:3], top_k=2)
    assert ex.names == [[NAMES[j] for j in row] for row in ex.indices.tolist()]
    params = m["latent"]["quantization"]["int8"]
    z = model.encode(digits_split.val)
    assert params["rows"] == len(digits_split.val) and len(params["scale"]) == z.shape[1]
    back = dequantize_int8(quantize_int8(z, params), params)
    assert np.abs(back - z).max() <= max(params["scale"]) / 2 + 1e-6  # within half a step: no clipping
    with pytest.raises(InvalidInputError, match="feature_names must be 64 distinct"):
        export_bundle(
            aeexport_model(named_bundle),
            named_bundle.parent / "bad",
            calibration_x=digits_split.val,
            dataset={"feature_names": NAMES[:10]},
        )


def aeexport_model(bundle: Path):
    from aeexport.train import model_from_weights

    m = json.loads((bundle / "manifest.json").read_text())
    return model_from_weights(
        m["model"]["kind"], m["model"]["config"], m["input"]["shape"], bundle / "weights.safetensors"
    )


def test_variants_import_and_run_without_torch(dense_bundle, tmp_path):
    code = (
        "import importlib.machinery as im, sys\n"
        "class NoTorch(im.PathFinder):\n"
        "    @classmethod\n"
        "    def find_spec(cls, name, path=None, target=None):\n"
        "        return None if name.split('.')[0] == 'torch' else super().find_spec(name, path, target)\n"
        "sys.meta_path[:] = [NoTorch if f is im.PathFinder else f for f in sys.meta_path]\n"
        "import aeexport.variants as v\n"
        "m = v.make_variant(sys.argv[1], 'int8-dynamic', sys.argv[2])\n"
        "r = v.verify_variant(sys.argv[2], parent=sys.argv[1])\n"
        "print(m['parity']['ok'], r['ok'], 'torch' in sys.modules)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(dense_bundle), str(tmp_path / "int8")],
        env=SUBPROCESS_ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True", "False"]


# ---------------------------------------------------------------------- aeexport verify / slim
def _csv(path: Path, X: np.ndarray, label: np.ndarray | None = None) -> Path:
    cols = [f"f{i}" for i in range(X.shape[1])] + (["is_anomaly"] if label is not None else [])
    rows = [",".join(map(str, list(r) + ([int(label[i])] if label is not None else []))) for i, r in enumerate(X)]
    path.write_text(",".join(cols) + "\n" + "\n".join(rows) + "\n")
    return path


def test_verify_drops_the_label_column_and_checks_width_and_nan(dense_bundle, digits_split, tmp_path):
    runner = CliRunner()
    X = digits_split.test[:40]
    labelled = _csv(tmp_path / "labelled.csv", X, np.arange(40) % 2)
    res = runner.invoke(
        aeexport_main, ["verify", str(dense_bundle), "--data", str(labelled), "--label-column", "is_anomaly", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ok"] is True
    res = runner.invoke(aeexport_main, ["verify", str(dense_bundle), "--data", str(labelled)])
    assert res.exit_code == 2 and "width 65, but the bundle expects 64 features" in res.output, res.output
    assert "--label-column" in res.output and "size of tensor" not in res.output
    bad = X.copy()
    bad[3, 7] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    res = runner.invoke(aeexport_main, ["verify", str(dense_bundle), "--data", str(tmp_path / "nan.npy")])
    assert res.exit_code == 2 and "row 3, column 7" in res.output, res.output


def test_slim_bundle_cli_and_verify(dense_bundle, digits_split, tmp_path):
    runner = CliRunner()
    res = runner.invoke(aeexport_main, ["slim", str(dense_bundle), "--out", str(tmp_path / "slim")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "slim" / "manifest.json").read_text())
    assert m["omitted"] == ["test_data/", "weights.safetensors"] and "golden" not in m
    assert not (tmp_path / "slim" / "weights.safetensors").exists()
    x = digits_split.test[:50]
    np.testing.assert_array_equal(aeruntime.load(tmp_path / "slim").score(x), aeruntime.load(dense_bundle).score(x))
    res = runner.invoke(aeexport_main, ["verify", str(tmp_path / "slim")])
    assert res.exit_code == 0 and "torch parity needs the full bundle" in res.output, res.output
    res = runner.invoke(aeexport_main, ["slim", str(dense_bundle), "--out", str(tmp_path / "keep"), "--keep-golden"])
    assert res.exit_code == 0
    res = runner.invoke(aeexport_main, ["verify", str(tmp_path / "keep"), "--json"])
    report = json.loads(res.stdout)
    assert res.exit_code == 0 and report["torch_parity"] == "skipped"
    assert report["golden_vectors"] == 10  # 2 sets x (encoder 1 + decoder 1 + scorer 3 outputs: score, label, p_value)
    golden = next(iter((tmp_path / "keep" / "test_data" / "scorer").rglob("output_0.pb")))
    t = onnx.load_tensor(str(golden))
    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) + 1, t.name))
    golden.write_bytes(t.SerializeToString())
    fmt_m = json.loads((tmp_path / "keep" / "manifest.json").read_text())
    fmt_m["files"][golden.relative_to(tmp_path / "keep").as_posix()] = fmt.sha256_file(golden)
    (tmp_path / "keep" / "manifest.json").write_text(json.dumps(fmt_m))
    res = runner.invoke(aeexport_main, ["verify", str(tmp_path / "keep")])
    assert res.exit_code == 1  # a golden vector that no longer matches fails a slim bundle too


def test_export_slim_flag(dense_trained, digits_split, tmp_path):
    m = export_bundle(
        dense_trained.model,
        tmp_path / "slim",
        calibration_x=digits_split.val[:60],
        options=ExportOptions(slim=True, batches=(1, 7)),
    )
    assert sorted(m["files"]) == ["decoder.onnx", "encoder.onnx", "scorer.onnx"] and m["parity"]["ok"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slim"]  # the full export was a temporary
    assert aeruntime.load(tmp_path / "slim").manifest["omitted"] == ["test_data/", "weights.safetensors"]
