"""Edge variants (int8 dynamic/static, fp16, ORT format): load in aeruntime, decision-level parity, verify."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

import aeruntime
from aeexport.cli import main as aeexport_main
from aeexport.variants import VARIANTS, make_variant, verify_variant
from aeruntime.errors import BundleError
from aeruntime.format import sha256_file

KINDS = ["int8-dynamic", "int8-static", "fp16", "ort"]


@pytest.fixture(scope="module")
def labelled(digits):
    X, y = digits
    return X, (y == 0).astype(np.int8)  # digit 0 = anomaly


@pytest.fixture(scope="module")
def family(tmp_path_factory, dense_bundle, labelled):
    """A copy of the dense bundle and its four variants, built on digits with labels."""
    root = tmp_path_factory.mktemp("edge")
    parent = root / "dense"
    shutil.copytree(dense_bundle, parent)
    X, y = labelled
    for kind in KINDS:
        make_variant(parent, kind, X=X, y=y, data_source="digits")
    return parent


@pytest.mark.parametrize("kind", KINDS)
def test_variant_loads_in_aeruntime_and_meets_its_decision_tolerance(family, labelled, kind):
    X, y = labelled
    vdir = family.parent / f"dense-{kind}"
    parent = aeruntime.load(family, providers="cpu")
    variant = aeruntime.load(vdir, providers="cpu")
    m = variant.manifest
    assert m["variant"]["kind"] == kind and m["variant"]["parent_bundle_id"] == parent.manifest["bundle_id"]
    assert m["bundle_id"] != parent.manifest["bundle_id"]
    assert variant.providers == ["CPUExecutionProvider"]
    sp, sv = parent.score(X), variant.score(X)
    assert sv.shape == (len(X),) and sv.dtype == np.float32 and np.isfinite(sv).all()
    # Re-measure every figure independently with scipy / sklearn and compare with the stored report.
    tol = VARIANTS[kind].tolerance
    rep = m["parity"]
    assert rep["ok"] and rep["tolerance"]["spearman_min"] == tol.spearman_min
    rho = spearmanr(sp, sv).statistic
    agree = np.mean((sp > parent.threshold) == (sv > variant.threshold))
    auc_p, auc_v = roc_auc_score(y, sp), roc_auc_score(y, sv)
    assert rho >= tol.spearman_min and agree >= tol.label_agreement_min
    assert auc_p - auc_v <= tol.roc_auc_drop_max
    assert rep["metrics"]["spearman"] == pytest.approx(rho, abs=1e-9)
    assert rep["metrics"]["label_agreement"] == pytest.approx(agree, abs=1e-12)
    assert rep["metrics"]["roc_auc_variant"] == pytest.approx(auc_v, abs=1e-12)
    rel = np.abs(sv.astype(np.float64) - sp) / sp
    assert rep["metrics"]["score_rel_err_median"] == pytest.approx(np.median(rel), rel=1e-3)
    assert {c["check"] for c in rep["checks"]} == {
        "score_rel_err_median",
        "spearman",
        "label_agreement",
        "roc_auc_drop",
    }
    # The recalibrated threshold keeps the false-positive rate on normal rows.
    normal = y == 0
    assert np.sum(sv[normal] > variant.threshold) == np.sum(sp[normal] > parent.threshold)
    assert m["threshold"]["method"] == "quantile_matched"
    # predict agrees with score > threshold; verify re-measures and passes.
    np.testing.assert_array_equal(variant.predict(X), (sv > variant.threshold).astype(np.int8))
    assert verify_variant(vdir, X=X, y=y)["ok"]


@pytest.mark.parametrize("kind", KINDS)
def test_variant_graphs_really_changed_and_carry_metadata(family, kind):
    vdir = family.parent / f"dense-{kind}"
    m = json.loads((vdir / "manifest.json").read_text())
    for role, info in m["graphs"].items():
        path = vdir / info["file"]
        sess = aeruntime._ort.ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        meta = sess.get_modelmeta().custom_metadata_map
        assert meta["aeexport.bundle_id"] == m["bundle_id"]
        assert json.loads(meta["aeexport.variant"]) == {
            "kind": kind,
            "parent_bundle_id": m["variant"]["parent_bundle_id"],
        }
        assert float(meta["aeexport.threshold"]) == m["threshold"]["value"]
        assert meta["aeexport.role"] == role
        if kind == "ort":
            assert path.suffix == ".ort" and path.read_bytes()[4:8] == b"ORTM"  # flatbuffer identifier
            continue
        proto = onnx.load(path)
        ops = {n.op_type for n in proto.graph.node}
        inits = {i.data_type for i in proto.graph.initializer}
        if kind == "int8-dynamic":
            assert "MatMulInteger" in ops and onnx.TensorProto.INT8 in inits
        elif kind == "int8-static":
            assert {"QuantizeLinear", "DequantizeLinear"} <= ops and onnx.TensorProto.INT8 in inits
        else:
            assert onnx.TensorProto.FLOAT16 in inits
            assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # keep_io_types
    if kind == "ort":
        config = (vdir / "required_operators.config").read_text()
        assert "ai.onnx;" in config and "Gemm" in config
    if kind == "int8-static":
        assert m["variant"]["calibration"]["source"] == "digits"


def test_verify_exits_1_when_the_stated_tolerance_cannot_be_met(family, tmp_path):
    vdir = tmp_path / "v"
    shutil.copytree(family.parent / "dense-fp16", vdir)
    shutil.copytree(family, tmp_path / "dense")  # recorded relative path ../dense
    runner = CliRunner()
    ok = runner.invoke(aeexport_main, ["verify", str(vdir)])
    assert ok.exit_code == 0, ok.output
    m = json.loads((vdir / "manifest.json").read_text())
    m["parity"]["tolerance"]["spearman_min"] = 1.5
    (vdir / "manifest.json").write_text(json.dumps(m))
    bad = runner.invoke(aeexport_main, ["verify", str(vdir)])
    assert bad.exit_code == 1
    assert "spearman" in bad.output and "FAIL" in bad.output


def test_verify_fails_on_a_swapped_graph(family, tmp_path):
    vdir = tmp_path / "v"
    shutil.copytree(family.parent / "dense-int8-dynamic", vdir)
    shutil.copy(family / "scorer.onnx", vdir / "scorer.onnx")  # the fp32 graph, hash updated to match
    m = json.loads((vdir / "manifest.json").read_text())
    m["files"]["scorer.onnx"] = sha256_file(vdir / "scorer.onnx")
    (vdir / "manifest.json").write_text(json.dumps(m))
    res = CliRunner().invoke(aeexport_main, ["verify", str(vdir), "--parent", str(family)])
    assert res.exit_code == 1
    assert "belongs to bundle" in res.output


def test_verify_needs_the_parent_and_checks_its_identity(family, tmp_path, dense_bundle):
    vdir = tmp_path / "alone"
    shutil.copytree(family.parent / "dense-ort", vdir)
    with pytest.raises(BundleError, match="--parent"):
        verify_variant(vdir)
    assert verify_variant(vdir, parent=family)["ok"]
    other = tmp_path / "other"
    shutil.copytree(family.parent / "dense-fp16", other)
    with pytest.raises(BundleError, match="was made from"):
        verify_variant(vdir, parent=other)


def test_quantize_cli_default_out_synthetic_rows_and_usage_errors(family, tmp_path):
    parent = tmp_path / "b"
    shutil.copytree(family, parent)
    runner = CliRunner()
    res = runner.invoke(aeexport_main, ["quantize", str(parent), "--int8", "dynamic", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["ok"] and report["data"]["source"] == "synthetic"
    out = tmp_path / "b-int8-dynamic"
    assert aeruntime.load(out).manifest["variant"]["evaluation_data"]["source"] == "synthetic"
    assert runner.invoke(aeexport_main, ["quantize", str(parent)]).exit_code == 2
    assert runner.invoke(aeexport_main, ["quantize", str(parent), "--int8", "dynamic", "--fp16"]).exit_code == 2
    assert runner.invoke(aeexport_main, ["optimize", str(parent)]).exit_code == 2
    with pytest.raises(BundleError, match="not ONNX files"):
        make_variant(family.parent / "dense-ort", "fp16", tmp_path / "x")


@pytest.mark.parametrize("kind", KINDS)
def test_aeruntime_verify_passes_on_every_variant_and_fails_on_a_tampered_one(family, kind, tmp_path):
    """``aeruntime verify`` (torch-free) on each variant: every golden output compared; a flipped byte: exit 1."""
    from aeruntime.cli import main as aeruntime_main

    vdir = family.parent / f"dense-{kind}"
    r = CliRunner().invoke(aeruntime_main, ["verify", str(vdir), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    outputs = [f for f in json.loads((vdir / "manifest.json").read_text())["files"] if "/output_" in f]
    assert report["ok"] and len(report["golden"]) == len(outputs) > 0
    bad = shutil.copytree(vdir, tmp_path / "bad")
    graph = bad / json.loads((bad / "manifest.json").read_text())["graphs"]["scorer"]["file"]
    data = bytearray(graph.read_bytes())
    data[-3] ^= 0x01
    graph.write_bytes(bytes(data))
    r = CliRunner().invoke(aeruntime_main, ["verify", str(bad)])
    assert r.exit_code == 1 and "has sha256" in r.output, r.output
