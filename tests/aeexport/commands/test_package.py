"""``aeexport package BUNDLE --format mlflow|triton --out DIR``: loaded by the registries' own code.

MLflow's ``mlflow.pyfunc.load_model`` loads the MLflow directory and must score with
aeruntime's numbers; Triton's own protobuf schema (``tritonclient.grpc.model_config_pb2``)
must parse the repository's ``config.pbtxt``, and its ``model.onnx`` must score in plain
onnxruntime. The tests skip, naming the pip extra, when mlflow or tritonclient is missing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeexport.cli import main
from tests.conftest import MODELS

BUNDLE = MODELS / "digits-dense"
MLFLOW_EXTRA = "mlflow-skinny is not installed: pip install mlflow-skinny (the test extra)"
TRITON_EXTRA = "tritonclient is not installed: pip install 'tritonclient[http,grpc]' (the test extra)"


def package(*args: str | Path) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["package", *map(str, args)])
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def reference():
    model = aeruntime.load(BUNDLE, providers="cpu")
    m = json.loads((BUNDLE / "manifest.json").read_text())
    mean, scale = (np.asarray(m["scaler"][k], np.float32) for k in ("mean", "scale"))
    X = (mean + scale * np.random.default_rng(1).standard_normal((53, 64)) * 0.3).astype(np.float32)
    X[-10:] = X[-10:] * 3 + 5  # clear anomalies, so both labels occur
    return X, model.score(X), model.predict(X), m["parity"]["tolerance"], model


def _tree(path: Path) -> dict[str, str]:
    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in path.rglob("*")
        if p.is_file()
    }


def test_mlflow_directory_loads_in_mlflow_and_scores_like_aeruntime(tmp_path, reference):
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip(MLFLOW_EXTRA)
    import mlflow.pyfunc
    import yaml

    X, score, label, tol, model = reference
    code, out = package(BUNDLE, "--format", "mlflow", "--out", tmp_path / "pkg")
    assert code == 0, out
    pkg = tmp_path / "pkg"
    flavor = yaml.safe_load((pkg / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["loader_module"] == "aeruntime.serve.pyfunc" and flavor["data"] == "bundle"
    assert not [p for p in pkg.rglob("*") if p.suffix in (".pkl", ".pickle", ".cloudpickle")]
    assert _tree(pkg / "bundle") == _tree(BUNDLE)  # the bundle byte for byte
    loaded = mlflow.pyfunc.load_model(str(pkg))
    got = loaded.predict(X)
    assert list(got) == ["score", "label", "p_value"]  # the shipped scorer decides (issue 34)
    np.testing.assert_allclose(got["score"], score, rtol=tol["rtol"], atol=tol["atol"])
    np.testing.assert_array_equal(got["label"], label)
    np.testing.assert_array_equal(np.asarray(got["p_value"], np.float32), model.p_value(X))
    assert 0 < label.sum() < len(label)
    assert loaded.metadata.metadata["aeexport_bundle_id"] == model.manifest["bundle_id"]
    assert loaded.metadata.metadata["threshold"] == model.threshold


def test_mlflow_package_loads_through_aeruntimes_checks(tmp_path):
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip(MLFLOW_EXTRA)
    import mlflow.pyfunc

    assert package(BUNDLE, "--format", "mlflow", "--out", tmp_path / "pkg")[0] == 0
    graph = tmp_path / "pkg" / "bundle" / "scorer.onnx"
    data = bytearray(graph.read_bytes())
    data[-1] ^= 1
    graph.write_bytes(bytes(data))
    with pytest.raises(aeruntime.IntegrityError, match="scorer.onnx"):
        mlflow.pyfunc.load_model(str(tmp_path / "pkg"))


def test_triton_repository_parses_with_tritons_schema_and_scores_in_onnxruntime(tmp_path, reference):
    if importlib.util.find_spec("tritonclient") is None:
        pytest.skip(TRITON_EXTRA)
    import onnxruntime as ort
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    X, score, _, tol, model = reference
    code, out = package(BUNDLE, "--format", "triton", "--out", tmp_path / "repo", "--max-batch-size", "256")
    assert code == 0, out
    name = BUNDLE.name
    assert sorted(_tree(tmp_path / "repo")) == sorted(
        ["aeexport-package.json", f"{name}/config.pbtxt", f"{name}/1/model.onnx"]
    )
    config = text_format.Parse((tmp_path / "repo" / name / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    assert config.name == name and config.backend == "onnxruntime" and config.max_batch_size == 256
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [("x", model_config_pb2.TYPE_FP32, [64])]
    manifest = model.manifest
    assert [o.name for o in config.output] == manifest["graphs"]["scorer"]["outputs"]
    assert config.output[0].data_type == model_config_pb2.TYPE_FP32 and list(config.output[0].reshape.shape) == []
    assert config.HasField("dynamic_batching")
    params = {k: v.string_value for k, v in config.parameters.items()}
    assert params["aeexport.bundle_id"] == manifest["bundle_id"]
    assert float(params["aeexport.threshold"]) == model.threshold
    graph = tmp_path / "repo" / name / "1" / "model.onnx"
    assert graph.read_bytes() == (BUNDLE / "scorer.onnx").read_bytes()
    sess = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    (got,) = sess.run(["score"], {"x": X})
    np.testing.assert_allclose(got, score, rtol=tol["rtol"], atol=tol["atol"])


def test_package_follows_the_output_rule(tmp_path):
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, msg = package(BUNDLE, "--format", "triton", "--out", out)
    assert code == 2 and "is not empty and is not a model package written by `aeexport package`" in msg
    assert (out / "notes.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    (out / "notes.txt").unlink()
    assert package(BUNDLE, "--format", "triton", "--out", out)[0] == 0
    first = _tree(out)
    assert package(BUNDLE, "--format", "triton", "--out", out)[0] == 0  # ours: replaced
    assert _tree(out) == first
    (out / "digits-dense" / "extra.txt").write_text("mine too")
    code, msg = package(BUNDLE, "--format", "mlflow", "--out", out)
    assert code == 2 and "1 file(s) it did not write: digits-dense/extra.txt" in msg
    assert (out / "digits-dense" / "extra.txt").read_text() == "mine too"
    copy = tmp_path / "b"
    shutil.copytree(BUNDLE, copy)
    code, msg = package(copy, "--format", "mlflow", "--out", copy)
    assert code == 2 and "is the input of this command" in msg


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--format", "onnx"], r"Invalid value for '--format'"),
        (["--format", "triton", "--name", "../up"], r"--name must be 1 to 128 letters"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, args, match):
    import re

    code, msg = package(BUNDLE, *args, "--out", tmp_path / "pkg")
    assert code == 2 and re.search(match, msg), msg
    assert not (tmp_path / "pkg").exists()
