"""Bundles are input (issue 19, classes 3, 4-JSON and 7): hostile graphs, two truths, hostile JSON.

Every row forges a bundle *consistently*, as an attacker would: the graphs are edited at
the protobuf level (no ``onnx`` package: the bytes are written here and with
``aeruntime.format.proto``), then each graph's ``aeexport.graph_sha256``/``partners``
metadata, the manifest's ``graph_sha256`` records and every file sha256 are recomputed,
so only the new rules can refuse it. Torch-free and onnx-free.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime.cli import main as rt_main
from aeruntime.errors import BundleError, IntegrityError, ManifestError, UnsafeBundleError
from aeruntime.format import ALLOWED_OPS, parse_json, read_bundle, scan_model, set_model_metadata
from aeruntime.format.proto import _spans, tensor_bytes
from tests.helpers import read_manifest, rehash

from ..conftest import SHIPPED


# ------------------------------------------------------------------ protobuf by hand
def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _len(number: int, data: bytes | str) -> bytes:
    data = data.encode() if isinstance(data, str) else data
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _node(op: str, name: str, *, domain: str = "", inputs=("x",), outputs=("evil",), attrs: bytes = b"") -> bytes:
    """GraphProto field 1: a NodeProto."""
    body = b"".join(_len(1, i) for i in inputs) + b"".join(_len(2, o) for o in outputs)
    body += _len(3, name) + _len(4, op) + attrs + (_len(7, domain) if domain else b"")
    return _len(1, body)


def _graph_attr(name: str, graph: bytes) -> bytes:
    """NodeProto field 5: an AttributeProto of type GRAPH holding ``graph``."""
    return _len(5, _len(1, name) + _len(6, graph) + _int(20, 5))


def _value_info(name: str, dims: list[int]) -> bytes:
    """GraphProto field 13: a float ValueInfoProto of fixed ``dims``."""
    shape = b"".join(_len(1, _int(1, d)) for d in dims)
    return _len(13, _len(1, name) + _len(2, _len(1, _int(1, 1) + _len(2, shape))))


def _initializer(name: str, dims: list[int], raw: bytes = b"\0\0\0\0") -> bytes:
    """GraphProto field 5: a float TensorProto."""
    return _len(5, b"".join(_int(1, d) for d in dims) + _int(2, 1) + _len(8, name) + _len(9, raw))


LOOP_BODY = _node("Identity", "body_id", inputs=("cond_in",), outputs=("cond_out",))
#: a Loop of 2**62 iterations: what made `score` and `verify` hang
LOOP = _node(
    "Loop", "forever", inputs=("trip", "cond"), outputs=("out",), attrs=_graph_attr("body", LOOP_BODY)
) + _initializer("trip", [], np.int64(2**62).tobytes())


# ------------------------------------------------------------------ consistent forgery
def _refresh(root: Path) -> None:
    """Recompute graph_sha256, partners, the manifest's records and every file hash."""
    m = read_manifest(root)
    hashes = {r: scan_model((root / g["file"]).read_bytes()).graph_sha256 for r, g in m["graphs"].items()}
    for role, g in m["graphs"].items():
        partners = {o: {"file": m["graphs"][o]["file"], "graph_sha256": hashes[o]} for o in hashes if o != role}
        data = (root / g["file"]).read_bytes()
        meta = {"aeexport.graph_sha256": hashes[role], "aeexport.partners": json.dumps(partners)}
        (root / g["file"]).write_bytes(set_model_metadata(data, meta))
        g["graph_sha256"] = hashes[role]
    rehash(root, m)


def forge(root: Path, role: str = "scorer", graph: bytes = b"", model: bytes = b"", meta: dict | None = None) -> Path:
    """Append ``graph`` to the ``role`` GraphProto and ``model`` to its ModelProto; rehash everything."""
    path = root / read_manifest(root)["graphs"][role]["file"]
    data = path.read_bytes()
    out, body = bytearray(), b""
    for number, _wire, value, start, stop in _spans(memoryview(data)):
        if number == 7:
            body = data[value[0] : value[1]]
        else:
            out += data[start:stop]
    new = bytes(out) + _len(7, body + graph) + model
    path.write_bytes(set_model_metadata(new, meta) if meta else new)
    _refresh(root)
    return root


def replace_initializer(root: Path, role: str, name: str, array: np.ndarray) -> Path:
    """Replace initializer ``name`` of the ``role`` graph (a well-formed graph with other values)."""
    path = root / read_manifest(root)["graphs"][role]["file"]
    data = path.read_bytes()
    out = bytearray()
    for number, _wire, value, start, stop in _spans(memoryview(data)):
        if number != 7:
            out += data[start:stop]
            continue
        body = data[value[0] : value[1]]
        kept = bytearray()
        for n, _w, v, s, e in _spans(memoryview(body)):
            if n == 5 and _tensor_name(body[v[0] : v[1]]) == name:
                continue
            kept += body[s:e]
        out += _len(7, bytes(kept) + _len(5, tensor_bytes(array, name)))
    path.write_bytes(bytes(out))
    _refresh(root)
    return root


def _tensor_name(tensor: bytes) -> str:
    for n, _w, v, _s, _e in _spans(memoryview(tensor)):
        if n == 8:
            return tensor[v[0] : v[1]].decode()
    return ""


def edit_text(root: Path, fn: Callable[[str], str]) -> Path:
    """Edit manifest.json as text (duplicate keys, literals json.dumps cannot write); rehash nothing else."""
    p = root / "manifest.json"
    p.write_text(fn(p.read_text()))
    return root


def _json(root: Path, fn: Callable[[dict], object]) -> Path:
    m = read_manifest(root)
    fn(m)
    (root / "manifest.json").write_text(json.dumps(m, indent=1))
    return root


def _set_graph_threshold(root: Path, value: str) -> Path:
    m = read_manifest(root)
    for g in m["graphs"].values():
        p = root / g["file"]
        p.write_bytes(set_model_metadata(p.read_bytes(), {"aeexport.threshold": value}))
    rehash(root, m)
    return root


def _manifest_threshold(text: str, literal: str) -> str:
    m = json.loads(text)
    old = json.dumps(m["threshold"]["value"])
    return text.replace(f'"value": {old}', f'"value": {literal}', 1)


# ------------------------------------------------------------------ the table
GRAPHS = "Re-export the bundle with aeexport"
#: id -> (forge the shipped copy, error class, message pattern)
HOSTILE: dict[str, tuple[Callable[[Path], object], type[BaseException], str]] = {
    "loop-2^62-iterations": (
        lambda b: forge(b, graph=LOOP),
        UnsafeBundleError,
        r"scorer.onnx: node 'forever' \(op 'Loop', domain ''\) holds a subgraph",
    ),
    "custom-domain-op": (
        lambda b: forge(b, graph=_node("Relu", "mine", domain="com.evil")),
        UnsafeBundleError,
        r"node 'mine' \(op 'Relu', domain 'com.evil'\) is in domain 'com.evil', which is not a domain aeexport uses",
    ),
    "op-not-in-list": (
        lambda b: forge(b, "encoder", graph=_node("ConstantOfShape", "alloc")),
        UnsafeBundleError,
        r"encoder.onnx: node 'alloc' \(op 'ConstantOfShape', domain ''\) is an operator aeexport does not emit",
    ),
    "scan-op": (
        lambda b: forge(b, "decoder", graph=_node("Scan", "scan")),
        UnsafeBundleError,
        r"decoder.onnx: node 'scan' \(op 'Scan'.*aeexport does not emit",
    ),
    "subgraph-on-allowed-op": (
        lambda b: forge(b, graph=_node("Relu", "hidden", attrs=_graph_attr("then_branch", LOOP_BODY))),
        UnsafeBundleError,
        r"node 'hidden' \(op 'Relu', domain ''\) holds a subgraph",
    ),
    "custom-opset-import": (
        lambda b: forge(b, model=_len(8, _len(1, "com.evil") + _int(2, 1))),
        UnsafeBundleError,
        r"scorer.onnx imports opset domain 'com.evil' \(version 1\)",
    ),
    "local-function": (
        lambda b: forge(b, model=_len(25, _len(1, "f") + _len(10, "com.evil"))),
        UnsafeBundleError,
        r"scorer.onnx holds 1 model-local functions, which aeexport never writes",
    ),
    "sparse-initializer": (
        lambda b: forge(b, graph=_len(15, _len(3, b""))),
        UnsafeBundleError,
        r"scorer.onnx holds 1 sparse initializers",
    ),
    "huge-declared-dim": (
        lambda b: forge(b, graph=_value_info("big", [2**40])),
        UnsafeBundleError,
        r"scorer.onnx declares value 'big' of shape \[1099511627776\]: expected at most 16 dimensions of 0\.\.2147483647",
    ),
    "huge-declared-product": (
        lambda b: forge(b, graph=_value_info("wide", [2**20, 2**20])),
        UnsafeBundleError,
        r"declares value 'wide' of shape \[1048576, 1048576\]",
    ),
    "negative-declared-dim": (
        lambda b: forge(b, "encoder", graph=_value_info("neg", [-5])),
        UnsafeBundleError,
        r"encoder.onnx declares value 'neg' of shape \[-5\]",
    ),
    "huge-initializer-dims": (
        lambda b: forge(b, graph=_initializer("w_big", [2**30, 2**30])),
        UnsafeBundleError,
        r"tensor 'w_big' declares dims \[1073741824, 1073741824\] \(1152921504606846976 elements\) but holds 4 bytes",
    ),
    "initializer-dim-over-2^31": (
        lambda b: forge(b, graph=_initializer("w_long", [2**33])),
        UnsafeBundleError,
        r"tensor 'w_long' has dims \[8589934592\]: expected at most 16 dimensions of 0\.\.2147483647",
    ),
    "negative-initializer-dim": (
        lambda b: forge(b, graph=_initializer("w_neg", [-1])),
        UnsafeBundleError,
        r"tensor 'w_neg' has dims \[-1\]",
    ),
    "constant-node-absurd-tensor": (
        lambda b: forge(
            b, graph=_node("Relu", "k", attrs=_len(5, _len(1, "value") + _len(5, _int(1, 2**31 - 1) + _int(2, 1))))
        ),
        UnsafeBundleError,
        r"tensor '' declares dims \[2147483647\] \(2147483647 elements\) but holds 0 bytes",
    ),
    # class 7: two truths in one bundle
    "threshold-manifest-vs-graphs": (
        lambda b: _json(b, lambda m: m["threshold"].update(value=m["threshold"]["value"] * 2)) and rehash(b),
        IntegrityError,
        r"(encoder|decoder|scorer).onnx records threshold 0\.3970948562026021\d*, but manifest.json has threshold.value 0\.794",
    ),
    "threshold-graphs-vs-manifest": (
        lambda b: _set_graph_threshold(b, "0.5"),
        IntegrityError,
        r"records threshold 0.5, but manifest.json has threshold.value 0\.3970948562026021",
    ),
    "threshold-one-graph-only": (
        lambda b: forge(b, "decoder", meta={"aeexport.threshold": "1e-3"}),
        IntegrityError,
        r"decoder.onnx records threshold 1e-3, but manifest.json has threshold.value",
    ),
    "threshold-not-a-number-in-graph": (
        lambda b: _set_graph_threshold(b, "nan"),
        IntegrityError,
        r"records threshold nan, but manifest.json has threshold.value",
    ),
    "score-name-manifest-vs-scorer": (
        lambda b: _json(b, lambda m: m["score"].update(name="mae")) and rehash(b),
        IntegrityError,
        r"scorer.onnx computes score 'mse', but manifest.json has score.name 'mae'",
    ),
    "model-kind-manifest-vs-graphs": (
        lambda b: _json(b, lambda m: m["model"].update(kind="conv")) and rehash(b),
        IntegrityError,
        r"records model kind 'dense', but manifest.json has model.kind 'conv'",
    ),
    # class 7 and 4: JSON with two truths or numbers out of range
    "duplicate-key-top-level": (
        lambda b: edit_text(b, lambda t: t.replace("{", '{"bundle_id": "0000", ', 1)),
        ManifestError,
        r"manifest.json': key 'bundle_id' appears twice in one object .*aeruntime refuses both",
    ),
    "duplicate-key-nested": (
        lambda b: edit_text(b, lambda t: t.replace('"threshold": {', '"threshold": {"value": 99.0, ', 1)),
        ManifestError,
        r"key 'value' appears twice in one object",
    ),
    "duplicate-key-in-graph-metadata": (
        lambda b: forge(b, meta={"aeexport.input_shape": "[64]", "aeexport.score": '{"name": "mse", "name": "mae"}'}),
        ManifestError,
        r"scorer.onnx: metadata 'score': key 'name' appears twice",
    ),
    "threshold-400-digit-integer": (
        lambda b: edit_text(b, lambda t: _manifest_threshold(t, "9" * 400)),
        ManifestError,
        r"field threshold.value must be a finite number within the float64 range .*got 99999999999999999999\.\.\.\(400 characters\)",
    ),
    "threshold-5000-digit-integer": (
        lambda b: edit_text(b, lambda t: _manifest_threshold(t, "1" + "0" * 5000)),
        ManifestError,
        r"field threshold.value must be a finite number .*got 1000.*\(5001 characters\)",
    ),
    "threshold-NaN-literal": (
        lambda b: edit_text(b, lambda t: _manifest_threshold(t, "NaN")),
        ManifestError,
        r"field threshold.value must be a finite number .*NaN and Infinity are not JSON\), got NaN;",
    ),
    "threshold-Infinity": (
        lambda b: edit_text(b, lambda t: _manifest_threshold(t, "Infinity")),
        ManifestError,
        r"field threshold.value must be a finite number .*got Infinity",
    ),
    "threshold-1e400": (
        lambda b: edit_text(b, lambda t: _manifest_threshold(t, "1e400")),
        ManifestError,
        r"field threshold.value must be a finite number .*got 1e400",
    ),
    "scaler-minus-Infinity": (
        lambda b: edit_text(b, lambda t: t.replace('"mean": [', '"mean": [-Infinity, ', 1)),
        ManifestError,
        r"field scaler.mean\[0\] must be a finite number .*got -Infinity",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_bundle_is_refused_at_load(case, shipped_copy):
    build, error, pattern = HOSTILE[case]
    build(shipped_copy)
    start = time.perf_counter()
    with pytest.raises(error, match=pattern) as info:
        aeruntime.load(shipped_copy, providers="cpu")
    assert time.perf_counter() - start < 1.0  # refused from the bytes: no hang, no allocation
    assert isinstance(info.value, BundleError) and info.value.exit_code == 1
    if error is UnsafeBundleError:
        assert GRAPHS in str(info.value)
    with pytest.raises(error, match=pattern):  # verify=False runs the same safety rules
        aeruntime.load(shipped_copy, providers="cpu", verify=False)


CLI_ROWS = ["loop-2^62-iterations", "custom-domain-op", "threshold-manifest-vs-graphs", "threshold-400-digit-integer"]


@pytest.mark.parametrize("case", CLI_ROWS)
def test_hostile_bundle_through_score_cli_exits_1(case, shipped_copy, tmp_path):
    build, _error, pattern = HOSTILE[case]
    build(shipped_copy)
    np.save(tmp_path / "x.npy", np.zeros((3, 64), np.float32))
    start = time.perf_counter()
    r = CliRunner().invoke(
        rt_main, ["score", str(shipped_copy), str(tmp_path / "x.npy"), "--out", str(tmp_path / "s.npy")]
    )
    assert time.perf_counter() - start < 5.0
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "bug" not in r.stderr and "Traceback" not in r.stderr
    assert re.search(pattern, r.stderr), r.stderr
    assert not (tmp_path / "s.npy").exists()


@pytest.mark.skipif(
    importlib.util.find_spec("aeexport") is None or importlib.util.find_spec("torch") is None, reason="needs aeexport"
)
@pytest.mark.parametrize("case", CLI_ROWS)
def test_hostile_bundle_through_aeexport_verify_exits_1(case, shipped_copy):
    from aeexport.cli import main as ae_main

    build, _error, pattern = HOSTILE[case]
    build(shipped_copy)
    start = time.perf_counter()
    r = CliRunner().invoke(ae_main, ["verify", str(shipped_copy)])
    assert time.perf_counter() - start < 10.0  # refused before a graph runs (the Loop hung here)
    assert r.exit_code == 1, r.output
    assert re.search(pattern, r.stderr) and "bug" not in r.stderr, r.stderr


def test_shipped_bundles_pass_the_allow_list_unchanged():
    for name, src in SHIPPED.items():
        before = {p.name: p.read_bytes() for p in src.glob("*.onnx")}
        manifest, graphs = read_bundle(src)
        assert set(graphs) == set(manifest["graphs"]), name
        assert {p.name: p.read_bytes() for p in src.glob("*.onnx")} == before
        for data in graphs.values():
            for node in scan_model(data).structure.nodes:
                assert node.op_type in ALLOWED_OPS[node.domain], (name, node)


def test_threshold_override_still_overrides_both(shipped_copy):
    model = aeruntime.load(shipped_copy, providers="cpu", threshold=2.5)
    assert model.threshold == 2.5


def test_onnxruntime_failure_at_run_is_a_bundle_error(tmp_path):
    """A well-formed graph of allowed operators that onnxruntime cannot run (an absurd Reshape)."""
    b = tmp_path / "conv"
    shutil.copytree(SHIPPED["conv"], b)
    replace_initializer(b, "decoder", "val_7", np.array([-1, 2**31 - 1, 1, 1], np.int64))
    with pytest.raises(
        BundleError, match=r"(could not be run by onnxruntime [0-9.]+ \(decoder.onnx\)|cannot load decoder.onnx)"
    ) as info:
        model = aeruntime.load(b, providers="cpu")
        model.reconstruct(np.zeros((2, 1, 8, 8), np.float32))
    assert "bug" not in str(info.value) and "re-export the bundle" in str(info.value)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ('{"a": 1, "a": 2}', r"key 'a' appears twice"),
        ('[{"b": {"c": 1, "c": 1}}]', r"key 'c' appears twice"),
        ('{"x": [1, [2, 1e999]]}', r"field x\[1\]\[1\] must be a finite number .*got 1e999"),
        ('{"x": -' + "7" * 301 + "}", r"field x must be a finite number .*got -77"),
        ("NaN", r"field \(the document\) must be a finite number .*got NaN"),
        ("{", r"is not valid JSON"),
        ("[" * 100000 + "]" * 100000, r"nests JSON too deeply|not valid JSON"),
    ],
)
def test_parse_json_is_strict(text, pattern):
    with pytest.raises(ManifestError, match=pattern):
        parse_json(text, "f.json")


def test_parse_json_keeps_ordinary_numbers():
    doc = parse_json('{"a": 1e308, "b": -' + "9" * 300 + ', "c": [0.5, -0]}', "f.json")
    assert doc["a"] == 1e308 and doc["b"] == -int("9" * 300) and doc["c"] == [0.5, 0]
