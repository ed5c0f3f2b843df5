"""Integrity and safe loading: hashes, partner graphs, format versions, external data,
symlinks, the manifest schema, and no pickle anywhere in the source tree."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import onnx
import pytest

import aeruntime
from aeruntime import sessions
from aeruntime.errors import (
    IntegrityError,
    ManifestError,
    UnsafeBundleError,
    UnsupportedFormatError,
)
from aeruntime.format.onnxscan import ProtoError, scan_model
from tests.conftest import ROOT
from tests.helpers import (
    copy_bundle,
    edit_manifest,
    fake_other_export,
    graph_sha256,
    perturb_weights,
    read_manifest,
    rehash,
    set_meta,
    write_manifest,
)

X = np.linspace(0, 16, 5 * 64, dtype=np.float32).reshape(5, 64)


@pytest.fixture
def bundle(tmp_path, dense_bundle) -> Path:
    return copy_bundle(dense_bundle, tmp_path / "bundle")


@pytest.fixture
def no_ort(monkeypatch):
    """Fail the test if onnxruntime is asked to create a session."""
    calls = []

    def refuse(*a, **kw):
        calls.append(a)
        raise AssertionError("onnxruntime saw a graph that should have been refused first")

    monkeypatch.setattr(sessions.ort, "InferenceSession", refuse)
    return calls


# ----------------------------------------------------------------------------- sha256 of files
def test_verify_detects_modified_file_and_verify_false_skips(bundle):
    w = bundle / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:-1] + bytes([w.read_bytes()[-1] ^ 1]))
    with pytest.raises(IntegrityError, match=r"weights\.safetensors has sha256 .* modified or corrupted"):
        aeruntime.load(bundle, providers="cpu")
    # verify=False: documented to skip the file hashes (weights are not read by the runtime)
    model = aeruntime.load(bundle, providers="cpu", verify=False)
    assert model.score(X).shape == (5,)


def test_modified_graph_body_caught_by_file_hash_or_graph_hash(bundle):
    enc = onnx.load(str(bundle / "encoder.onnx"))
    perturb_weights(enc)  # metadata untouched: claims the original graph_sha256
    onnx.save(enc, str(bundle / "encoder.onnx"))
    with pytest.raises(IntegrityError, match=r"encoder\.onnx has sha256"):
        aeruntime.load(bundle, providers="cpu")
    rehash(bundle)  # someone rewrites the manifest's file hashes to match
    with pytest.raises(IntegrityError, match=r"graph inside encoder\.onnx hashes to .* modified after export"):
        aeruntime.load(bundle, providers="cpu")
    # verify=False skips every hash: the documented price of the faster load
    model = aeruntime.load(bundle, providers="cpu", verify=False)
    assert model.encode(X).shape == (5, *model.latent_shape)


def test_other_export_is_a_valid_bundle(tmp_path, dense_bundle):
    other = fake_other_export(dense_bundle, tmp_path / "other")
    a = aeruntime.load(dense_bundle, providers="cpu")
    b = aeruntime.load(other, providers="cpu")
    assert not np.allclose(a.encode(X), b.encode(X))


@pytest.mark.parametrize("verify", [True, False])
def test_graphs_from_two_exports_cannot_be_mixed(tmp_path, dense_bundle, verify):
    other = fake_other_export(dense_bundle, tmp_path / "other")
    mixed = copy_bundle(dense_bundle, tmp_path / "mixed")
    (mixed / "decoder.onnx").write_bytes((other / "decoder.onnx").read_bytes())
    rehash(mixed)
    with pytest.raises(IntegrityError, match=r"decoder\.onnx belongs to bundle 'f{32}'.*different exports"):
        aeruntime.load(mixed, providers="cpu", verify=verify)
    # ... and rewriting the manifest's graph record to the foreign graph does not help
    edit_manifest(
        mixed,
        lambda m: m["graphs"]["decoder"].update(graph_sha256=read_manifest(other)["graphs"]["decoder"]["graph_sha256"]),
    )
    with pytest.raises(IntegrityError, match=r"different exports"):
        aeruntime.load(mixed, providers="cpu", verify=verify)


@pytest.mark.parametrize("verify", [True, False])
def test_foreign_graph_with_forged_bundle_id_caught_by_partner_hashes(tmp_path, dense_bundle, verify):
    other = fake_other_export(dense_bundle, tmp_path / "other")
    mixed = copy_bundle(dense_bundle, tmp_path / "mixed")
    m = read_manifest(mixed)
    dec = onnx.load(str(other / "decoder.onnx"))
    set_meta(dec, bundle_id=m["bundle_id"])  # forge the id, keep its own honest graph_sha256
    onnx.save(dec, str(mixed / "decoder.onnx"))
    m["graphs"]["decoder"]["graph_sha256"] = graph_sha256(dec)  # manifest rewritten to match
    rehash(mixed, m)
    with pytest.raises(IntegrityError, match=r"exported together with a decoder graph of sha256 .*different exports"):
        aeruntime.load(mixed, providers="cpu", verify=verify)


def test_graph_used_in_wrong_role_refused(bundle):
    edit_manifest(bundle, lambda m: m["graphs"]["encoder"].update(file="decoder.onnx"))
    with pytest.raises(IntegrityError, match=r"uses decoder\.onnx as the encoder graph, but its metadata says"):
        aeruntime.load(bundle, providers="cpu")


# ----------------------------------------------------------------------------- format version
@pytest.mark.parametrize("version", [2, 99, 0, -1, "1", 1.5, True, None])
def test_unknown_format_version_refused_naming_supported(bundle, version):
    edit_manifest(bundle, lambda m: m.update(format_version=version))
    with pytest.raises(UnsupportedFormatError, match=r"format_version .* reads format versions \[1\]"):
        aeruntime.load(bundle, providers="cpu")


# ----------------------------------------------------------------------------- external data
def _externalize(bundle: Path, location: str, data_file: Path | None) -> None:
    enc = onnx.load(str(bundle / "encoder.onnx"))
    init = enc.graph.initializer[0]
    raw = onnx.numpy_helper.to_array(init).tobytes()
    if data_file is not None:
        data_file.parent.mkdir(parents=True, exist_ok=True)
        data_file.write_bytes(raw)  # a real file there: onnxruntime *would* read it
    onnx.external_data_helper.set_external_data(init, location=location, offset=0, length=len(raw))
    init.data_location = onnx.TensorProto.EXTERNAL
    init.ClearField("raw_data")
    (bundle / "encoder.onnx").write_bytes(enc.SerializeToString())
    rehash(bundle)


@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize(
    "location, where",
    [
        ("../secret.bin", "outside the bundle directory"),
        ("ABSOLUTE", "outside the bundle directory"),
        ("weights.bin", "inside the bundle"),
    ],
)
def test_external_data_refused_before_onnxruntime(tmp_path, bundle, no_ort, location, where, verify):
    data_file = tmp_path / "secret.bin" if location != "weights.bin" else bundle / "weights.bin"
    if location == "ABSOLUTE":
        location = str(data_file)
    _externalize(bundle, location, data_file)
    with pytest.raises(UnsafeBundleError, match=rf"encoder\.onnx stores tensor .* as ONNX external data .*{where}"):
        aeruntime.load(bundle, providers="cpu", verify=verify)
    assert no_ort == []


def test_scan_finds_external_data_in_subgraphs_functions_and_sparse():
    from onnx import TensorProto, helper, numpy_helper

    def ext(name):
        t = numpy_helper.from_array(np.ones(3, np.float32), name)
        onnx.external_data_helper.set_external_data(t, location=f"/x/{name}")
        t.data_location = TensorProto.EXTERNAL
        t.ClearField("raw_data")
        return t

    then_g = helper.make_graph(
        [helper.make_node("Constant", [], ["c"], value=ext("in_then"))],
        "then",
        [],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [3])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["k"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [3])],
        [ext("k")],
    )
    sparse = helper.make_sparse_tensor(ext("sv"), numpy_helper.from_array(np.array([0, 1, 2], np.int64), "si"), [3])
    node = helper.make_node("If", ["b"], ["y"], then_branch=then_g, else_branch=else_g)
    fn = helper.make_function(
        "local",
        "F",
        ["a"],
        ["o"],
        [helper.make_node("Constant", [], ["o"], value=ext("in_fn"))],
        [helper.make_opsetid("", 17)],
    )
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("b", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
        sparse_initializer=[sparse],
    )
    model = helper.make_model(g, functions=[fn], opset_imports=[helper.make_opsetid("", 17)])
    onnx.helper.set_model_props(model, {"aeexport.role": "encoder"})
    scan = scan_model(model.SerializeToString())
    assert sorted(scan.external) == [("in_fn", "/x/in_fn"), ("in_then", "/x/in_then"), ("k", "/x/k"), ("sv", "/x/sv")]
    assert scan.metadata == {"aeexport.role": "encoder"}
    assert scan.graph_sha256 == graph_sha256(model)


@pytest.mark.parametrize("cut", [1, 100, -1])
def test_truncated_graph_refused_before_onnxruntime(bundle, no_ort, cut):
    data = (bundle / "scorer.onnx").read_bytes()
    (bundle / "scorer.onnx").write_bytes(data[:cut])
    with pytest.raises(IntegrityError, match=r"scorer\.onnx is not a well-formed ONNX model .*truncated"):
        aeruntime.load(bundle, providers="cpu", verify=False)
    assert no_ort == []


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff" * 20, b"\x3a\x05abc", b"\x0b\x0c"])
def test_scan_rejects_garbage(data):
    with pytest.raises(ProtoError):
        scan_model(data)


# ----------------------------------------------------------------------------- symlinks
# (weights.safetensors with verify=False is not listed: the runtime never opens it then)
@pytest.mark.parametrize(
    "name, verify",
    [
        ("weights.safetensors", True),
        ("encoder.onnx", True),
        ("encoder.onnx", False),
        ("manifest.json", True),
        ("manifest.json", False),
        ("test_data", True),
    ],
)
def test_symlink_leaving_bundle_refused(tmp_path, bundle, name, verify):
    outside = tmp_path / "elsewhere" / name
    outside.parent.mkdir()
    (bundle / name).rename(outside)  # identical bytes, so every hash still matches
    (bundle / name).symlink_to(outside)
    with pytest.raises(UnsafeBundleError, match=rf"{name}.*outside the bundle directory .*refusing to read it"):
        aeruntime.load(bundle, providers="cpu", verify=verify)


@pytest.mark.parametrize("verify", [True, False])
def test_a_symlink_to_the_bundles_own_file_is_refused(bundle, verify):
    """Every listed file is a regular file inside the bundle: a link is never followed, even to its own bytes."""
    (bundle / "graphs").mkdir()
    (bundle / "encoder.onnx").rename(bundle / "graphs" / "encoder.onnx")
    (bundle / "encoder.onnx").symlink_to(Path("graphs") / "encoder.onnx")  # every hash still matches
    with pytest.raises(UnsafeBundleError, match=r"'encoder\.onnx' is not a regular file: it is a symbolic link"):
        aeruntime.load(bundle, providers="cpu", verify=verify)


def test_a_symlinked_folder_inside_the_bundle_is_refused(bundle):
    (bundle / "test_data").rename(bundle / "golden")
    (bundle / "test_data").symlink_to("golden")
    with pytest.raises(UnsafeBundleError, match=r"its folder 'test_data' is a symbolic link \(to 'golden'\)"):
        aeruntime.load(bundle, providers="cpu")


def test_a_symlink_to_the_bundle_directory_is_fine(tmp_path, bundle):
    link = tmp_path / "link-to-bundle"
    link.symlink_to(bundle)
    model = aeruntime.load(link, providers="cpu")
    assert model.encode(X).shape == (5, *model.latent_shape)


def test_fifo_in_place_of_graph_is_not_read(bundle):
    (bundle / "decoder.onnx").unlink()
    os.mkfifo(bundle / "decoder.onnx")  # reading it would block forever
    with pytest.raises(UnsafeBundleError, match=r"decoder\.onnx' is not a regular file: it is a FIFO"):
        aeruntime.load(bundle, providers="cpu", verify=False)


@pytest.mark.parametrize("verify", [True, False])
def test_fifo_in_place_of_manifest_or_listed_file_is_not_a_regular_file(bundle, verify):
    name = "manifest.json" if verify else "weights.safetensors"
    (bundle / name).unlink()
    os.mkfifo(bundle / name)
    with pytest.raises(UnsafeBundleError, match=rf"{name}' is not a regular file: it is a FIFO"):
        aeruntime.load(bundle, providers="cpu", verify=True)


# ----------------------------------------------------------------------------- schema
SCHEMA_CASES = [
    ("missing input", lambda m: m.pop("input"), r"field 'input' must be a dict"),
    ("bundle_id slash", lambda m: m.update(bundle_id="../x"), r"bundle_id must be 1-128 characters"),
    ("kind empty", lambda m: m["model"].update(kind=""), r"model\.kind must be a non-empty string"),
    ("shape zero", lambda m: m["input"].update(shape=[0]), r"input\.shape\[0\] must be a positive integer, got 0"),
    ("shape float", lambda m: m["input"].update(shape=[64.0]), r"input\.shape\[0\] must be a positive integer"),
    ("shape bool", lambda m: m["latent"].update(shape=[True]), r"latent\.shape\[0\] must be a positive integer"),
    ("shape empty", lambda m: m["latent"].update(shape=[]), r"latent\.shape must be a list of 1 to 8"),
    ("shape huge", lambda m: m["input"].update(shape=[2**20, 2**20]), r"at most 2147483647 elements"),
    ("dtype", lambda m: m["input"].update(dtype="float16"), r"input\.dtype must be 'float32'"),
    ("no encoder", lambda m: m["graphs"].pop("encoder"), r"graphs has no 'encoder' entry"),
    (
        "graph abs path",
        lambda m: m["graphs"]["scorer"].update(file="/etc/passwd.onnx"),
        r"graphs\.scorer\.file must be a relative path inside the bundle",
    ),
    (
        "graph dotdot",
        lambda m: m["graphs"]["scorer"].update(file="../scorer.onnx"),
        r"graphs\.scorer\.file must be a relative path",
    ),
    ("graph not hashed", lambda m: m["files"].pop("scorer.onnx"), r"scorer\.onnx' is not listed in files"),
    (
        "graph outputs",
        lambda m: m["graphs"]["scorer"].update(outputs=[]),
        r"graphs\.scorer\.outputs must be a non-empty",
    ),
    (
        "graph sha",
        lambda m: m["graphs"]["decoder"].update(graph_sha256="abc"),
        r"graphs\.decoder\.graph_sha256 must be a sha256",
    ),
    (
        "files sha",
        lambda m: m["files"].update({"weights.safetensors": 5}),
        r"files\['weights\.safetensors'\] must be a sha256",
    ),
    ("files dotdot", lambda m: m["files"].update({"../../etc/passwd": "0" * 64}), r"files key .* relative path"),
    ("direction", lambda m: m["score"].update(direction="lower_is_more_anomalous"), r"score\.direction must be"),
    ("threshold str", lambda m: m["threshold"].update(value="0.5"), r"threshold\.value must be a finite number"),
    ("threshold nan", lambda m: m["threshold"].update(value=float("nan")), r"threshold\.value must be a finite number"),
    ("threshold inf", lambda m: m["threshold"].update(value=float("inf")), r"threshold\.value must be a finite number"),
    (
        "threshold neg",
        lambda m: m["threshold"].update(value=-0.1),
        r"threshold\.value -0\.1 is negative, but 'mse' scores are >= 0",
    ),
    ("threshold missing", lambda m: m["threshold"].pop("value"), r"required field threshold\.value is missing"),
    ("scaler length", lambda m: m["scaler"].update(scale=[1.0] * 3), r"scaler\.scale must be a list of 64 numbers"),
    (
        "scaler zero",
        lambda m: m["scaler"]["scale"].__setitem__(5, 0.0),
        r"scaler\.scale\[5\] must be a positive number",
    ),
    ("scaler required", lambda m: (m.pop("scaler"), m["graphs"].pop("scorer")), r"required field scaler is missing"),
    ("parity ok", lambda m: m["parity"].update(ok="yes"), r"parity\.ok must be a boolean"),
]


@pytest.mark.parametrize("mutate, message", [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_manifest_schema(bundle, mutate, message):
    edit_manifest(bundle, mutate)
    with pytest.raises(ManifestError, match=message) as info:
        aeruntime.load(bundle, providers="cpu")
    assert "re-export the bundle" in str(info.value)


def test_manifest_extra_fields_are_allowed(bundle):
    edit_manifest(bundle, lambda m: m.update(future_field={"x": 1}))
    assert aeruntime.load(bundle, providers="cpu").score(X).shape == (5,)


def test_manifest_nested_too_deep_or_huge(bundle):
    (bundle / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ManifestError, match="nests JSON too deeply"):
        aeruntime.load(bundle, providers="cpu")
    write_manifest(bundle, [1, 2])
    with pytest.raises(ManifestError, match="holds a list, expected a JSON object"):
        aeruntime.load(bundle, providers="cpu")


# ----------------------------------------------------------------------------- no pickle
SOURCE_DIRS = ["aeexport", "runtime/aeruntime", "tests", "benchmarks", "scripts"]
_PICKLERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def pickle_violations(source: str, filename: str = "<src>") -> list[str]:
    """Unsafe deserialization in Python source: pickle-family imports, torch.load without
    weights_only=True, np.load without allow_pickle=False, allow_pickle=True, read_pickle."""
    out = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            out += [f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in _PICKLERS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _PICKLERS:
            out.append(f"{where}: from {node.module} import")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            kw = {k.arg: k.value for k in node.keywords}

            def const(key, kw=kw):
                v = kw.get(key)
                return v.value if isinstance(v, ast.Constant) else "<dynamic>"

            if owner == "torch" and name == "load" and const("weights_only") is not True:
                out.append(f"{where}: torch.load without weights_only=True")
            if owner in ("np", "numpy") and name == "load" and const("allow_pickle") is not False:
                out.append(f"{where}: np.load without allow_pickle=False")
            if "allow_pickle" in kw and const("allow_pickle") is not False:
                out.append(f"{where}: allow_pickle={const('allow_pickle')}")
            if name in ("read_pickle", "loads") and owner in _PICKLERS | {"pd", "pandas"}:
                out.append(f"{where}: {owner}.{name}")
    return out


def test_pickle_checker_catches_violations():
    bad = (
        "import pickle\nfrom joblib import load\nimport torch, numpy as np\n"
        "torch.load('m.pt')\ntorch.load('m.pt', weights_only=False)\nnp.load('a.npy')\n"
        "np.load('a.npy', allow_pickle=True)\npd.read_pickle('x')\n"
    )
    assert len(pickle_violations(bad)) == 8
    good = "import torch, numpy as np\ntorch.load('m', weights_only=True)\nnp.load('a', allow_pickle=False)\n"
    assert pickle_violations(good) == []


def test_no_pickle_in_source_tree():
    files = [p for d in SOURCE_DIRS if (ROOT / d).is_dir() for p in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 20
    found = [v for p in files for v in pickle_violations(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert found == []


def test_aeexport_verify_refuses_external_data_before_onnxruntime(tmp_path, bundle, no_ort):
    from aeexport.export import verify_bundle

    _externalize(bundle, "../secret.bin", tmp_path / "secret.bin")
    with pytest.raises(UnsafeBundleError, match=r"external data at '\.\./secret\.bin', outside the bundle"):
        verify_bundle(bundle)
    assert no_ort == []
