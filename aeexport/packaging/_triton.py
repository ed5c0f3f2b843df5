"""A Triton / KServe model repository of a bundle: ``NAME/config.pbtxt`` and ``NAME/1/model.onnx``.

``model.onnx`` is the bundle's scorer graph, byte for byte (the scaler and the score are
inside it). ``config.pbtxt`` (Triton's ``ModelConfig`` in protobuf text format) takes its
tensors from the manifest and the graph: the input ``(batch, *input_shape)``, each scorer
output (``score``, and ``label``/``p_value`` when the graph has them) with its graph
dtype, a batch dimension (``max_batch_size``) and a ``dynamic_batching`` block. The bundle
id, threshold, score and feature names travel as ``parameters``. A bundle whose scorer has
no ``label`` output leaves the label to the client: ``score > threshold``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aeruntime.errors import InvalidInputError

from ._common import PackageSource

__all__ = ["config_text", "write_triton"]

#: onnxruntime's type names -> Triton's data types
_TRITON_TYPES = {
    "tensor(float)": "TYPE_FP32",
    "tensor(double)": "TYPE_FP64",
    "tensor(float16)": "TYPE_FP16",
    "tensor(int8)": "TYPE_INT8",
    "tensor(int16)": "TYPE_INT16",
    "tensor(int32)": "TYPE_INT32",
    "tensor(int64)": "TYPE_INT64",
    "tensor(uint8)": "TYPE_UINT8",
    "tensor(bool)": "TYPE_BOOL",
}
#: microseconds Triton may wait to fill a batch
QUEUE_DELAY_US = 200


def _scorer(source: PackageSource) -> tuple[Path, Any]:
    import onnxruntime as ort

    info = source.manifest["graphs"].get("scorer")
    if info is None or not str(info["file"]).endswith(".onnx"):
        raise InvalidInputError(
            f"{source.path}: Triton's onnxruntime backend needs the scorer as an .onnx graph, but this bundle has "
            f"{'no scorer' if info is None else info['file']}; package the bundle it was made from."
        )
    path = source.path / info["file"]
    return path, ort.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])


def _tensor(name: str, ort_type: str, shape: list[Any]) -> str:
    kind = _TRITON_TYPES.get(ort_type)
    if kind is None:
        raise InvalidInputError(f"the scorer's tensor {name!r} has type {ort_type}, which Triton cannot carry.")
    dims = [int(d) for d in shape[1:]]  # the batch dimension is Triton's own (max_batch_size)
    reshape = "" if dims else " reshape: { shape: [ ] }"
    return f'  {{ name: "{name}" data_type: {kind} dims: [ {", ".join(map(str, dims or [1]))} ]{reshape} }}'


def _parameter(key: str, value: str) -> str:
    return f"parameters: {{ key: {json.dumps(key)} value: {{ string_value: {json.dumps(value)} }} }}"


def config_text(source: PackageSource, sess: Any) -> str:
    """``config.pbtxt`` of the scorer session ``sess`` for ``source``."""
    m = source.manifest
    primary = sess.get_inputs()[0]
    inputs = [_tensor(primary.name, primary.type, ["batch", *source.model.input_shape])]
    outputs = [_tensor(o.name, o.type, o.shape) for o in sess.get_outputs()]
    params = {
        "aeexport.bundle_id": str(m["bundle_id"]),
        "aeexport.threshold": repr(float(source.model.threshold)),
        "aeexport.score": str(m["score"].get("name", "mse")),
        "aeexport.feature_names": json.dumps(source.model.feature_names or []),
    }
    return "\n".join(
        [
            f"name: {json.dumps(source.name)}",
            'backend: "onnxruntime"',
            f"max_batch_size: {source.max_batch_size}",
            "input [",
            ",\n".join(inputs),
            "]",
            "output [",
            ",\n".join(outputs),
            "]",
            f"dynamic_batching {{ max_queue_delay_microseconds: {QUEUE_DELAY_US} }}",
            *(_parameter(k, v) for k, v in params.items()),
            "",
        ]
    )


def write_triton(tmp: Path, source: PackageSource) -> None:
    """Fill ``tmp`` with the model repository of ``source``: ``NAME/config.pbtxt``, ``NAME/1/model.onnx``."""
    graph, sess = _scorer(source)
    model_dir = tmp / source.name
    (model_dir / "1").mkdir(parents=True)
    (model_dir / "1" / "model.onnx").write_bytes(graph.read_bytes())
    (model_dir / "config.pbtxt").write_text(config_text(source, sess), encoding="utf-8")
