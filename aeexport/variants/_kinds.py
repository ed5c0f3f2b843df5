"""The variant kinds, one table: kind -> the tool that transforms each graph and the tolerance it must meet.

``int8-dynamic`` / ``int8-static`` (``onnxruntime.quantization``), ``fp16``
(``onnxconverter_common.float16``) and ``ort`` (onnxruntime's ORT-format serializer, with the
``required_operators.config`` of reduced builds). :mod:`aeexport.variants` builds and checks
the bundles; see ``docs/variants.md`` for the tolerances.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from ..export import quiet
from ..settings import Tolerance
from ._decision import DecisionTolerance

__all__ = ["CPU", "REQUIRED_OPERATORS", "VARIANTS", "VariantSpec", "required_operators", "to_ort_format"]

#: onnxruntime providers the variants are built and measured with
CPU = ["CPUExecutionProvider"]
#: the operator list of ORT-format variants (onnxruntime's reduced-build config)
REQUIRED_OPERATORS = "required_operators.config"


@dataclass(frozen=True)
class VariantSpec:
    """One variant kind: how to build its graphs and what it must meet."""

    name: str
    description: str
    tolerance: DecisionTolerance
    #: tolerance of the golden vectors (variant's own outputs, re-run on another CPU)
    golden: Tolerance
    build: Callable[..., onnx.ModelProto]
    tool: str  # the tool and its settings, recorded in manifest["variant"]["tool"]
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
        ((name, arr),) = feeds.items()
        self._it = iter([{name: arr[i : i + 128]} for i in range(0, len(arr), 128)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _quantize_static(proto: onnx.ModelProto, role: str, feeds: dict[str, np.ndarray], tmp: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    src, dst = tmp / f"{role}.src.onnx", tmp / f"{role}.qdq.onnx"
    onnx.save(proto, src)
    with quiet():
        quantize_static(
            src,
            dst,
            _Reader(feeds),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Gemm", "Conv", "ConvTranspose"],
            calibrate_method=CalibrationMethod.MinMax,
            # Keep Gemm/MatMul outputs in float: quantizing the final reconstruction to 8 bits
            # doubled the score error on digits (median rel. error 0.18 -> 0.09).
            extra_options={
                "ActivationSymmetric": False,
                "WeightSymmetric": True,
                "OpTypesToExcludeOutputQuantization": ["MatMul", "Gemm"],
            },
        )
    return onnx.load(dst)


def _fp16(proto: onnx.ModelProto, role: str, feeds: dict[str, np.ndarray], tmp: Path) -> onnx.ModelProto:
    from onnxconverter_common import float16

    with quiet():
        return float16.convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False)


def _identity(proto: onnx.ModelProto, role: str, feeds: dict[str, np.ndarray], tmp: Path) -> onnx.ModelProto:
    return proto  # the ORT-format conversion happens when the graph is written


#: both int8 kinds are held to the same decision-level tolerance
_INT8_TOLERANCE = DecisionTolerance(
    spearman_min=0.99, label_agreement_min=0.97, median_rel_err_max=0.15, roc_auc_drop_max=0.02
)

#: variant kind -> spec. Tolerances: see docs/variants.md for the reasoning.
VARIANTS: dict[str, VariantSpec] = {
    "int8-dynamic": VariantSpec(
        "int8-dynamic",
        "int8 weights, activations quantized per call (onnxruntime quantize_dynamic)",
        _INT8_TOLERANCE,
        Tolerance(atol=1e-4, rtol=1e-2),
        _quantize_dynamic,
        "onnxruntime.quantization.quantize_dynamic",
    ),
    "int8-static": VariantSpec(
        "int8-static",
        "int8 QDQ weights and activations, ranges calibrated on rows (onnxruntime quantize_static)",
        _INT8_TOLERANCE,
        Tolerance(atol=1e-4, rtol=1e-2),
        _quantize_static,
        "onnxruntime.quantization.quantize_static (QDQ, MinMax, per-channel weights)",
    ),
    "fp16": VariantSpec(
        "fp16",
        "float16 weights and arithmetic, float32 inputs/outputs (onnxconverter-common)",
        DecisionTolerance(
            spearman_min=0.999, label_agreement_min=0.99, median_rel_err_max=0.01, roc_auc_drop_max=0.005
        ),
        Tolerance(atol=1e-3, rtol=1e-2),
        _fp16,
        "onnxconverter_common.float16.convert_float_to_float16(keep_io_types=True)",
    ),
    "ort": VariantSpec(
        "ort",
        "fp32 graph in onnxruntime's ORT format for minimal/mobile builds, with required_operators.config",
        DecisionTolerance(
            spearman_min=0.9999, label_agreement_min=0.999, median_rel_err_max=1e-4, roc_auc_drop_max=1e-4
        ),
        Tolerance(atol=1e-5, rtol=1e-4),
        _identity,
        "onnxruntime ORT format (optimization level all, NchwcTransformer disabled)",
        suffix=".ort",
    ),
}


def to_ort_format(model: bytes) -> bytes:
    """onnxruntime's ORT format: the graph optimized (level "all", minus the x86-only NCHWc
    layout transformer, as convert_onnx_models_to_ort does) and saved as a flatbuffer."""
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "model.onnx", Path(d) / "model.ort"
        src.write_bytes(model)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = str(dst)
        so.add_session_config_entry("session.save_model_format", "ORT")
        so.add_session_config_entry("session.qdqisint8allowed", "0")
        ort.InferenceSession(str(src), so, providers=CPU, disabled_optimizers=["NchwcTransformer"])
        return dst.read_bytes()


def required_operators(graphs: dict[str, bytes]) -> bytes:
    """``required_operators.config`` of ORT-format graphs (onnxruntime's reduced-build tool)."""
    from onnxruntime.tools.ort_format_model import create_config_from_models

    with tempfile.TemporaryDirectory() as d:
        paths = []
        for role, data in graphs.items():
            paths.append(Path(d) / f"{role}.ort")
            paths[-1].write_bytes(data)
        with quiet():
            create_config_from_models(paths, Path(d) / REQUIRED_OPERATORS, False)
        return (Path(d) / REQUIRED_OPERATORS).read_bytes()
