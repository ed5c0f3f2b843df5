"""Variants of a bundle for edge deployment: int8 (dynamic / static QDQ), fp16, ORT format.

A variant is a bundle directory of its own (default ``BUNDLE-<kind>``) with the
same manifest contract as its fp32 parent, so ``aeruntime.load`` runs it
unchanged, plus ``manifest['variant']`` naming the parent (bundle_id and the
relative path) and how it was made. See ``docs/variants.md``.

Steps, all inside a temporary directory that replaces the target at the end:

1. transform each parent graph (encoder, decoder, scorer) with the field's tool:
   ``onnxruntime.quantization`` (int8), ``onnxconverter_common.float16`` (fp16),
   onnxruntime's ORT-format serializer (ORT);
2. score evaluation rows with parent and variant; recalibrate the threshold so
   the false-positive rate holds; measure decision-level parity
   (:mod:`aeexport.decision`) against the tolerance of the variant kind;
3. write the graphs with updated ``aeexport.*`` metadata (bundle_id, threshold,
   variant), golden vectors from the variant's own outputs, the manifest.

Evaluation rows: ``X`` given by the caller (``--data``), else rows drawn from the
parent's scaler statistics (:func:`aeexport.verify.synthetic_rows`); the manifest
says which. Static int8 calibrates on the same rows.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from aeruntime._atomic import atomic_directory
from aeruntime._ort import ort
from aeruntime.bundle import MANIFEST_NAME, META_PREFIX, read_manifest, sha256_file, verify_files
from aeruntime.errors import BundleError, InvalidInputError
from onnx import numpy_helper

from . import __version__
from ._quiet import quiet
from .decision import DecisionTolerance, decision_report, recalibrate_threshold
from .parity import Tolerance, golden_report

__all__ = ["VARIANTS", "VariantSpec", "make_variant", "verify_variant", "default_out", "evaluation_rows"]

#: rows drawn from the scaler statistics when no --data is given
SYNTHETIC_ROWS = 4096
#: rows fed to static int8 calibration (drawn from the evaluation rows)
CALIBRATION_ROWS = 1024
GOLDEN_BATCHES = (1, 5)
_CPU = ["CPUExecutionProvider"]


@dataclass(frozen=True)
class VariantSpec:
    """One variant kind: how to build its graphs and what it must meet."""

    name: str
    description: str
    tolerance: DecisionTolerance
    #: tolerance of the golden vectors (variant's own outputs, re-run on another CPU)
    golden: Tolerance
    build: Callable[..., onnx.ModelProto]
    suffix: str = ".onnx"


def _quantize_dynamic(proto: onnx.ModelProto, role: str, feeds: dict[str, np.ndarray], tmp: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = tmp / f"{role}.src.onnx", tmp / f"{role}.int8.onnx"
    onnx.save(proto, src)
    with quiet():
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
    return onnx.load(dst)


class _Reader:
    """CalibrationDataReader over fixed feeds, in batches of 128 rows."""

    def __init__(self, feeds: dict[str, np.ndarray]) -> None:
        (name, arr), = feeds.items()
        self._it = iter([{name: arr[i : i + 128]} for i in range(0, len(arr), 128)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _quantize_static(proto: onnx.ModelProto, role: str, feeds: dict[str, np.ndarray], tmp: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    src, dst = tmp / f"{role}.src.onnx", tmp / f"{role}.qdq.onnx"
    onnx.save(proto, src)
    with quiet():
        quantize_static(
            src, dst, _Reader(feeds), quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul", "Gemm", "Conv", "ConvTranspose"],
            calibrate_method=CalibrationMethod.MinMax,
            # Keep Gemm/MatMul outputs in float: quantizing the final reconstruction to 8 bits
            # doubled the score error on digits (median rel. error 0.18 -> 0.09).
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True,
                           "OpTypesToExcludeOutputQuantization": ["MatMul", "Gemm"]},
        )
    return onnx.load(dst)


def _fp16(proto: onnx.ModelProto, role: str, feeds: dict[str, np.ndarray], tmp: Path) -> onnx.ModelProto:
    from onnxconverter_common import float16

    with quiet():
        return float16.convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False)


def _identity(proto: onnx.ModelProto, role: str, feeds: dict[str, np.ndarray], tmp: Path) -> onnx.ModelProto:
    return proto  # the ORT-format conversion happens when the graph is written


#: both int8 kinds are held to the same decision-level tolerance
_INT8_TOLERANCE = DecisionTolerance(spearman_min=0.99, label_agreement_min=0.97, median_rel_err_max=0.15,
                                    roc_auc_drop_max=0.02)

#: variant kind -> spec. Tolerances: see docs/variants.md for the reasoning.
VARIANTS: dict[str, VariantSpec] = {
    "int8-dynamic": VariantSpec(
        "int8-dynamic", "int8 weights, activations quantized per call (onnxruntime quantize_dynamic)",
        _INT8_TOLERANCE, Tolerance(atol=1e-4, rtol=1e-2), _quantize_dynamic),
    "int8-static": VariantSpec(
        "int8-static", "int8 QDQ weights and activations, ranges calibrated on rows (onnxruntime quantize_static)",
        _INT8_TOLERANCE, Tolerance(atol=1e-4, rtol=1e-2), _quantize_static),
    "fp16": VariantSpec(
        "fp16", "float16 weights and arithmetic, float32 inputs/outputs (onnxconverter-common)",
        DecisionTolerance(spearman_min=0.999, label_agreement_min=0.99, median_rel_err_max=0.01, roc_auc_drop_max=0.005),
        Tolerance(atol=1e-3, rtol=1e-2), _fp16),
    "ort": VariantSpec(
        "ort", "fp32 graph in onnxruntime's ORT format for minimal/mobile builds, with required_operators.config",
        DecisionTolerance(spearman_min=0.9999, label_agreement_min=0.999, median_rel_err_max=1e-4, roc_auc_drop_max=1e-4),
        Tolerance(atol=1e-5, rtol=1e-4), _identity, suffix=".ort"),
}

REQUIRED_OPERATORS = "required_operators.config"


def default_out(bundle: str | Path, kind: str) -> Path:
    """``BUNDLE-<kind>`` beside the parent bundle."""
    p = Path(bundle)
    return p.with_name(f"{p.resolve().name}-{kind}") if p.name in ("", ".") else p.with_name(f"{p.name}-{kind}")


def evaluation_rows(manifest: dict[str, Any], X: np.ndarray | None, source: str | None,
                    n: int = SYNTHETIC_ROWS, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """``X`` as float32 (n_rows, *input_shape) with a description, or synthetic rows."""
    from .verify import synthetic_rows

    shape = tuple(manifest["input"]["shape"])
    if X is None:
        return synthetic_rows(manifest, n, seed=seed), {"source": "synthetic", "rows": n, "seed": seed,
                                                        "how": "mean + scale * N(0, 1) from manifest['scaler']"}
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 2 and X.shape[1:] != shape and X.shape[1] == int(np.prod(shape)):
        X = X.reshape(-1, *shape)
    if X.shape[1:] != shape or len(X) < 2:
        raise InvalidInputError(
            f"evaluation rows have shape {X.shape}, but the bundle expects (n_rows >= 2, "
            f"{', '.join(map(str, shape))}); pass --data with rows of the training features."
        )
    return np.ascontiguousarray(X), {"source": source or "array", "rows": int(len(X))}


def _run(path: Path, inp: str, x: np.ndarray, batch: int = 65536) -> list[np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=_CPU)
    parts = [sess.run(None, {inp: x[i : i + batch]}) for i in range(0, len(x), batch)]
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]


def _graph_sha256(proto: onnx.ModelProto) -> str:
    return hashlib.sha256(proto.graph.SerializeToString(deterministic=True)).hexdigest()


def _write_graph(proto: onnx.ModelProto, path: Path, suffix: str) -> None:
    if suffix == ".onnx":
        path.write_bytes(proto.SerializeToString())
        return
    # ORT format: onnxruntime optimizes the graph (level "all", minus the x86-only
    # NCHWc layout transformer, as convert_onnx_models_to_ort does) and saves it.
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "model.onnx"
        onnx.save(proto, src)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = str(path)
        so.add_session_config_entry("session.save_model_format", "ORT")
        so.add_session_config_entry("session.qdqisint8allowed", "0")
        ort.InferenceSession(str(src), so, providers=_CPU, disabled_optimizers=["NchwcTransformer"])


def _set_meta(proto: onnx.ModelProto, updates: dict[str, str]) -> None:
    props = {p.key: p.value for p in proto.metadata_props}
    props.update({META_PREFIX + k: v for k, v in updates.items()})
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)


def _golden(tmp: Path, graphs: dict[str, dict[str, Any]], X: np.ndarray) -> dict[str, list[str]]:
    """Golden vectors from the variant's own outputs (ONNX model-zoo layout)."""
    sets: dict[str, list[str]] = {r: [] for r in graphs}
    for n_set, b in enumerate(GOLDEN_BATCHES):
        x = np.ascontiguousarray(X[np.arange(b) % len(X)])
        z = _run(tmp / graphs["encoder"]["file"], graphs["encoder"]["inputs"][0], x)[0]
        for role, inp in (("encoder", x), ("decoder", z), ("scorer", x)):
            if role not in graphs:
                continue
            info = graphs[role]
            outs = _run(tmp / info["file"], info["inputs"][0], inp)
            case = tmp / "test_data" / role / f"test_data_set_{n_set}"
            case.mkdir(parents=True, exist_ok=True)
            (case / "input_0.pb").write_bytes(numpy_helper.from_array(inp, info["inputs"][0]).SerializeToString())
            for i, (name, arr) in enumerate(zip(info["outputs"], outs)):
                (case / f"output_{i}.pb").write_bytes(numpy_helper.from_array(arr, name).SerializeToString())
            sets[role].append(case.name)
    return sets


def make_variant(
    bundle: str | Path,
    kind: str,
    out: str | Path | None = None,
    *,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    data_source: str | None = None,
    tol: DecisionTolerance | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Build the ``kind`` variant of ``bundle`` in ``out``; return its manifest.

    Parameters
    ----------
    bundle : path
        Parent bundle (fp32 ONNX graphs).
    kind : {"int8-dynamic", "int8-static", "fp16", "ort"}
    out : path, optional
        Variant bundle directory; default ``BUNDLE-<kind>``. Replaced atomically.
    X : ndarray of shape (n_rows, *input_shape), optional
        Real rows: evaluation (and static calibration) rows. Default: rows drawn
        from the parent's scaler statistics.
    y : ndarray of shape (n_rows,), optional
        1 = anomaly, 0 = normal: adds ROC-AUC; normal rows fix the false-positive rate.
    tol : DecisionTolerance, optional
        Default: the kind's tolerance from :data:`VARIANTS`.

    The variant is written even when it misses its tolerance (the report says
    ``ok: false`` and ``aeexport verify`` fails on it): the numbers are the point.
    """
    if kind not in VARIANTS:
        raise InvalidInputError(f"unknown variant kind {kind!r}; expected one of {sorted(VARIANTS)}.")
    spec = VARIANTS[kind]
    tol = tol or spec.tolerance
    parent = Path(bundle)
    pm = read_manifest(parent)
    verify_files(parent, pm)
    graphs = pm["graphs"]
    not_onnx = [g["file"] for g in graphs.values() if not g["file"].endswith(".onnx")]
    if not_onnx:
        raise BundleError(
            f"bundle {str(parent)!r} holds graphs {not_onnx} that are not ONNX files (an ORT-format variant?); "
            "make variants from the fp32 ONNX bundle it came from."
        )
    out = Path(out) if out is not None else default_out(parent, kind)
    if out.resolve() == parent.resolve():
        raise InvalidInputError(f"--out {str(out)!r} is the parent bundle itself; choose another directory.")
    rows, data = evaluation_rows(pm, X, data_source, seed=seed)
    if y is not None:
        y = np.asarray(y).reshape(-1).astype(np.int8)
        if len(y) != len(rows):
            raise InvalidInputError(f"labels have {len(y)} entries but the data has {len(rows)} rows.")

    # Feeds per role for static calibration: x for encoder/scorer, the parent's z for the decoder.
    calib = rows[np.random.default_rng(seed).permutation(len(rows))[:CALIBRATION_ROWS]]
    z_calib = _run(parent / graphs["encoder"]["file"], graphs["encoder"]["inputs"][0], calib)[0]
    feeds = {role: {info["inputs"][0]: (z_calib if role == "decoder" else calib)} for role, info in graphs.items()}

    protos: dict[str, onnx.ModelProto] = {}
    with tempfile.TemporaryDirectory() as work:
        for role, info in graphs.items():
            protos[role] = spec.build(onnx.load(parent / info["file"]), role, feeds[role], Path(work))
    hashes = {role: _graph_sha256(p) for role, p in protos.items()}
    bundle_id = hashlib.sha256((pm["bundle_id"] + kind + "".join(hashes[r] for r in sorted(hashes))).encode()
                               ).hexdigest()[:32]
    vgraphs = {role: {**info, "file": Path(info["file"]).with_suffix(spec.suffix).name,
                      "graph_sha256": hashes[role]} for role, info in graphs.items()}
    parent_rel = os.path.relpath(parent.resolve(), out.resolve())
    variant_info: dict[str, Any] = {
        "kind": kind,
        "description": spec.description,
        "parent_bundle_id": pm["bundle_id"],
        "parent_path": Path(parent_rel).as_posix(),
        "tool": {"int8-dynamic": "onnxruntime.quantization.quantize_dynamic",
                 "int8-static": "onnxruntime.quantization.quantize_static (QDQ, MinMax, per-channel weights)",
                 "fp16": "onnxconverter_common.float16.convert_float_to_float16(keep_io_types=True)",
                 "ort": "onnxruntime ORT format (optimization level all, NchwcTransformer disabled)"}[kind],
        "evaluation_data": data,
    }
    if kind == "int8-static":
        variant_info["calibration"] = {**data, "rows_used": int(len(calib)),
                                       "note": "rows from --data" if X is not None else
                                       "no training rows in the bundle: rows drawn from the scaler statistics"}

    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    with atomic_directory(out) as tmp:
        def write_all(threshold: float) -> None:
            for role, proto in protos.items():
                p = onnx.ModelProto()
                p.CopyFrom(proto)
                _set_meta(p, {
                    "bundle_id": bundle_id,
                    "threshold": repr(threshold),
                    "graph_sha256": hashes[role],
                    "partners": json.dumps({r: {"file": vgraphs[r]["file"], "graph_sha256": hashes[r]}
                                            for r in protos if r != role}),
                    "variant": json.dumps({k: variant_info[k] for k in ("kind", "parent_bundle_id")}),
                    "producer": f"aeexport {__version__}",
                })
                p.producer_name, p.producer_version = "aeexport", __version__
                _write_graph(p, tmp / vgraphs[role]["file"], spec.suffix)

        # Provisional files (threshold not known yet) to measure the variant as it will run.
        write_all(float(pm["threshold"]["value"]))
        scorer = "scorer" if "scorer" in graphs else None
        sp = _scores(parent, graphs, rows)
        sv = _scores(tmp, vgraphs, rows)
        normal = (y == 0) if y is not None else None
        thr = recalibrate_threshold(sp, sv, float(pm["threshold"]["value"]), normal)
        thr["expected_false_positive_rate"] = pm["threshold"].get("expected_false_positive_rate")
        thr["parent_method"] = pm["threshold"].get("method")
        thr["calibration_rows"] = thr["params"]["rows"]
        write_all(thr["value"])
        report = decision_report(sp, sv, parent_threshold=float(pm["threshold"]["value"]),
                                 variant_threshold=thr["value"], tol=tol, y=y)
        report["data"] = data
        report["scored_with"] = "scorer" if scorer else "encoder+decoder"
        golden = _golden(tmp, vgraphs, rows)
        g_rows = golden_report(tmp, vgraphs, spec.golden)
        report["golden"] = g_rows
        report["ok"] = report["ok"] and all(r["ok"] for r in g_rows)
        if kind == "ort":
            from onnxruntime.tools.ort_format_model import create_config_from_models

            with quiet():
                create_config_from_models([tmp / g["file"] for g in vgraphs.values()], tmp / REQUIRED_OPERATORS,
                                          False)
            variant_info["required_operators"] = REQUIRED_OPERATORS
        files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {k: v for k, v in pm.items() if k not in ("weights", "parity", "golden", "files")}
        manifest.update({
            "bundle_id": bundle_id,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "graphs": vgraphs,
            "threshold": thr,
            "variant": variant_info,
            "golden": {"tolerance": asdict(spec.golden), "sets": golden,
                       "note": "expected outputs are the variant's own (onnxruntime CPU), not torch's"},
            "files": files,
            "producer": {**pm.get("producer", {}), "aeexport": __version__, "onnxruntime": ort.__version__},
            "parity": report,
        })
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _scores(root: Path, graphs: dict[str, dict[str, Any]], X: np.ndarray) -> np.ndarray:
    """Scores (n_rows,) of a bundle's graphs on X, without loading its manifest checks."""
    if "scorer" in graphs:
        return _run(root / graphs["scorer"]["file"], graphs["scorer"]["inputs"][0], X)[0].astype(np.float64)
    raise BundleError("variants need a bundle with scorer.onnx; re-export the parent with a current aeexport.")


def verify_variant(
    path: str | Path,
    *,
    parent: str | Path | None = None,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    data_source: str | None = None,
) -> dict[str, Any]:
    """Re-measure a variant's decision-level parity against its parent.

    Both bundles are loaded with :func:`aeruntime.load` (hashes checked); the
    variant is judged at its stored threshold against the tolerance stated in
    its manifest. ``parent`` defaults to the recorded relative path.

    Returns
    -------
    dict
        The decision report; ``report["ok"]`` is False when a check fails.
    """
    import aeruntime

    path = Path(path)
    vm = read_manifest(path)
    info = vm.get("variant")
    if not isinstance(info, dict):
        raise BundleError(f"{str(path)!r} is not a variant bundle (no manifest['variant']).")
    parent = Path(parent) if parent is not None else (path / info["parent_path"])
    if not parent.is_dir():
        raise BundleError(
            f"the parent bundle of variant {str(path)!r} was not found at {str(parent)!r} (recorded path "
            f"{info['parent_path']!r}); pass --parent DIR pointing to bundle {info['parent_bundle_id']}."
        )
    pm = read_manifest(parent)
    if pm["bundle_id"] != info["parent_bundle_id"]:
        raise BundleError(
            f"{str(parent)!r} is bundle {pm['bundle_id']}, but the variant was made from "
            f"{info['parent_bundle_id']}; pass --parent DIR pointing to that bundle."
        )
    variant = aeruntime.load(path, providers="cpu")
    parent_model = aeruntime.load(parent, providers="cpu")
    d = info.get("evaluation_data", {})
    rows, data = evaluation_rows(pm, X, data_source, n=int(d.get("rows", SYNTHETIC_ROWS)) if X is None else 0,
                                 seed=int(d.get("seed", 0)))
    sp = np.concatenate([parent_model.score(rows[i : i + 65536]) for i in range(0, len(rows), 65536)])
    sv = np.concatenate([variant.score(rows[i : i + 65536]) for i in range(0, len(rows), 65536)])
    tol = DecisionTolerance(**vm["parity"]["tolerance"])
    report = decision_report(sp, sv, parent_threshold=parent_model.threshold, variant_threshold=variant.threshold,
                             tol=tol, y=y)
    report["data"] = data
    gt = vm.get("golden", {}).get("tolerance", {})
    report["golden"] = golden_report(path, vm["graphs"], Tolerance(**gt) if gt else Tolerance())
    report["ok"] = report["ok"] and all(r["ok"] for r in report["golden"])
    report["variant"] = {"kind": info["kind"], "parent": str(parent), "parent_bundle_id": pm["bundle_id"]}
    return report
