"""A minimal, onnx-free reader of the parts of an ``.onnx`` file a loader must check first.

aeruntime does not depend on the ``onnx`` package, yet it must look inside a graph
file *before* onnxruntime parses it: to refuse external-data references (which
make onnxruntime open other files, possibly outside the bundle), to read the
``aeexport.*`` metadata and to hash the graph body. This module walks the
protobuf wire format of ``ModelProto`` directly, following only the message
fields that can hold tensors:

======================  ==============================================================
message                 fields followed (field number: type)
======================  ==============================================================
ModelProto              7: GraphProto, 14: metadata_props, 20: TrainingInfoProto,
                        25: FunctionProto
GraphProto              1: NodeProto, 5: TensorProto (initializer),
                        15: SparseTensorProto
NodeProto               5: AttributeProto
AttributeProto          5/10: TensorProto, 6/11: GraphProto, 22/23: SparseTensorProto
SparseTensorProto       1/2: TensorProto
TrainingInfoProto       1/2: GraphProto
FunctionProto           7: NodeProto, 11: AttributeProto
TensorProto             8: name, 13: external_data entries, 14: data_location
======================  ==============================================================

Every other field is skipped by its wire length, so the cost grows with the number
of protobuf fields, not with the size of the weights. The top level (graph body,
metadata) is always parsed; the deep walk runs whenever the file contains the bytes
``b"location"``: a tensor can only point to another file through an external_data
entry whose key is the literal string ``location``, so a file without those bytes
cannot reference external data (bundles written by aeexport never contain them).
Anything that is not well-formed protobuf where it is parsed (truncated files, bad
lengths, deprecated group wire types, nesting deeper than :data:`MAX_DEPTH`)
raises :class:`ProtoError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_DEPTH", "GraphStructure", "ModelScan", "NodeInfo", "ProtoError", "fields", "scan_model", "varint"]

#: deepest nesting of messages (subgraphs inside attributes) accepted
MAX_DEPTH = 64

_MODEL, _GRAPH, _NODE, _ATTR, _SPARSE, _TENSOR, _TRAINING, _FUNCTION, _ENTRY = range(9)

#: message kind -> {field number: message kind of that (length-delimited) field}
_CHILDREN: dict[int, dict[int, int]] = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTR},
    _ATTR: {5: _TENSOR, 10: _TENSOR, 6: _GRAPH, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
    _TRAINING: {1: _GRAPH, 2: _GRAPH},
    _FUNCTION: {7: _NODE, 11: _ATTR},
    _TENSOR: {},
    _ENTRY: {},
}
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


class ProtoError(ValueError):
    """The bytes are not a well-formed ONNX ModelProto."""


@dataclass(frozen=True)
class NodeInfo:
    """One node of the main graph: what the operator allow-list checks."""

    name: str
    op_type: str
    domain: str
    #: an attribute holds a graph (Loop, Scan, If bodies)
    subgraph: bool = False


@dataclass
class GraphStructure:
    """The parts of a ModelProto that say what onnxruntime will run and allocate (:func:`scan_structure`)."""

    nodes: list[NodeInfo] = field(default_factory=list)
    #: (domain, version) of every opset_import
    opsets: list[tuple[str, int]] = field(default_factory=list)
    #: (value name, declared dims; None for a symbolic dim) of graph inputs, outputs and value_info
    values: list[tuple[str, list[int | None]]] = field(default_factory=list)
    #: (tensor name, dims, bytes of data it holds) of initializers and node-attribute tensors
    tensors: list[tuple[str, list[int], int]] = field(default_factory=list)
    #: model-local functions (FunctionProto), training_info entries and sparse initializers
    functions: int = 0
    training: int = 0
    sparse: int = 0
    #: runtime optimization records saved in an ORT-format graph (never in ``.onnx``)
    runtime_optimizations: int = 0


@dataclass
class ModelScan:
    """What :func:`scan_model` found in one ``.onnx`` file."""

    #: sha256 of the serialized GraphProto (ModelProto field 7), as aeexport records it
    graph_sha256: str
    #: ModelProto.metadata_props as a dict
    metadata: dict[str, str] = field(default_factory=dict)
    #: (tensor name, external_data location or "") of every tensor stored outside the file
    external: list[tuple[str, str]] = field(default_factory=list)
    #: nodes, opsets, declared shapes and tensor sizes of the main graph
    structure: GraphStructure = field(default_factory=GraphStructure)


def varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtoError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint longer than 10 bytes")


def fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(field number, wire type, value)``; value is an int or a (start, end) span."""
    pos = start
    while pos < end:
        key = buf[pos]
        if key < 0x80:  # one-byte keys and lengths are the common case: no call
            pos += 1
        else:
            key, pos = varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == 0:
            value, pos = varint(buf, pos, end)
            yield number, wire, value
        elif wire == 1:
            if pos + 8 > end:
                raise ProtoError("truncated fixed64 field")
            pos += 8
        elif wire == 2:
            if pos < end and buf[pos] < 0x80:
                length = buf[pos]
                pos += 1
            else:
                length, pos = varint(buf, pos, end)
            if pos + length > end:
                raise ProtoError(f"field {number} claims {length} bytes but only {end - pos} remain (truncated file?)")
            yield number, wire, (pos, pos + length)
            pos += length
        elif wire == 5:
            if pos + 4 > end:
                raise ProtoError("truncated fixed32 field")
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wire} (field {number})")
    if pos != end:  # pragma: no cover - the loop above cannot overshoot
        raise ProtoError("message overruns its length")


def _entry(buf: memoryview, span: tuple[int, int]) -> tuple[str, str]:
    key = value = ""
    for number, wire, v in fields(buf, *span):
        if wire == 2 and number in (1, 2):
            try:
                text = bytes(buf[v[0] : v[1]]).decode("utf-8")
            except UnicodeDecodeError:
                raise ProtoError("metadata or external_data entry is not UTF-8") from None
            if number == 1:
                key = text
            else:
                value = text
    return key, value


def _tensor(buf: memoryview, span: tuple[int, int], scan: ModelScan) -> None:
    """Record a TensorProto in ``scan.external`` when its data lives in another file."""
    name = ""
    location = None
    external = False
    for number, wire, value in fields(buf, *span):
        if number == 8 and wire == 2:
            name = bytes(buf[value[0] : value[1]]).decode("utf-8", "replace")
        elif number == 13 and wire == 2:
            external = True
            k, v = _entry(buf, value)
            if k == "location":
                location = v
        elif number == 14 and wire == 0 and value == _EXTERNAL:
            external = True
    if external:
        scan.external.append((name, location or ""))


def _walk(buf: memoryview, span: tuple[int, int], kind: int, depth: int, scan: ModelScan) -> None:
    if depth > MAX_DEPTH:
        raise ProtoError(f"messages nested deeper than {MAX_DEPTH} levels")
    if kind == _TENSOR:
        _tensor(buf, span, scan)
        return
    children = _CHILDREN[kind]
    for number, wire, value in fields(buf, *span):
        if kind == _MODEL and number == 14 and wire == 2:
            k, v = _entry(buf, value)
            scan.metadata[k] = v
            continue
        child = children.get(number)
        if child is not None:
            if wire != 2:
                raise ProtoError(f"field {number} should hold a message but has wire type {wire}")
            _walk(buf, value, child, depth + 1, scan)


def scan_model(data: bytes) -> ModelScan:
    """Scan the bytes of an ``.onnx`` file without the ``onnx`` package.

    Parameters
    ----------
    data : bytes
        Contents of an ``.onnx`` file.

    Returns
    -------
    ModelScan
        The graph body's sha256, the metadata and every external-data reference.

    Raises
    ------
    ProtoError
        ``data`` is not a well-formed ModelProto (empty, truncated, no graph, two
        graphs, malformed fields).
    """
    buf = memoryview(data)
    end = len(buf)
    graphs = []
    metadata = {}
    for number, wire, value in fields(buf, 0, end):
        if number == 7 and wire == 2:
            graphs.append(value)
        elif number == 14 and wire == 2:
            k, v = _entry(buf, value)
            metadata[k] = v
    if len(graphs) != 1:
        raise ProtoError(f"expected exactly one graph in the model, found {len(graphs)}")
    start, stop = graphs[0]
    scan = ModelScan(graph_sha256=hashlib.sha256(buf[start:stop]).hexdigest(), metadata=metadata)
    scan.structure = scan_structure(data if isinstance(data, bytes) else bytes(data), graphs[0])
    # External data is only usable with a "location" entry, whose key is stored as the
    # literal bytes b"location"; without them no tensor can point to another file, and the
    # deep walk (the slow part) is skipped. Every bundle aeexport writes takes this path.
    if b"location" in data:
        _walk(buf, (0, end), _MODEL, 0, scan)
    return scan


# ------------------------------------------------------------------ structure (allow-list, sizes)
# GraphProto: 1 node, 5 initializer, 11 input, 12 output, 13 value_info; NodeProto: 3 name,
# 4 op_type, 5 attribute, 7 domain; AttributeProto: 5 t, 6 g, 10 tensors, 11 graphs, 20 type;
# ValueInfoProto: 2 type; TypeProto: 1 tensor_type; TypeProto.Tensor: 2 shape;
# TensorShapeProto: 1 dim; Dimension: 1 dim_value; TensorProto: 1 dims, 4-7/9-11 data.
_GRAPH_ATTR_TYPES = (5, 10)  # AttributeProto.GRAPH, GRAPHS
_TENSOR_DATA = (4, 5, 6, 7, 9, 10, 11)  # float/int32/string/int64/raw/double/uint64 data


def _text(buf: memoryview, span: tuple[int, int]) -> str:
    return bytes(buf[span[0] : span[1]]).decode("utf-8", "replace")


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _varints(buf: memoryview, wire: int, value: Any) -> list[int]:
    """A repeated int64 field, packed (wire 2) or not."""
    if wire == 0:
        return [_int64(value)]
    out, pos = [], value[0]
    while pos < value[1]:
        v, pos = varint(buf, pos, value[1])
        out.append(_int64(v))
    return out


def _tensor_size(buf: memoryview, span: tuple[int, int]) -> tuple[str, list[int], int]:
    """``(name, dims, bytes of data)`` of a TensorProto."""
    name, dims, stored = "", [], 0
    for number, wire, value in fields(buf, *span):
        if number == 1 and wire in (0, 2):
            dims += _varints(buf, wire, value)
        elif number == 8 and wire == 2:
            name = _text(buf, value)
        elif number in _TENSOR_DATA and wire == 2:
            stored += value[1] - value[0]
        elif number in _TENSOR_DATA:
            stored += 8  # one unpacked scalar
    return name, dims, stored


def _node(buf: memoryview, span: tuple[int, int], out: GraphStructure) -> None:
    name = op = domain = ""
    subgraph = False
    for number, wire, value in fields(buf, *span):
        if wire != 2:
            continue
        if number == 3:
            name = _text(buf, value)
        elif number == 4:
            op = _text(buf, value)
        elif number == 7:
            domain = _text(buf, value)
        elif number == 5:
            for n, w, v in fields(buf, *value):
                if n in (6, 11) and w == 2 or n == 20 and w == 0 and v in _GRAPH_ATTR_TYPES:
                    subgraph = True
                elif n in (5, 10) and w == 2:
                    out.tensors.append(_tensor_size(buf, v))
    out.nodes.append(NodeInfo(name, op, domain, subgraph))


def _sub(buf: memoryview, span: tuple[int, int], number: int) -> Iterator[tuple[int, int]]:
    """The spans of the length-delimited fields ``number`` of a message."""
    for n, wire, value in fields(buf, *span):
        if n == number and wire == 2:
            yield value


def _value_info(buf: memoryview, span: tuple[int, int]) -> tuple[str, list[int | None]]:
    name = next((_text(buf, v) for v in _sub(buf, span, 1)), "")
    dims: list[int | None] = []
    for typ in _sub(buf, span, 2):
        for tensor in _sub(buf, typ, 1):
            for shape in _sub(buf, tensor, 2):
                for dim in _sub(buf, shape, 1):
                    value = None
                    for n, wire, v in fields(buf, *dim):
                        if n == 1 and wire == 0:
                            value = _int64(v)
                    dims.append(value)
    return name, dims


def _opset(buf: memoryview, span: tuple[int, int]) -> tuple[str, int]:
    """OperatorSetIdProto: domain = 1, version = 2."""
    domain, version = "", 0
    for n, w, v in fields(buf, *span):
        if n == 1 and w == 2:
            domain = _text(buf, v)
        elif n == 2 and w == 0:
            version = _int64(v)
    return domain, version


def scan_structure(buf: memoryview, graph: tuple[int, int]) -> GraphStructure:
    """Nodes, opsets, declared shapes, tensor sizes and functions of a ModelProto (``graph``: its GraphProto span).

    Fields are walked by their wire lengths: the cost grows with the number of
    nodes and tensors, never with the size of the weights (their bytes are skipped).
    """
    out = GraphStructure()
    for number, wire, value in fields(buf, 0, len(buf)):
        if wire == 2 and number == 8:
            out.opsets.append(_opset(buf, value))
        elif wire == 2 and number in (20, 25):
            out.training += number == 20
            out.functions += number == 25
    for number, wire, value in fields(buf, *graph):
        if wire != 2:
            continue
        if number == 1:
            _node(buf, value, out)
        elif number == 5:
            out.tensors.append(_tensor_size(buf, value))
        elif number in (11, 12, 13):
            out.values.append(_value_info(buf, value))
        elif number == 15:
            out.sparse += 1
    return out
