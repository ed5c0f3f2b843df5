"""Export: graph files, metadata, golden vectors, atomic writes, parity failures."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import aeexport.export._export as export_mod
import aeruntime
from aeexport.export import ParityError, export_bundle
from aeexport.settings import ExportOptions, ThresholdSpec, Tolerance
from aeruntime.format import sha256_file
from aeruntime.fs import TMP_PREFIX


def test_bundle_layout_and_manifest(dense_bundle):
    names = sorted(p.relative_to(dense_bundle).as_posix() for p in dense_bundle.rglob("*") if p.is_file())
    assert {"encoder.onnx", "decoder.onnx", "scorer.onnx", "manifest.json", "weights.safetensors"} <= set(names)
    assert not any(n.endswith(".data") for n in names)  # single-file graphs
    m = json.loads((dense_bundle / "manifest.json").read_text())
    assert m["format_version"] == aeruntime.FORMAT_VERSION
    assert set(m["files"]) == set(names) - {"manifest.json"}
    for rel, digest in m["files"].items():
        assert sha256_file(dense_bundle / rel) == digest
    assert m["input"] == {"name": "x", "shape": [64], "dtype": "float32"}
    assert m["score"]["direction"] == "higher_is_more_anomalous"
    assert {"torch", "onnx", "onnxruntime", "opset"} <= set(m["producer"])


@pytest.mark.parametrize("role", ["encoder", "decoder", "scorer"])
def test_graphs_are_checked_self_describing_and_dynamic(dense_bundle, role):
    proto = onnx.load(str(dense_bundle / f"{role}.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    manifest = json.loads((dense_bundle / "manifest.json").read_text())
    assert meta["aeexport.role"] == role
    assert meta["aeexport.bundle_id"] == manifest["bundle_id"]
    assert meta["aeexport.model_kind"] == "dense"
    assert float(meta["aeexport.threshold"]) == manifest["threshold"]["value"]
    partners = json.loads(meta["aeexport.partners"])
    assert set(partners) == {"encoder", "decoder", "scorer"} - {role}
    for other, info in partners.items():
        assert info["graph_sha256"] == manifest["graphs"][other]["graph_sha256"]
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value  # dynamic batch


@pytest.mark.parametrize("role", ["encoder", "decoder", "scorer"])
def test_golden_vectors_in_model_zoo_layout(dense_bundle, role):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(dense_bundle / f"{role}.onnx"), providers=["CPUExecutionProvider"])
    cases = sorted((dense_bundle / "test_data" / role).glob("test_data_set_*"))
    batches = set()
    for case in cases:
        inp = onnx.load_tensor(str(case / "input_0.pb"))
        out = onnx.load_tensor(str(case / "output_0.pb"))
        assert inp.name == sess.get_inputs()[0].name and out.name == sess.get_outputs()[0].name
        x = numpy_helper.to_array(inp)
        batches.add(x.shape[0])
        np.testing.assert_allclose(sess.run(None, {inp.name: x})[0], numpy_helper.to_array(out), rtol=1e-4, atol=1e-5)
    assert 1 in batches and max(batches) > 1


def test_an_export_failing_half_way_leaves_the_old_bundle_intact(tmp_path, dense_trained, digits_split, monkeypatch):
    target = tmp_path / "bundle"
    export_bundle(dense_trained.model, target, calibration_x=digits_split.val[:40])
    before = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}

    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash after the graphs were written")

    monkeypatch.setattr(export_mod, "parity_report", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        export_bundle(dense_trained.model, target, calibration_x=digits_split.val[:40])
    assert {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()} == before
    assert not list(tmp_path.glob(f"{TMP_PREFIX}*"))
    assert aeruntime.load(target).score(digits_split.val[:3]).shape == (3,)


def test_an_export_failing_half_way_leaves_no_bundle(tmp_path, dense_trained, digits_split, monkeypatch):
    monkeypatch.setattr(export_mod, "parity_report", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        export_bundle(dense_trained.model, tmp_path / "new", calibration_x=digits_split.val[:40])
    assert list(tmp_path.iterdir()) == []


def test_a_parity_violation_fails_the_export_loudly(tmp_path, dense_trained, digits_split):
    with pytest.raises(ParityError, match=r"(?s)failed the parity check; nothing was written.*FAIL"):
        export_bundle(
            dense_trained.model,
            tmp_path / "b",
            calibration_x=digits_split.val[:40],
            options=ExportOptions(tol=Tolerance(atol=0.0, rtol=0.0)),
        )
    assert not (tmp_path / "b").exists()


def test_reexport_replaces_a_bundle_atomically(tmp_path, dense_trained, digits_split):
    target = tmp_path / "b"
    m1 = export_bundle(
        dense_trained.model, target, calibration_x=digits_split.val, threshold_spec=ThresholdSpec(param=90)
    )
    m2 = export_bundle(
        dense_trained.model, target, calibration_x=digits_split.val, threshold_spec=ThresholdSpec(param=99)
    )
    # same weights: the same encoder and decoder; the scorer graph holds the threshold (the default of its
    # threshold input), so another percentile is another scorer graph and another bundle id
    for role in ("encoder", "decoder"):
        assert m1["graphs"][role]["graph_sha256"] == m2["graphs"][role]["graph_sha256"]
    assert m1["graphs"]["scorer"]["graph_sha256"] != m2["graphs"]["scorer"]["graph_sha256"]
    assert aeruntime.load(target).manifest["threshold"]["params"]["percentile"] == 99
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_exporter_chatter_is_silenced(tmp_path, dense_trained, digits_split, capfd):
    export_bundle(dense_trained.model, tmp_path / "b", calibration_x=digits_split.val[:40])
    out, err = capfd.readouterr()
    assert out == "" and "torch.onnx" not in err


def test_parity_tolerance_of_codes_scales_with_their_magnitude():
    """Codes of far-out rows are large (smap_F-1's series-tcn codes: torch and onnxruntime differ by 3.8e-5 at
    batch 1024 from float32 rounding): atol grows with the batch's largest code, a real error still fails."""
    from aeexport.export import code_tolerance
    from aeexport.export._golden import compare

    rng = np.random.default_rng(0)
    want = rng.normal(0, 40.0, size=(1024, 8)).astype(np.float32)
    want[0, 0] = 0.01  # a small code beside large ones
    rounding = want.copy()
    rounding[0, 0] += 3.8e-5  # rounding of a sum of terms ~40: 1e-6 relative to them
    tol = code_tolerance(Tolerance(), want)
    assert tol.atol == pytest.approx(1e-5 * float(np.abs(want).max())) and tol.rtol == Tolerance().rtol
    assert not compare(rounding, want, Tolerance())["ok"] and compare(rounding, want, tol)["ok"]
    wrong = want * np.float32(1.001)  # 0.1% off everywhere: an export error, not rounding
    assert not compare(wrong, want, tol)["ok"]
    assert code_tolerance(Tolerance(), np.full((3, 2), 0.5, np.float32)) == Tolerance()  # small codes: plain atol


def test_parity_tolerance_of_raw_unit_outputs_scales_with_the_data(tmp_path, digits_split):
    """Pixel values of 0..255 (as in MNIST) round at 3e-5 in float32: the decoder's raw-unit
    outputs are judged with atol scaled to the data, the scaled-space outputs with plain atol."""
    from aeexport.export import raw_tolerance
    from aeexport.settings import TrainConfig
    from aeexport.train import train_model

    big_train, big_val = digits_split.train * 16.0 + 3.0, digits_split.val * 16.0 + 3.0  # 3 .. 259
    res = train_model(big_train, big_val, config=TrainConfig(epochs=3, progress=False))
    m = export_bundle(res.model, tmp_path / "b", calibration_x=big_val)
    assert m["parity"]["ok"]
    expected = raw_tolerance(Tolerance(), res.model.scaler_mean.numpy(), res.model.scaler_scale.numpy())
    assert m["golden"]["tolerances"]["decoder"]["atol"] == pytest.approx(expected.atol)
    assert expected.atol > 1e-4  # scaled: 1e-5 * max(|scale| + |mean|) for data of this size
    assert m["golden"]["tolerances"]["scorer"] == {"atol": 1e-5, "rtol": 1e-4}
    assert m["parity"]["raw_tolerance"]["atol"] == pytest.approx(expected.atol)
