"""ORT-format graphs get every check an ONNX graph gets; the manifest's file name decides the format (issue 32, cause 1).

An ORT variant is made here as ``aeexport optimize --ort-format`` makes one, torch-free:
each graph of a shipped bundle (metadata and all) is saved by onnxruntime in its ORT
format (level-"all" optimizations, as ``aeexport.variant_kinds.to_ort_format``), the
manifest names the ``.ort`` files and every hash is recomputed. Forgeries are made the
same way, consistently, so only the new rules can refuse them: ORT bytes saved as
``scorer.onnx``, a manifest-only threshold edit of an ORT variant, an ORT graph holding
a ``Loop`` (the graph that hangs ``score``), an ORT graph of another export.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime._ort import ort
from aeruntime.cli import main as rt_main
from aeruntime.errors import BundleError, IntegrityError, UnsafeBundleError
from aeruntime.format import ortscan, scan_model, set_model_metadata
from aeruntime.format.onnxscan import ProtoError
from aeruntime.format.ortscan import OrtReaderMissing, scan_ort
from tests.conftest import SUBPROCESS_ENV
from tests.helpers import read_manifest, rehash

from ..conftest import SHIPPED
from .test_trust_bundles import _graph_attr, _int, _len, _node

pytest.importorskip(
    "flatbuffers", reason="onnxruntime's ORT-format reader needs flatbuffers (an onnxruntime dependency)"
)


def to_ort(model: bytes) -> bytes:
    """``model`` (ONNX bytes) saved by onnxruntime in its ORT format, as aeexport's ORT variants are."""
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "m.onnx", Path(d) / "m.ort"
        src.write_bytes(model)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = str(dst)
        so.add_session_config_entry("session.save_model_format", "ORT")
        ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"], disabled_optimizers=["NchwcTransformer"])
        return dst.read_bytes()


def make_ort_variant(src: Path, dst: Path) -> Path:
    """``src`` with every graph in ORT format (``<role>.ort``), the manifest and hashes updated."""
    import shutil

    shutil.copytree(src, dst)
    m = read_manifest(dst)
    for role, g in m["graphs"].items():
        old = dst / g["file"]
        new = f"{role}.ort"
        (dst / new).write_bytes(to_ort(old.read_bytes()))
        old.unlink()
        del m["files"][g["file"]]
        m["files"][new] = ""
        g["file"] = new
    rehash(dst, m)
    return dst


# ------------------------------------------------------------------ a Loop graph, by hand (no onnx package)
def _value(number: int, name: str, elem: int, dims: list[int | str] | None) -> bytes:
    """A ValueInfoProto as GraphProto field ``number`` (11 input, 12 output): tensor of ``elem`` type."""
    shape = b""
    if dims is not None:
        shape = _len(2, b"".join(_len(1, _len(2, d) if isinstance(d, str) else _int(1, d)) for d in dims))
    return _len(number, _len(1, name) + _len(2, _len(1, _int(1, elem) + shape)))


_FLOAT, _BOOL, _INT64 = 1, 9, 7


def _scalar(name: str, elem: int, raw: bytes) -> bytes:
    return _len(5, _int(2, elem) + _len(8, name) + _len(9, raw))


def loop_model(metadata: dict[str, str], trips: int = 2**62) -> bytes:
    """An ONNX scorer ``x (n, 64) -> score`` whose only node is a Loop of ``trips`` iterations."""
    body = (
        _node("Identity", "keep_cond", inputs=("c_in",), outputs=("c_out",))
        + _node("Identity", "keep_v", inputs=("v_in",), outputs=("v_out",))
        + _len(2, "body")
        + _value(11, "i", _INT64, [])
        + _value(11, "c_in", _BOOL, [])
        + _value(11, "v_in", _FLOAT, None)
        + _value(12, "c_out", _BOOL, [])
        + _value(12, "v_out", _FLOAT, None)
    )
    graph = (
        _node("Loop", "forever", inputs=("trips", "cond", "x"), outputs=("score",), attrs=_graph_attr("body", body))
        + _len(2, "g")
        + _scalar("trips", _INT64, np.int64(trips).tobytes())
        + _scalar("cond", _BOOL, b"\x01")
        + _value(11, "x", _FLOAT, ["n", 64])
        + _value(12, "score", _FLOAT, None)
    )
    model = _int(1, 9) + _len(8, _int(2, 20)) + _len(7, graph)
    return set_model_metadata(model, metadata)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def ort_dense(tmp_path_factory) -> Path:
    """The shipped digits-dense bundle as an ORT variant (do not modify; copy it first)."""
    return make_ort_variant(SHIPPED["dense"], tmp_path_factory.mktemp("ort") / "dense")


@pytest.fixture
def ort_copy(ort_dense, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(ort_dense, tmp_path / "ort"))


def _scorer_metadata(bundle: Path) -> dict[str, str]:
    return scan_model((bundle / "scorer.onnx").read_bytes()).metadata


# ------------------------------------------------------------------ an honest ORT variant
def test_an_ort_variant_is_read_by_onnxruntimes_reader_and_scores_like_its_onnx_bundle(ort_dense, synthetic_digits):
    X = synthetic_digits[0][:200]
    onnx_model, ort_model = aeruntime.load(SHIPPED["dense"]), aeruntime.load(ort_dense)
    np.testing.assert_allclose(ort_model.score(X), onnx_model.score(X), rtol=1e-5, atol=1e-6)
    assert ort_model.threshold == onnx_model.threshold
    scan = scan_ort((ort_dense / "scorer.ort").read_bytes())
    assert scan.metadata["aeexport.bundle_id"] == read_manifest(ort_dense)["bundle_id"]
    assert scan.metadata["aeexport.role"] == "scorer"
    # onnxruntime fused Gemm + Relu into its own kernel: the ORT allow-list has it, the ONNX one does not
    assert ("com.microsoft", "FusedGemm") in {(n.domain, n.op_type) for n in scan.structure.nodes}
    weights = dict((n, dims) for n, dims, _ in scan.structure.tensors)
    assert weights["model.decoder.2.weight"] == [64, 32]


def test_an_ort_variants_operating_point_reads_the_calibration_scores_from_the_flatbuffer(ort_dense):
    """model.operating_point(fpr) of an ORT-format scorer: the threshold is the calibration score read from the
    .ort file with onnxruntime's flatbuffer classes, equal to the .onnx bundle's, and the line says it."""
    from aeruntime.format.ortscan import read_ort_initializer

    onnx_model, ort_model = aeruntime.load(SHIPPED["dense"]), aeruntime.load(ort_dense)
    for fpr in (0.01, 0.05, 0.5):
        want, got = onnx_model.operating_point(fpr), ort_model.operating_point(fpr)
        assert got.threshold is not None and got == want
        assert got.line() == want.line() and "score > ?" not in got.line()
    data = (ort_dense / "scorer.ort").read_bytes()
    table = read_ort_initializer(data, "aeexport_calibration_scores")
    assert table.dtype == np.float32 and table.ndim == 2 and np.isposinf(table[-1, -1])
    assert read_ort_initializer(data, "no such initializer") is None
    with pytest.raises(ProtoError, match="malformed ORT flatbuffer|no model graph|holds"):
        read_ort_initializer(data[: len(data) // 3], "aeexport_calibration_scores")


@pytest.mark.parametrize("kind", ["conv", "vae"])
def test_every_shipped_kind_converts_to_ort_graphs_inside_the_allow_list(kind, tmp_path, synthetic_digits):
    variant = make_ort_variant(SHIPPED[kind], tmp_path / kind)
    X = synthetic_digits[0][:20].reshape(-1, *read_manifest(variant)["input"]["shape"])
    np.testing.assert_allclose(
        aeruntime.load(variant).score(X), aeruntime.load(SHIPPED[kind]).score(X), rtol=1e-5, atol=1e-6
    )


# ------------------------------------------------------------------ forgeries
def _forge_ort_bytes_as_onnx(b: Path) -> None:
    """A plain bundle whose scorer.onnx holds ORT bytes (here: a Loop), hashes consistent."""
    meta = _scorer_metadata(b)
    (b / "scorer.onnx").write_bytes(to_ort(loop_model(meta)))
    rehash(b)


def _forge_honest_ort_bytes_as_onnx(b: Path) -> None:
    (b / "scorer.onnx").write_bytes(to_ort((b / "scorer.onnx").read_bytes()))
    rehash(b)


def _threshold_in_manifest_only(b: Path) -> None:
    m = read_manifest(b)
    m["threshold"]["value"] *= 1000
    (b / "manifest.json").write_text(json.dumps(m, indent=1))


def _loop_in_ort_variant(b: Path) -> None:
    meta = scan_ort((b / "scorer.ort").read_bytes()).metadata
    (b / "scorer.ort").write_bytes(to_ort(loop_model(meta)))
    rehash(b)


def _scorer_of_another_export(b: Path) -> None:
    (b / "scorer.ort").write_bytes(to_ort((SHIPPED["vae"] / "scorer.onnx").read_bytes()))
    rehash(b)


def _onnx_bytes_named_ort(b: Path) -> None:
    (b / "scorer.ort").write_bytes((SHIPPED["dense"] / "scorer.onnx").read_bytes())
    rehash(b)


#: id -> (the bundle forged: "onnx" a shipped copy, "ort" an ORT variant; forge; error; message)
HOSTILE: dict[str, tuple[str, Callable[[Path], None], type[BundleError], str]] = {
    "ort-loop-bytes-as-scorer.onnx": (
        "onnx",
        _forge_ort_bytes_as_onnx,
        UnsafeBundleError,
        r"^scorer\.onnx holds an ORT-format model, but its name says ONNX: manifest\.json and the file name decide",
    ),
    "honest-ort-bytes-as-scorer.onnx": (
        "onnx",
        _forge_honest_ort_bytes_as_onnx,
        UnsafeBundleError,
        r"^scorer\.onnx holds an ORT-format model, but its name says ONNX",
    ),
    "ort-variant-threshold-edited-in-manifest-only": (
        "ort",
        _threshold_in_manifest_only,
        IntegrityError,
        r"^encoder\.ort records threshold 0\.3970948562026021\d*, but manifest\.json has threshold\.value 397\.09",
    ),
    "ort-variant-loop-scorer": (
        "ort",
        _loop_in_ort_variant,
        UnsafeBundleError,
        r"^scorer\.ort: node 'forever' \(op 'Loop', domain ''\) holds a subgraph",
    ),
    "ort-variant-scorer-of-another-export": (
        "ort",
        _scorer_of_another_export,
        IntegrityError,
        r"^scorer\.ort belongs to bundle '[0-9a-f]+', but manifest\.json describes bundle",
    ),
    "onnx-bytes-named-scorer.ort": (
        "ort",
        _onnx_bytes_named_ort,
        IntegrityError,
        r"^scorer\.ort is not a well-formed ORT-format model \(no ORT-format file identifier 'ORTM' at byte 4\)",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_ort_graphs_are_refused_before_onnxruntime_runs_them(case, shipped_copy, ort_copy):
    which, forge, error, message = HOSTILE[case]
    bundle = shipped_copy if which == "onnx" else ort_copy
    forge(bundle)
    with pytest.raises(error, match=message):
        aeruntime.load(bundle)


def test_a_forged_loop_is_a_one_line_error_of_aeruntime_score_not_a_hang(ort_copy, tmp_path, synthetic_digits):
    _loop_in_ort_variant(ort_copy)
    np.save(tmp_path / "x.npy", synthetic_digits[0][:5])
    res = CliRunner().invoke(
        rt_main, ["score", str(ort_copy), str(tmp_path / "x.npy"), "--out", str(tmp_path / "s.npy")]
    )
    assert res.exit_code == 1, res.output
    assert re.match(r"Error: scorer\.ort: node 'forever' \(op 'Loop', domain ''\) holds a subgraph", res.output)
    assert "this is a bug" not in res.output and not (tmp_path / "s.npy").exists()


def test_an_ort_variant_whose_checks_cannot_run_is_refused(ort_dense, monkeypatch):
    def missing() -> None:
        raise OrtReaderMissing("onnxruntime's ORT-format reader cannot be imported (No module named 'flatbuffers')")

    monkeypatch.setattr(ortscan, "_schema", missing)
    with pytest.raises(
        UnsafeBundleError, match=r"^encoder\.ort is an ORT-format graph, but its checks cannot run here"
    ):
        aeruntime.load(ort_dense)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"no ORT-format file identifier"),
        (b"\x10\x00\x00\x00ORTM" + b"\xff" * 8, r"malformed ORT flatbuffer"),
    ],
)
def test_malformed_ort_bytes_are_a_proto_error(data, message):
    with pytest.raises(ortscan.ProtoError, match=message):
        scan_ort(data)


def test_a_truncated_ort_graph_is_refused(ort_dense):
    data = (ort_dense / "scorer.ort").read_bytes()
    with pytest.raises(ortscan.ProtoError):
        scan_ort(data[: len(data) // 3])


def test_reading_an_ort_variant_imports_neither_torch_nor_onnxruntime_tools(ort_dense):
    """``onnxruntime.tools`` imports torch wherever torch is installed: the reader is loaded without it."""
    code = (
        "import sys, aeruntime\n"
        f"aeruntime.load({str(ort_dense)!r})\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'onnx') or k == 'onnxruntime.tools'),"
        " 'ort_flatbuffers_py.fbs.InferenceSession' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["[]", "True"]
