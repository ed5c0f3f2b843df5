"""The onnxruntime compatibility rule (aeruntime.format.compat) and its checks at load time."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import helper

import aeruntime
from aeruntime.errors import IntegrityError, InvalidInputError, ManifestError, RuntimeTooOldError
from aeruntime.format.compat import (
    check_installed,
    graph_requirements,
    minimum_for_graphs,
    minimum_release,
    release_limits,
)


def _model(ir: int, opsets: dict[str, int]) -> bytes:
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    m.ir_version = ir
    return m.SerializeToString()


@pytest.mark.parametrize(
    ("ir", "opsets", "want"),
    [
        (9, {"": 18}, "1.15"),
        (9, {"": 19}, "1.16"),  # 1.15 lacks Cast-19 (measured)
        (9, {"": 20}, "1.17"),
        (10, {"": 20}, "1.18"),  # what torch 2.14 exports by default: the shipped bundles
        (10, {"": 21}, "1.18"),
        (10, {"": 22}, "1.21"),
        (11, {"": 22}, "1.22"),
        (11, {"": 23}, "1.23"),
        (12, {"": 23}, "1.23+"),
        (9, {"": 18, "com.microsoft": 1}, "1.15"),  # onnxruntime's own domain does not move it
        (8, {"ai.onnx": 17}, "1.15"),
    ],
)
def test_minimum_release(ir, opsets, want):
    data = _model(ir, opsets)
    assert graph_requirements(data) == (ir, opsets)
    assert minimum_release(*graph_requirements(data)) == want


def test_bundle_minimum_is_the_newest_over_its_graphs():
    assert minimum_for_graphs([_model(9, {"": 18}), _model(10, {"": 22}), _model(9, {"": 20})]) == "1.21"
    assert minimum_for_graphs([_model(9, {"": 18}), _model(9, {"": 19})]) == "1.16"
    assert minimum_for_graphs([_model(9, {"": 18})], ort_format=True) == "1.16"  # ORT format version 6
    assert minimum_for_graphs([_model(10, {"": 20})], ort_format=True) == "1.18"


@pytest.mark.parametrize("text", ["1.14", "0.9", "latest", "1", ""])
def test_unknown_release_is_refused(text):
    with pytest.raises(InvalidInputError, match="onnxruntime"):
        release_limits(text)


def test_newer_release_gets_the_newest_limits():
    assert release_limits("1.32.0").release == "1.23"
    assert release_limits("1.16.3").max_opset == 19
    assert release_limits("1.15.0").max_opset == 18


def test_installed_older_than_minimum():
    check_installed({"min_onnxruntime": "1.18"}, "1.18.0")
    check_installed({}, "1.15.0")  # bundles before the field: not checked
    with pytest.raises(RuntimeTooOldError, match=r"needs onnxruntime 1\.18 or newer.*1\.16\.3 is installed.*1\.16"):
        check_installed({"min_onnxruntime": "1.18"}, "1.16.3")


def test_export_records_the_minimum(dense_bundle):
    m = json.loads((dense_bundle / "manifest.json").read_text())
    graphs = [(dense_bundle / g["file"]).read_bytes() for g in m["graphs"].values()]
    assert m["min_onnxruntime"] == minimum_for_graphs(graphs) == "1.18"
    for data in graphs:
        meta = {p.key: p.value for p in onnx.load_from_string(data).metadata_props}
        assert meta["aeexport.min_onnxruntime"] == "1.18"
    info = aeruntime.load(dense_bundle).info()
    assert info["min_onnxruntime"] == "1.18"


def _edit_manifest(bundle, **changes):
    path = bundle / "manifest.json"
    m = json.loads(path.read_text())
    for k, v in changes.items():
        if v is None:
            m.pop(k)
        else:
            m[k] = v
    path.write_text(json.dumps(m))


def test_manifest_and_metadata_must_agree(bundle_copy):
    _edit_manifest(bundle_copy, min_onnxruntime="1.15")
    with pytest.raises(IntegrityError, match=r"records min_onnxruntime '1\.18', but manifest\.json has .*'1\.15'"):
        aeruntime.load(bundle_copy)


def test_manifest_without_the_field_but_graphs_with_it(bundle_copy):
    _edit_manifest(bundle_copy, min_onnxruntime=None)
    with pytest.raises(IntegrityError, match=r"min_onnxruntime '1\.18', but manifest\.json has .*None"):
        aeruntime.load(bundle_copy)


@pytest.mark.parametrize("bad", ["1.18.0", "new", 1.18, ""])
def test_manifest_field_is_typed(bundle_copy, bad):
    _edit_manifest(bundle_copy, min_onnxruntime=bad)
    with pytest.raises(ManifestError, match="min_onnxruntime must be an onnxruntime release"):
        aeruntime.load(bundle_copy)


def test_bundles_without_the_field_still_load(bundle_copy):
    """Bundles exported before the field: no manifest key, no graph key (the shipped models/)."""
    recorded = json.loads((bundle_copy / "manifest.json").read_text())["min_onnxruntime"]
    _edit_manifest(bundle_copy, min_onnxruntime=None)
    m = json.loads((bundle_copy / "manifest.json").read_text())
    for g in m["graphs"].values():
        proto = onnx.load(bundle_copy / g["file"])
        keep = [(p.key, p.value) for p in proto.metadata_props if p.key != "aeexport.min_onnxruntime"]
        del proto.metadata_props[:]
        for k, v in keep:
            proto.metadata_props.add(key=k, value=v)
        onnx.save(proto, bundle_copy / g["file"])
    model = aeruntime.load(bundle_copy, verify=False)
    info = model.info()
    assert info["min_onnxruntime_recorded"] is False
    assert info["min_onnxruntime"] == minimum_for_graphs(
        [(bundle_copy / g["file"]).read_bytes() for g in m["graphs"].values()]
    )  # computed by the same rule from the graph files
    assert info["min_onnxruntime"] == recorded  # and the same value the export had recorded


def test_info_and_inspect_show_the_minimum(dense_bundle):
    from click.testing import CliRunner

    from aeexport.cli import main as ae_main
    from aeruntime.cli import main as rt_main

    r = CliRunner().invoke(rt_main, ["info", str(dense_bundle), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["min_onnxruntime"] == "1.18"
    r = CliRunner().invoke(rt_main, ["info", str(dense_bundle)])
    assert r.exit_code == 0 and any(
        line.split()[:2] == ["min_onnxruntime", "1.18"] for line in r.stdout.splitlines()
    ), r.stdout
    r = CliRunner().invoke(ae_main, ["inspect", str(dense_bundle)])
    assert r.exit_code == 0 and "onnxruntime 1.18 or newer" in r.stdout, r.stdout
    r = CliRunner().invoke(ae_main, ["inspect", str(dense_bundle), "--json"])
    assert json.loads(r.stdout)["min_onnxruntime"] == "1.18"
