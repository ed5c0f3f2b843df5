"""What a graph may contain: the operators aeexport emits, bounded shapes and tensors.

A bundle is input like any other. Before onnxruntime parses a graph,
:func:`check_structure` refuses, from the :class:`~aeruntime.format.onnxscan.GraphStructure`
that :func:`~aeruntime.format.onnxscan.scan_model` read without ``onnx``:

- any node whose (domain, op_type) is not in :data:`ALLOWED_OPS`: no ``Loop``,
  ``Scan`` or ``If`` (a ``Loop`` of 2**62 iterations would hang ``score``), no custom
  or unknown domain, no operator aeexport does not write;
- any attribute holding a graph (subgraphs), model-local functions, training_info,
  sparse initializers and opset imports of other domains;
- declared dimensions (graph inputs, outputs, value_info) outside ``0..MAX_DIM`` or
  whose product exceeds :data:`~aeruntime.format.constants.MAX_ROW_ELEMENTS`;
- initializers and node-attribute tensors declaring more elements than their bytes
  hold (an allocation the file does not pay for) or more than ``MAX_DIM`` along a dimension.

Each refusal is an :class:`~aeruntime.errors.UnsafeBundleError` (exit code 1) naming
the graph file, the node or tensor and the fix: re-export with aeexport.

How :data:`ALLOWED_OPS` was derived: every graph aeexport writes was scanned with
``onnx`` (``tests/aeexport/export/test_allowed_ops.py`` repeats it, so the list cannot
fall behind the exporter): the shipped bundles under ``models/``, a bundle of every
model kind (dense, conv, sparse, denoising, vae, ensemble, series-dense, series-tcn, and the ensemble scored by its
members, ``--members N``) with every activation of
``aeexport.models.base.ACTIVATIONS`` and every score (mse, mae; neg_elbo for vae), and
their int8-dynamic (``DynamicQuantizeLinear``/``MatMulInteger``/``Cast``), int8-static
(QDQ: ``QuantizeLinear``/``DequantizeLinear``) and fp16 (``Cast``) variants. All are
opset 20 of the default domain, without functions or subgraphs.

ORT-format (``.ort``) graphs are read with onnxruntime's own reader
(:mod:`~aeruntime.format.ortscan`) and get the same checks, with two differences
(``check_structure(..., ort_format=True)``): onnxruntime's level-"all" optimizer has
fused some nodes into its ``com.microsoft`` kernels (:data:`ORT_FUSED_OPS`: measured
on the ORT-format conversion of every shipped bundle, ``FusedGemm`` and ``FusedConv``,
plus the fusions that optimizer makes of operators in :data:`ALLOWED_OPS` alone), and
the saved opset imports list every domain onnxruntime registers, so for them only the
nodes' domains count; saved runtime optimizations (which add kernels at load time in
minimal builds) are refused.
"""

from __future__ import annotations

import math

from ..errors import UnsafeBundleError
from .constants import MAX_ROW_ELEMENTS
from .onnxscan import GraphStructure, NodeInfo

__all__ = ["ALLOWED_DOMAINS", "ALLOWED_OPS", "MAX_DIM", "ORT_FUSED_OPS", "check_structure"]

#: largest declared dimension: onnxruntime indexes with int32 on several paths
MAX_DIM = 2**31 - 1
#: most dimensions of one tensor
MAX_TENSOR_RANK = 16

#: domain -> op types aeexport emits ("" is the default ai.onnx domain). Derived as the
#: module docstring says; a new kind or variant that emits another op adds it here.
ALLOWED_OPS: dict[str, frozenset[str]] = {
    "": frozenset(
        {
            # dense/conv/sparse/denoising/vae/ensemble graphs with every activation, scorer
            # (mse, mae; neg_elbo: Exp, Pow)
            "Abs",
            "Add",
            "Conv",
            "ConvTranspose",
            "Div",
            "Elu",
            "Exp",
            "Gelu",
            "Gemm",
            "LeakyRelu",
            "MatMul",
            "Mul",
            "Pow",
            "ReduceMean",
            "ReduceSum",
            "Relu",
            "Reshape",
            "Sigmoid",
            # series-tcn: Conv1d over time on (batch, W, C) windows, cropped to W
            "Slice",
            "Transpose",
            "Sub",
            "Tanh",
            # ensemble with score="members" (the members' mean of their scores; --members N)
            "Unsqueeze",
            # int8-dynamic, int8-static (QDQ), fp16 variants
            "Cast",
            "DequantizeLinear",
            "DynamicQuantizeLinear",
            "MatMulInteger",
            "QuantizeLinear",
            # the decision head of a scorer (aeexport.decision_head): the p-value's count over the
            # stored calibration scores in two levels (Less, then Gather of one block; ~2 sqrt(n)
            # compares per row, no row-by-calibration broadcast) and the label (Greater)
            "Gather",
            "Greater",
            "Less",
        }
    ),
}
#: domain -> the kernels onnxruntime's optimizer (level "all", CPU) fuses operators of ALLOWED_OPS into:
#: Gemm/Conv + activation, MatMul + scale/transpose, the Gelu and x*sigmoid(x) patterns
ORT_FUSED_OPS: dict[str, frozenset[str]] = {
    "com.microsoft": frozenset({"BiasGelu", "FastGelu", "FusedConv", "FusedGemm", "FusedMatMul", "Gelu", "QuickGelu"})
}
_ORT_OPS = {**ALLOWED_OPS, **ORT_FUSED_OPS}
#: the opset domains a graph may import ("ai.onnx" is the default domain's long name)
ALLOWED_DOMAINS = frozenset({"", "ai.onnx"})

_FIX = "Re-export the bundle with aeexport; aeruntime runs only graphs made of the operators aeexport emits."


def _domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def _node_problem(node: NodeInfo, ops: dict[str, frozenset[str]]) -> str:
    allowed = ops.get(_domain(node.domain))
    if node.subgraph:
        return "holds a subgraph (Loop/Scan/If bodies are never written by aeexport)"
    if allowed is None:
        return f"is in domain {node.domain!r}, which is not a domain aeexport uses (allowed: {sorted(ops)})"
    if node.op_type not in allowed:
        return f"is an operator aeexport does not emit (allowed: {len(allowed)} op types of aeruntime.format.ops.ALLOWED_OPS)"
    return ""


def _check_nodes(rel: str, structure: GraphStructure, ops: dict[str, frozenset[str]]) -> None:
    for node in structure.nodes:
        why = _node_problem(node, ops)
        if why:
            raise UnsafeBundleError(
                f"{rel}: node {node.name!r} (op {node.op_type!r}, domain {node.domain!r}) {why}; refusing it "
                f"before onnxruntime sees the graph. {_FIX}"
            )


def _check_model(rel: str, structure: GraphStructure, ort_format: bool) -> None:
    extra = [
        (structure.functions, "model-local functions"),
        (structure.training, "training_info entries"),
        (structure.sparse, "sparse initializers"),
        (structure.runtime_optimizations, "saved runtime optimizations"),
    ]
    for count, what in extra:
        if count:
            raise UnsafeBundleError(f"{rel} holds {count} {what}, which aeexport never writes. {_FIX}")
    for domain, version in [] if ort_format else structure.opsets:
        if domain not in ALLOWED_DOMAINS:
            raise UnsafeBundleError(
                f"{rel} imports opset domain {domain!r} (version {version}); aeexport graphs import only the "
                f"default ai.onnx domain. {_FIX}"
            )


def _check_shapes(rel: str, structure: GraphStructure) -> None:
    for name, dims in structure.values:
        fixed = [d for d in dims if d is not None]
        bad = next((d for d in fixed if not 0 <= d <= MAX_DIM), None)
        if bad is not None or len(dims) > MAX_TENSOR_RANK or math.prod(fixed) > MAX_ROW_ELEMENTS:
            raise UnsafeBundleError(
                f"{rel} declares value {name!r} of shape {dims[:MAX_TENSOR_RANK]}: expected at most "
                f"{MAX_TENSOR_RANK} dimensions of 0..{MAX_DIM} and {MAX_ROW_ELEMENTS} elements per row. {_FIX}"
            )


def _check_tensors(rel: str, structure: GraphStructure) -> None:
    for name, dims, stored in structure.tensors:
        shown = dims[:MAX_TENSOR_RANK]
        if len(dims) > MAX_TENSOR_RANK or any(not 0 <= d <= MAX_DIM for d in dims):
            raise UnsafeBundleError(
                f"{rel}: tensor {name!r} has dims {shown}: expected at most {MAX_TENSOR_RANK} dimensions "
                f"of 0..{MAX_DIM}. {_FIX}"
            )
        n = math.prod(dims)
        if n > max(1, 2 * stored):  # int4 packs two elements per byte: no tensor holds more
            raise UnsafeBundleError(
                f"{rel}: tensor {name!r} declares dims {shown} ({n} elements) but holds {stored} bytes of data: "
                f"onnxruntime would allocate memory the file does not contain. {_FIX}"
            )


def check_structure(rel: str, structure: GraphStructure, *, ort_format: bool = False) -> None:
    """Refuse a graph that is not made of what aeexport writes (see the module docstring).

    Parameters
    ----------
    rel : str
        The graph's path in the bundle, named in the message.
    structure : GraphStructure
        What :func:`~aeruntime.format.onnxscan.scan_model` (or, for an ORT-format graph,
        :func:`~aeruntime.format.ortscan.scan_ort`) read from the file.
    ort_format : bool
        The graph is in onnxruntime's ORT format: its fused kernels are allowed too and
        its opset imports are not checked (its nodes are).

    Raises
    ------
    UnsafeBundleError
    """
    _check_model(rel, structure, ort_format)
    _check_nodes(rel, structure, _ORT_OPS if ort_format else ALLOWED_OPS)
    _check_shapes(rel, structure)
    _check_tensors(rel, structure)
