"""The one conformance corpus: hostile bundles and CSV dialects, each with its expected outcome (issue 32).

Every consumer runs it: aeruntime (load, score) and ``aeexport verify`` in
``tests/conformance/test_python_consumers.py``, Node in ``tests/e2e/node/test_node_hostile.py``,
the page in ``tests/e2e/web/test_web_hostile.py``; the C consumer runs the bundle half in its own
tests. A bundle case's expected outcome is the JavaScript error code (``code``; exit 1) and the
aeruntime error class (:func:`refusal`; exit 1), or None (accepted); a CSV case's is aeruntime's
row count (:data:`CSV_ROWS`; -1: refused with exit 2), which every consumer must reproduce.

Bundles are forged *consistently*, as an attacker would: a graph is edited with ``onnx``,
then every ``aeexport.graph_sha256``, ``aeexport.partners`` record, the manifest's
``graph_sha256`` records and every file sha256 are recomputed, so only the checks under
test (allow-list, structure, metadata agreement, regular files) can refuse it.
CSV dialects are written as bytes. ``tests/e2e/node/test_node_hostile.py`` runs both
halves against Node, ``tests/e2e/web/test_web_hostile.py`` against the page in Chromium.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from aeruntime.format import scan_model, set_model_metadata
from tests.conftest import MODELS
from tests.helpers import read_manifest, rehash, write_manifest

#: the bundle every forgery starts from (a copy; models/ stays byte-identical)
BASE = MODELS / "digits-dense"


# ----------------------------------------------------------------------------- consistent forgery
def refresh(root: Path) -> None:
    """Recompute graph_sha256, the partners' records (keeping who is a partner), the manifest's records and file hashes."""
    m = read_manifest(root)
    hashes = {r: scan_model((root / g["file"]).read_bytes()).graph_sha256 for r, g in m["graphs"].items()}
    for role, g in m["graphs"].items():
        path = root / g["file"]
        data = path.read_bytes()
        old = json.loads(scan_model(data).metadata["aeexport.partners"])
        partners = {o: {**rec, "graph_sha256": hashes[o]} if o in hashes else rec for o, rec in old.items()}
        meta = {"aeexport.graph_sha256": hashes[role], "aeexport.partners": json.dumps(partners)}
        path.write_bytes(set_model_metadata(data, meta))
        g["graph_sha256"] = hashes[role]
    rehash(root, m)


def edit_graph(root: Path, role: str, fn: Callable[[onnx.ModelProto], None]) -> None:
    """Apply ``fn`` to the ``role`` graph (an ``onnx.ModelProto``) and re-seal the bundle."""
    path = root / read_manifest(root)["graphs"][role]["file"]
    model = onnx.load_from_string(path.read_bytes())
    fn(model)
    path.write_bytes(model.SerializeToString())
    refresh(root)


def set_meta(root: Path, role: str, **kv: str) -> None:
    """Set ``aeexport.<key>`` metadata of the ``role`` graph and re-seal the bundle."""
    path = root / read_manifest(root)["graphs"][role]["file"]
    path.write_bytes(set_model_metadata(path.read_bytes(), {f"aeexport.{k}": v for k, v in kv.items()}))
    refresh(root)


def edit_manifest(root: Path, fn: Callable[[dict], None]) -> None:
    m = read_manifest(root)
    fn(m)
    write_manifest(root, m)


# ----------------------------------------------------------------------------- graph edits
def _append(model: onnx.ModelProto, *nodes: onnx.NodeProto) -> None:
    model.graph.node.extend(nodes)


def _loop(model: onnx.ModelProto) -> None:
    """A Loop of 2**62 iterations (what made consumers hang), its body a subgraph."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [])],
    )
    model.graph.initializer.extend(
        [
            helper.make_tensor("trip", TensorProto.INT64, [], [2**62]),
            helper.make_tensor("cond", TensorProto.BOOL, [], [1]),
        ]
    )
    _append(model, helper.make_node("Loop", ["trip", "cond"], [], name="forever", body=body))


def _if(model: onnx.ModelProto) -> None:
    branch = helper.make_graph(
        [helper.make_node("Identity", ["flag"], ["out"])],
        "branch",
        [],
        [helper.make_tensor_value_info("out", TensorProto.BOOL, [])],
    )
    model.graph.initializer.append(helper.make_tensor("flag", TensorProto.BOOL, [], [1]))
    _append(model, helper.make_node("If", ["flag"], ["chosen"], name="fork", then_branch=branch, else_branch=branch))


def _scan(model: onnx.ModelProto) -> None:
    body = helper.make_graph(
        [helper.make_node("Identity", ["s_in"], ["s_out"])],
        "scan_body",
        [helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [64])],
        [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [64])],
    )
    _append(model, helper.make_node("Scan", ["x"], ["scanned"], name="scan", body=body, num_scan_inputs=1))


def _custom_domain(model: onnx.ModelProto) -> None:
    model.opset_import.append(helper.make_opsetid("com.evil", 1))
    _append(model, helper.make_node("Relu", ["x"], ["evil"], name="evil_relu", domain="com.evil"))


def _op_outside(model: onnx.ModelProto) -> None:
    """An operator onnxruntime runs happily but aeexport never writes (Identity, unused output)."""
    _append(model, helper.make_node("Identity", ["x"], ["spare"], name="spare_identity"))


def _function(model: onnx.ModelProto) -> None:
    fn = helper.make_function("local.fns", "twice", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])], [])
    model.functions.append(fn)


def _external(model: onnx.ModelProto) -> None:
    """An initializer whose data lives in another file (onnxruntime-node would open it)."""
    t = helper.make_tensor("outside", TensorProto.FLOAT, [1], [0.0])
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", "../../../etc/passwd"
    model.graph.initializer.append(t)


def _lying_shape(model: onnx.ModelProto) -> None:
    model.graph.value_info.append(helper.make_tensor_value_info("huge", TensorProto.FLOAT, [2**40, 2**40]))


def _lying_tensor(model: onnx.ModelProto) -> None:
    """An initializer declaring 2**30 floats but holding 4 bytes."""
    t = TensorProto(name="big", data_type=TensorProto.FLOAT, dims=[2**30], raw_data=np.zeros(1, np.float32).tobytes())
    model.graph.initializer.append(t)


def _fifo_at(rel: str) -> Callable[[Path], None]:
    """A listed file replaced by a FIFO (reading it would block forever)."""

    def make(root: Path) -> None:
        (root / rel).unlink()
        os.mkfifo(root / rel)

    return make


def _link_at(rel: str, target: str) -> Callable[[Path], None]:
    """A listed file replaced by a symbolic link to ``target`` ("{outside}": a same-bytes copy outside the bundle)."""

    def make(root: Path) -> None:
        to = target
        if target == "{outside}":
            to = str(root.parent / f"{root.name}-outside")
            shutil.copyfile(root / rel, to)
        (root / rel).unlink()
        (root / rel).symlink_to(to)

    return make


def _link_inside(rel: str, to: str) -> Callable[[Path], None]:
    """``rel`` (a listed file or folder) moved to ``to`` inside the bundle and linked there: every hash still matches."""

    def make(root: Path) -> None:
        (root / to).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).rename(root / to)
        (root / rel).symlink_to(os.path.relpath(root / to, (root / rel).parent))

    return make


def _ort_role(role: str) -> Callable[[Path], None]:
    """``role``'s graph replaced by the same graph in ORT format under its .onnx name, hashes re-recorded."""
    import onnxruntime as ort

    def make(root: Path) -> None:
        out = root.parent / f"{root.name}-{role}.ort"
        so = ort.SessionOptions()
        so.optimized_model_filepath = str(out)
        so.add_session_config_entry("session.save_model_format", "ORT")
        ort.InferenceSession(str(root / f"{role}.onnx"), so, providers=["CPUExecutionProvider"])
        shutil.copyfile(out, root / f"{role}.onnx")
        rehash(root)

    return make


def _unlisted_link(root: Path) -> None:
    """A symlink to a system file among the golden vectors, listed nowhere: never followed."""
    (root / "test_data" / "scorer" / "test_data_set_0" / "output_5.pb").symlink_to("/etc/passwd")


def _malformed_golden(root: Path) -> None:
    """A listed golden output that is not a TensorProto, its hash re-recorded: only the golden readers see it."""
    (root / "test_data" / "scorer" / "test_data_set_0" / "output_0.pb").write_bytes(b"\x0a\x05abc")
    rehash(root)


def _hash_mismatch(root: Path) -> None:
    """A listed golden input edited without re-recording its hash."""
    with open(root / "test_data" / "encoder" / "test_data_set_0" / "input_0.pb", "ab") as fh:
        fh.write(b"\0")


def _absolute_path(root: Path) -> None:
    def fn(m: dict) -> None:
        m["files"]["/etc/passwd"] = m["files"].pop("test_data/scorer/test_data_set_1/output_0.pb")

    edit_manifest(root, fn)


def _unlisted_fifo(root: Path) -> None:
    """A FIFO and a damaged tensor beside the golden vectors, listed nowhere: never opened."""
    d = root / "test_data" / "scorer" / "test_data_set_7"
    d.mkdir()
    os.mkfifo(d / "output_0.pb")
    (root / "test_data" / "scorer" / "test_data_set_1" / "output_9.pb").write_bytes(b"\xff" * 16)


def _partner_missing(root: Path) -> None:
    path = root / "scorer.onnx"
    partners = json.loads(scan_model(path.read_bytes()).metadata["aeexport.partners"])
    del partners["decoder"]
    path.write_bytes(set_model_metadata(path.read_bytes(), {"aeexport.partners": json.dumps(partners)}))
    refresh(root)


def _threshold_manifest_only(root: Path) -> None:
    edit_manifest(root, lambda m: m["threshold"].update(value=m["threshold"]["value"] * 1000))


def _kind(root: Path) -> None:
    edit_manifest(root, lambda m: m["model"].update(kind="conv"))


def _path_outside(root: Path) -> None:
    def fn(m: dict) -> None:
        m["files"]["../outside.pb"] = m["files"].pop("test_data/scorer/test_data_set_1/output_0.pb")

    edit_manifest(root, fn)


def _manifest_text(root: Path, fn: Callable[[str], str]) -> None:
    path = root / "manifest.json"
    path.write_text(fn(path.read_text()))


def _duplicate_key(root: Path) -> None:
    """bundle_id twice: JSON.parse and Python's json keep the last, another reader the first."""
    _manifest_text(root, lambda t: '{"bundle_id": "' + "0" * 32 + '", ' + t.lstrip()[1:])


def _duplicate_nested_key(root: Path) -> None:
    """threshold.value twice: the second (1000x) would win in a last-wins reader."""
    _manifest_text(root, lambda t: t.replace('"value": ', '"value": 1e9, "value": ', 1))


def _not_json(root: Path) -> None:
    _manifest_text(root, lambda t: t[: len(t) // 2])


def _json_array(root: Path) -> None:
    _manifest_text(root, lambda t: "[" + t + "]")


def _huge_threshold(root: Path) -> None:
    _manifest_text(root, lambda t: t.replace('"value": ', '"value": 1e999999, "_was": ', 1))


def _nan_threshold(root: Path) -> None:
    _manifest_text(root, lambda t: t.replace('"value": ', '"value": NaN, "_was": ', 1))


def _huge_number(root: Path) -> None:
    edit_manifest(root, lambda m: m["threshold"]["stats"].update(max=123456.789))
    _manifest_text(root, lambda t: t.replace("123456.789", "1e400"))


@dataclass(frozen=True)
class BundleCase:
    """A forged bundle: how to make it and the code the JavaScript core refuses it with (None: accepted)."""

    name: str
    make: Callable[[Path], None]
    code: str | None
    #: aeruntime's outcome is compared (False: the case is the JavaScript side's only; see SECURITY.md)
    vs_aeruntime: bool = True
    #: the page can be served this bundle (no links, pipes or devices: a site holds copies)
    web: bool = True
    #: only readers of the golden vectors (``aeexport verify``, ``aeruntime verify``, Node ``check``) refuse it
    golden: bool = False
    #: aeruntime's error class when it is not the one of :data:`PY_REFUSAL` for ``code``
    py: str | None = None


#: JavaScript code -> the aeruntime error class (``aeruntime.errors``) of the same refusal
PY_REFUSAL = {
    "UNSAFE": "UnsafeBundleError",
    "INTEGRITY": "IntegrityError",
    "METADATA": "IntegrityError",
    "MIXED_BUNDLE": "IntegrityError",
    "MANIFEST": "ManifestError",
    "GOLDEN": "IntegrityError",
}


def refusal(case: BundleCase) -> str | None:
    """The aeruntime error class name ``case`` is refused with (None: accepted)."""
    return None if case.code is None else case.py or PY_REFUSAL[case.code]


def _graph(role: str, fn: Callable[[onnx.ModelProto], None]) -> Callable[[Path], None]:
    return lambda root: edit_graph(root, role, fn)


def _meta(role: str, **kv: str) -> Callable[[Path], None]:
    return lambda root: set_meta(root, role, **kv)


BUNDLE_CASES = [
    BundleCase("loop", _graph("scorer", _loop), "UNSAFE"),
    BundleCase("if", _graph("encoder", _if), "UNSAFE"),
    BundleCase("scan", _graph("scorer", _scan), "UNSAFE"),
    BundleCase("custom-domain", _graph("decoder", _custom_domain), "UNSAFE"),
    BundleCase("op-outside-the-list", _graph("scorer", _op_outside), "UNSAFE"),
    BundleCase("function", _graph("encoder", _function), "UNSAFE"),
    BundleCase("external-data", _graph("decoder", _external), "UNSAFE"),
    BundleCase("lying-value-shape", _graph("scorer", _lying_shape), "UNSAFE"),
    BundleCase("lying-tensor-size", _graph("encoder", _lying_tensor), "UNSAFE"),
    # ORT bytes in a graph file: its format is the manifest's file name, never the bytes (issue 32 cause 1)
    BundleCase("ort-format-scorer", _ort_role("scorer"), "INTEGRITY", py="UnsafeBundleError"),
    BundleCase("threshold-in-manifest-only", _threshold_manifest_only, "METADATA"),
    BundleCase("threshold-in-one-graph", _meta("decoder", threshold="0.5"), "METADATA"),
    BundleCase("kind-disagrees", _kind, "METADATA"),
    BundleCase("score-disagrees", _meta("scorer", score=json.dumps({"name": "mae"})), "METADATA"),
    BundleCase("input-shape-disagrees", _meta("encoder", input_shape="[65]"), "METADATA"),
    BundleCase("min-onnxruntime-in-one-graph", _meta("scorer", min_onnxruntime="1.99"), "METADATA"),
    BundleCase("partner-missing", _partner_missing, "MIXED_BUNDLE"),
    BundleCase("listed-path-outside", _path_outside, "INTEGRITY", py="ManifestError"),
    BundleCase("duplicate-key-in-manifest", _duplicate_key, "MANIFEST"),
    BundleCase("number-beyond-float64-in-manifest", _huge_number, "MANIFEST"),
    BundleCase("symlink-outside", _link_at("encoder.onnx", "{outside}"), "UNSAFE", web=False),
    BundleCase("symlink-dev-zero", _link_at("encoder.onnx", "/dev/zero"), "UNSAFE", web=False),
    BundleCase("fifo-graph", _fifo_at("encoder.onnx"), "UNSAFE", web=False),
    BundleCase("unlisted-fifo-and-junk", _unlisted_fifo, None, web=False),
    # the same hostile kinds in the other graphs and files (issue 32: the corpus grown to every reader)
    BundleCase("loop-in-encoder", _graph("encoder", _loop), "UNSAFE"),
    BundleCase("loop-in-decoder", _graph("decoder", _loop), "UNSAFE"),
    BundleCase("if-in-scorer", _graph("scorer", _if), "UNSAFE"),
    BundleCase("scan-in-encoder", _graph("encoder", _scan), "UNSAFE"),
    BundleCase("custom-domain-in-encoder", _graph("encoder", _custom_domain), "UNSAFE"),
    BundleCase("custom-domain-in-scorer", _graph("scorer", _custom_domain), "UNSAFE"),
    BundleCase("op-outside-the-list-in-encoder", _graph("encoder", _op_outside), "UNSAFE"),
    BundleCase("function-in-scorer", _graph("scorer", _function), "UNSAFE"),
    BundleCase("external-data-in-scorer", _graph("scorer", _external), "UNSAFE"),
    BundleCase("lying-value-shape-in-encoder", _graph("encoder", _lying_shape), "UNSAFE"),
    BundleCase("lying-tensor-size-in-decoder", _graph("decoder", _lying_tensor), "UNSAFE"),
    BundleCase("ort-format-encoder", _ort_role("encoder"), "INTEGRITY", py="UnsafeBundleError"),
    BundleCase("ort-format-decoder", _ort_role("decoder"), "INTEGRITY", py="UnsafeBundleError"),
    BundleCase("threshold-in-scorer-only", _meta("scorer", threshold="0.5"), "METADATA"),
    BundleCase("duplicate-nested-key-in-manifest", _duplicate_nested_key, "MANIFEST"),
    BundleCase("manifest-not-json", _not_json, "MANIFEST"),
    BundleCase("manifest-a-json-array", _json_array, "MANIFEST"),
    BundleCase("threshold-beyond-float64", _huge_threshold, "MANIFEST"),
    BundleCase("threshold-nan-literal", _nan_threshold, "MANIFEST"),
    BundleCase("listed-absolute-path", _absolute_path, "INTEGRITY", py="ManifestError"),
    BundleCase("listed-file-hash-mismatch", _hash_mismatch, "INTEGRITY"),
    BundleCase("malformed-listed-golden", _malformed_golden, "GOLDEN", golden=True),
    BundleCase("symlink-outside-weights", _link_at("weights.safetensors", "{outside}"), "UNSAFE", web=False),
    BundleCase(
        "symlink-outside-golden",
        _link_at("test_data/scorer/test_data_set_0/input_0.pb", "{outside}"),
        "UNSAFE",
        web=False,
    ),
    BundleCase("symlink-dev-zero-scorer", _link_at("scorer.onnx", "/dev/zero"), "UNSAFE", web=False),
    BundleCase("fifo-weights", _fifo_at("weights.safetensors"), "UNSAFE", web=False),
    BundleCase("fifo-listed-golden", _fifo_at("test_data/decoder/test_data_set_0/output_0.pb"), "UNSAFE", web=False),
    BundleCase("fifo-decoder", _fifo_at("decoder.onnx"), "UNSAFE", web=False),
    BundleCase("unlisted-symlink-in-test-data", _unlisted_link, None, web=False),
    # a listed file is a regular file inside the bundle: a link is refused even to the bundle's own bytes
    BundleCase("symlink-to-own-file", _link_inside("scorer.onnx", "graphs/scorer.onnx"), "UNSAFE", web=False),
    BundleCase("symlinked-folder-inside", _link_inside("test_data", "golden"), "UNSAFE", web=False),
]


def forged(case: BundleCase, tmp: Path) -> Path:
    """A copy of :data:`BASE` under ``tmp`` with ``case`` applied."""
    root = tmp / case.name
    shutil.copytree(BASE, root)
    case.make(root)
    return root


# ----------------------------------------------------------------------------- CSV dialects
def _rows(n: int = 6, width: int = 64) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 17, (n, width)).astype(float)


def _line(r: np.ndarray, fmt: str = "{:g}") -> str:
    return ",".join(fmt.format(v) for v in r)


def _csv(lines: list[str], end: str = "\n") -> bytes:
    return (end.join(lines) + end).encode()


_X = _rows()
_NAMES = [f"px{i}" for i in range(_X.shape[1])]
_HDR = ",".join(_NAMES)
_DATA = [_line(r) for r in _X]
_GAP = "," + _DATA[0].split(",", 1)[1]  # the first row with an empty first cell

#: name -> CSV bytes; the expected outcome is aeruntime's (`aeruntime score`) on the same file
CSV_CASES: dict[str, bytes] = {
    "header": _csv([_HDR, *_DATA]),
    "no-header": _csv(_DATA),
    "header-less-first-row-with-a-gap": _csv([_GAP, *_DATA[1:]]),
    "pandas-default-header": _csv([",".join(str(i) for i in range(64)), *_DATA]),
    "pandas-header-then-a-gap": _csv([",".join(str(i) for i in range(64)), _GAP, *_DATA[1:]]),
    "crlf": _csv([_HDR, *_DATA], "\r\n"),
    "cr-only": _csv([_HDR, *_DATA], "\r"),
    "bom": b"\xef\xbb\xbf" + _csv([_HDR, *_DATA]),
    "quoted-fields": _csv([",".join(f'"{n}"' for n in _NAMES), *(_line(r, '"{:g}"') for r in _X)]),
    "blanks-and-signs": _csv([_HDR, *(_line(r, " +{:g} ") for r in _X)]),
    "exponents-and-dots": _csv([_HDR, *(_line(r, "{:.3e}") for r in _X[:3]), *(_line(r, "{:.1f}") for r in _X[3:])]),
    "empty-lines-around": b"\n\n" + _csv([_HDR, "", *_DATA, "", ""]),
    "no-final-line-break": _csv([_HDR, *_DATA])[:-1],
    "a-line-of-commas": _csv([_HDR, *_DATA[:2], "," * 63, *_DATA[2:]]),
    "a-line-of-blanks": _csv([_HDR, *_DATA[:2], "   ", *_DATA[2:]]),
    "a-short-line": _csv([_HDR, *_DATA[:2], _DATA[2].rsplit(",", 1)[0], *_DATA[3:]]),
    "nan-cell": _csv([_HDR, *_DATA[:2], "nan," + _DATA[2].split(",", 1)[1]]),
    "inf-cell": _csv([_HDR, "-inf," + _DATA[0].split(",", 1)[1]]),
    "text-cell": _csv([_HDR, "abc," + _DATA[0].split(",", 1)[1]]),
    "quoted-line-break": _csv([_HDR, *_DATA[:2], '"1\n2",' + _DATA[2].split(",", 1)[1]]),
    "header-only": _csv([_HDR]),
    "empty-file": b"",
    "wrong-width": _csv([_HDR[: _HDR.rindex(",")], *(d[: d.rindex(",")] for d in _DATA)]),
    "underscore-number-first-line": _csv(["1_0," + _DATA[0].split(",", 1)[1], *_DATA[1:]]),
    "header-quoted-names-with-commas": _csv([",".join(f'"px {i}, a"' for i in range(64)), *_DATA]),
    "header-unicode-names": _csv([",".join(f"größe_{i}" for i in range(64)), *_DATA]),
    "header-numeric-not-pandas": _csv([",".join(str(i + 1) for i in range(64)), *_DATA]),
    "no-header-crlf": _csv(_DATA, "\r\n"),
    "no-header-cr-only": _csv(_DATA, "\r"),
    "bom-no-header": b"\xef\xbb\xbf" + _csv(_DATA),
    "long-lines": _csv([_HDR, *(_line(r, "{:0>4000.6f}") for r in _X)]),
    "semicolon-separated": _csv([_HDR.replace(",", ";"), *(d.replace(",", ";") for d in _DATA)]),
    "gzip-named-csv": gzip.compress(_csv([_HDR, *_DATA]), mtime=0),
}

#: the expected outcome of each CSV case: the number of scores (rows in = rows out), or -1: refused (exit 2).
#: A header is the first line unless it is all numbers; pandas' ``0,1,...,n-1`` is a header, ``1..n`` a row.
CSV_ROWS: dict[str, int] = {
    **dict.fromkeys(
        ["header", "no-header", "pandas-default-header", "crlf", "cr-only", "bom", "quoted-fields"], len(_DATA)
    ),
    **dict.fromkeys(
        ["blanks-and-signs", "exponents-and-dots", "empty-lines-around", "no-final-line-break"], len(_DATA)
    ),
    **dict.fromkeys(["header-quoted-names-with-commas", "header-unicode-names", "no-header-crlf"], len(_DATA)),
    **dict.fromkeys(["no-header-cr-only", "bom-no-header", "long-lines"], len(_DATA)),
    "header-numeric-not-pandas": len(_DATA) + 1,
    **dict.fromkeys(
        ["header-less-first-row-with-a-gap", "pandas-header-then-a-gap", "a-line-of-commas", "a-line-of-blanks"], -1
    ),
    **dict.fromkeys(["a-short-line", "nan-cell", "inf-cell", "text-cell", "quoted-line-break", "header-only"], -1),
    **dict.fromkeys(["empty-file", "wrong-width", "underscore-number-first-line", "semicolon-separated"], -1),
    "gzip-named-csv": -1,
}

#: cases aeruntime's side may still change (issue 32's weaker spots): the JavaScript outcome only
JS_ONLY_CSV: dict[str, tuple[bytes, str]] = {
    "gzip-named-csv": (gzip.compress(_csv([_HDR, *_DATA]), mtime=0), "gzip-compressed"),
}
