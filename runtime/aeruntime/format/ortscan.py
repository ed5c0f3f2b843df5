"""Reading an ORT-format graph (``.ort``) with onnxruntime's own reader of its flatbuffer schema.

An ORT-format model is a flatbuffer (file identifier ``ORTM``), not protobuf, so
:mod:`~aeruntime.format.onnxscan` cannot read it. onnxruntime ships the Python classes
of that schema (``onnxruntime/tools/ort_format_model/ort_flatbuffers_py``, the reader
behind ``onnxruntime.tools.ort_format_model``); :func:`scan_ort` reads with them what
:func:`~aeruntime.format.onnxscan.scan_model` reads from an ``.onnx`` file: the
``metadata_props`` (the ``aeexport.*`` entries checked against the manifest) and a
:class:`~aeruntime.format.onnxscan.GraphStructure` (nodes, attributes holding graphs,
opsets, declared shapes, tensor sizes, sparse initializers, external data, saved
runtime optimizations) for :func:`~aeruntime.format.ops.check_structure`.

The classes are loaded from their folder inside the installed onnxruntime, not through
``import onnxruntime.tools``: that package imports torch whenever torch is installed,
and the runtime never does. Without them (no ``flatbuffers`` package, an onnxruntime
build without the tools) :func:`scan_ort` raises :class:`OrtReaderMissing`: the graph
cannot be checked, so it is refused, never run unchecked.

Flatbuffers have no verifier in Python: every count is bounded by the file size
before it is iterated, and any read outside the buffer is a :class:`ProtoError`.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .onnxscan import ModelScan, NodeInfo, ProtoError

__all__ = ["ORT_IDENTIFIER", "OrtReaderMissing", "is_ort_format", "read_ort_initializer", "scan_ort"]

#: the flatbuffer file identifier of onnxruntime's ORT format (bytes 4..8)
ORT_IDENTIFIER = b"ORTM"
_PACKAGE = "ort_flatbuffers_py"  # the name onnxruntime's generated classes import each other by
_GRAPH_TYPES = (5, 10)  # fbs.AttributeType.GRAPH, GRAPHS
_TENSOR_TYPE = 1  # fbs.TypeInfoValue.tensor_type
_DIM_VALUE = 1  # fbs.DimensionValueType.VALUE
_LOADING = threading.Lock()  # two threads loading bundles load the classes once


class OrtReaderMissing(RuntimeError):
    """onnxruntime's reader of the ORT format cannot be loaded here."""


def is_ort_format(data: bytes) -> bool:
    """True when ``data`` carries the ORT format's file identifier (``ORTM`` at offset 4)."""
    return data[4:8] == ORT_IDENTIFIER


def _schema() -> Any:
    """The ``fbs`` package of onnxruntime's ORT-format classes (loaded once, without ``onnxruntime.tools``)."""
    with _LOADING:
        if sys.modules.get(_PACKAGE) is None:
            _load_package()
    try:
        from ort_flatbuffers_py.fbs.InferenceSession import InferenceSession  # type: ignore[import-not-found]
    except ImportError as exc:  # flatbuffers missing
        raise OrtReaderMissing(f"onnxruntime's ORT-format reader cannot be imported ({exc})") from None
    return InferenceSession


def _load_package() -> None:
    """Register onnxruntime's ``ort_flatbuffers_py`` package from its folder in the installed onnxruntime."""
    spec = importlib.util.find_spec("onnxruntime")
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    root = origin.parent / "tools" / "ort_format_model" / _PACKAGE if origin else None
    if root is None or not (root / "fbs" / "InferenceSession.py").is_file():
        raise OrtReaderMissing(f"this onnxruntime has no ORT-format schema classes (looked in {root})")
    package = importlib.util.spec_from_file_location(
        _PACKAGE, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    assert package is not None and package.loader is not None
    loaded = importlib.util.module_from_spec(package)
    sys.modules[_PACKAGE] = loaded
    try:
        package.loader.exec_module(loaded)
    except Exception:
        del sys.modules[_PACKAGE]
        raise


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8")


def _count(n: int, data: bytes, what: str) -> range:
    """``range(n)`` for a vector of ``n`` entries, which cannot hold more than its file: 4 bytes each at least."""
    if not 0 <= n <= len(data) // 4:
        raise ProtoError(f"{what} claims {n} entries in a file of {len(data)} bytes")
    return range(n)


def _tensor(t: Any, data: bytes, scan: ModelScan) -> None:
    name = _text(t.Name())
    dims = [int(t.Dims(j)) for j in _count(t.DimsLength(), data, "tensor dims")]
    strings = sum(len(t.StringData(j) or b"") for j in _count(t.StringDataLength(), data, "tensor strings"))
    scan.structure.tensors.append((name, dims, t.RawDataLength() + strings))
    if t.ExternalDataOffset() >= 0:
        scan.external.append((name, ""))


def _node(node: Any, data: bytes, scan: ModelScan) -> None:
    subgraph = False
    for j in _count(node.AttributesLength(), data, "node attributes"):
        attr = node.Attributes(j)
        if attr.Type() in _GRAPH_TYPES or attr.G() is not None or attr.GraphsLength():
            subgraph = True
        if attr.T() is not None:
            _tensor(attr.T(), data, scan)
        for k in _count(attr.TensorsLength(), data, "attribute tensors"):
            _tensor(attr.Tensors(k), data, scan)
    scan.structure.nodes.append(NodeInfo(_text(node.Name()), _text(node.OpType()), _text(node.Domain()), subgraph))


def _dims(value_info: Any, data: bytes) -> list[int | None] | None:
    """Declared dims of a tensor value (None for a symbolic one), or None for a value without a tensor shape."""
    info = value_info.Type()
    if info is None or info.ValueType() != _TENSOR_TYPE or info.Value() is None:
        return None
    from ort_flatbuffers_py.fbs.TensorTypeAndShape import TensorTypeAndShape  # type: ignore[import-not-found]

    tensor = TensorTypeAndShape()
    tensor.Init(info.Value().Bytes, info.Value().Pos)
    shape = tensor.Shape()
    if shape is None:
        return None
    out: list[int | None] = []
    for j in _count(shape.DimLength(), data, "value dims"):
        dim = shape.Dim(j).Value()
        out.append(int(dim.DimValue()) if dim is not None and dim.DimType() == _DIM_VALUE else None)
    return out


def _graph(graph: Any, data: bytes, scan: ModelScan) -> None:
    s = scan.structure
    for j in _count(graph.NodesLength(), data, "graph nodes"):
        _node(graph.Nodes(j), data, scan)
    for j in _count(graph.InitializersLength(), data, "graph initializers"):
        _tensor(graph.Initializers(j), data, scan)
    for j in _count(graph.NodeArgsLength(), data, "graph values"):
        arg = graph.NodeArgs(j)
        dims = _dims(arg, data)
        if dims is not None:
            s.values.append((_text(arg.Name()), dims))
    s.sparse += graph.SparseInitializersLength()
    optimizations = graph.RuntimeOptimizations()
    s.runtime_optimizations += optimizations.RecordsLength() if optimizations is not None else 0


def _read_graph(data: bytes, read: Any) -> Any:
    """``read(model, graph)`` on an ``.ort`` file's model and main graph (onnxruntime's flatbuffer classes); a read
    outside the buffer or any malformed field is a :class:`ProtoError`."""
    if len(data) < 8 or not is_ort_format(data):
        raise ProtoError("no ORT-format file identifier 'ORTM' at byte 4")
    session_cls = _schema()
    try:
        model = session_cls.GetRootAs(data, 0).Model()
        graph = model.Graph() if model is not None else None
        if graph is None:
            raise ProtoError("the file holds no model graph")
        return read(model, graph)
    except ProtoError:
        raise
    except Exception as exc:  # reads outside the buffer (struct.error, IndexError), bad UTF-8, ...
        raise ProtoError(f"malformed ORT flatbuffer ({type(exc).__name__}: {str(exc)[:80]})") from None


def scan_ort(data: bytes) -> ModelScan:
    """Scan the bytes of an ``.ort`` file: its metadata and structure (``graph_sha256`` is empty).

    Raises
    ------
    ProtoError
        ``data`` is not a well-formed ORT-format model.
    OrtReaderMissing
        onnxruntime's reader of the format cannot be loaded here.
    """
    scan = ModelScan(graph_sha256="")

    def read(model: Any, graph: Any) -> ModelScan:
        for j in _count(model.MetadataPropsLength(), data, "metadata entries"):
            entry = model.MetadataProps(j)
            scan.metadata[_text(entry.Key())] = _text(entry.Value())
        for j in _count(model.OpsetImportLength(), data, "opset imports"):
            opset = model.OpsetImport(j)
            scan.structure.opsets.append((_text(opset.Domain()), int(opset.Version())))
        _graph(graph, data, scan)
        return scan

    return _read_graph(data, read)


#: onnx TensorProto.DataType -> numpy dtype of the initializers :func:`read_ort_initializer` reads
_DTYPES = {1: "<f4", 6: "<i4", 7: "<i8", 11: "<f8"}


def read_ort_initializer(data: bytes, name: str) -> np.ndarray | None:
    """The main graph's initializer ``name`` of an ``.ort`` file as an array of its dims, or None when there is
    none (or its type is not float32, float64, int32 or int64).

    Raises
    ------
    ProtoError
        ``data`` is not a well-formed ORT-format model, or the tensor's bytes disagree with its dims.
    OrtReaderMissing
        onnxruntime's reader of the format cannot be loaded here.
    """

    def read(model: Any, graph: Any) -> np.ndarray | None:
        for j in _count(graph.InitializersLength(), data, "graph initializers"):
            t = graph.Initializers(j)
            if _text(t.Name()) != name:
                continue
            dtype = _DTYPES.get(int(t.DataType()))
            if dtype is None:
                return None
            dims = [int(t.Dims(k)) for k in _count(t.DimsLength(), data, "tensor dims")]
            raw = t.RawDataAsNumpy() if t.RawDataLength() else np.zeros(0, np.uint8)
            if raw.size != int(np.prod(dims, dtype=np.int64)) * np.dtype(dtype).itemsize:
                raise ProtoError(f"initializer {name!r} holds {raw.size} bytes, which its dims {dims} do not fit")
            return np.frombuffer(raw.tobytes(), dtype).reshape(dims)
        return None

    return _read_graph(data, read)
