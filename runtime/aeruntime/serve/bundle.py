"""A loaded bundle as a served model: its v2 tensors in, its decisions out (no mlserver import).

The Open Inference Protocol ("v2") names each tensor with a name, a datatype and a
shape. A bundle is served with one input, its raw rows ``(n, *input_shape)``
(``(n, F)`` for a table bundle, ``(n, W, C)`` for a series bundle), and the outputs the
manifest lists for its scorer: ``score`` always, ``label`` (``score > threshold``,
computed here when the graph does not output it) and ``p_value`` when the scorer has it.

Every check of the rows is the one row rule (:mod:`aeruntime.validation`), so a request gets
the same words as ``aeruntime score`` on the command line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..model import Model
from ..validation import as_batch, as_rows

__all__ = ["NUMERIC_TYPES", "OutputSpec", "ServedBundle", "decode_tensor"]

#: v2 datatype -> numpy dtype of the numeric tensors a request may send (cast once to float32)
NUMERIC_TYPES: dict[str, np.dtype] = {
    name: np.dtype(dt)
    for name, dt in (
        ("BOOL", np.bool_),
        ("UINT8", np.uint8),
        ("UINT16", np.uint16),
        ("UINT32", np.uint32),
        ("UINT64", np.uint64),
        ("INT8", np.int8),
        ("INT16", np.int16),
        ("INT32", np.int32),
        ("INT64", np.int64),
        ("FP16", np.float16),
        ("FP32", np.float32),
        ("FP64", np.float64),
    )
}
#: numpy dtype -> v2 datatype of an output
_V2_OF = {dt: name for name, dt in NUMERIC_TYPES.items()}


@dataclass(frozen=True)
class OutputSpec:
    """One output tensor: its name, v2 datatype and shape per request ``(n,)`` as ``[-1]``."""

    name: str
    datatype: str
    shape: tuple[int, ...] = (-1,)


def _flat(data: Any) -> list[Any]:
    """The flat values of a v2 ``data`` field: nested lists (also ragged ones) flattened in order."""
    flat: list[Any] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            flat.append(item)
    return flat


def decode_tensor(name: str, datatype: str, shape: list[int], data: Any) -> np.ndarray:
    """A v2 input tensor as an ndarray of ``shape``; a typed error for a wrong dtype or a wrong count.

    ``BYTES`` (and any datatype that is not numeric) gets the row rule's dtype message:
    ``X has dtype <U3 (strings), but the model expects real numbers (float32). ...``.
    """
    values = bytes(data) if isinstance(data, (bytes, bytearray)) else data
    if datatype not in NUMERIC_TYPES:
        values = [values] if isinstance(values, bytes) else _flat(values)
        as_rows(np.asarray([v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]))
        raise InvalidInputError(f"input {name!r} has datatype {datatype!r}; the model expects FP32.")  # as_rows raised
    dtype = NUMERIC_TYPES[datatype]
    count = math.prod(shape)
    try:
        if isinstance(values, bytes):
            arr = np.frombuffer(values, dtype=dtype.newbyteorder("<"))
        else:
            arr = np.asarray(values, dtype=dtype).ravel()
    except (TypeError, ValueError, OverflowError):
        arr = as_rows(np.asarray(_flat(values), dtype=object))  # names the non-numeric values (the row rule)
    if arr.size != count:
        raise InvalidInputError(
            f"input {name!r} declares shape {list(shape)} ({count} values) but holds {arr.size} values; "
            "send the values of exactly that shape, row after row."
        )
    return arr.reshape(shape)


class ServedBundle:
    """A :class:`~aeruntime.Model` behind the protocol: its tensors, its metadata and its decisions."""

    def __init__(self, name: str, model: Model) -> None:
        self.name = name
        self.model = model
        m = model.manifest
        self.input_name: str = str(m["input"]["name"])
        self._scorer_outputs: list[str] = list(m["graphs"].get("scorer", {}).get("outputs", ["score"]))
        names = ["score", "label", *(o for o in self._scorer_outputs if o not in ("score", "label"))]
        self.outputs: list[OutputSpec] = [
            OutputSpec(o, {"score": "FP32", "label": "INT8"}.get(o, "FP32")) for o in names
        ]
        self.bundle_id: str = str(m["bundle_id"])

    # ------------------------------------------------------------------ metadata
    @property
    def input_shape(self) -> list[int]:
        """The v2 shape of the input: ``[-1, *input_shape]``."""
        return [-1, *self.model.input_shape]

    def parameters(self) -> dict[str, Any]:
        """What a client needs besides the tensors: feature names, shapes, threshold, bundle id, outputs."""
        info = self.model.info()
        names = self.model.feature_names
        return {
            "bundle_id": self.bundle_id,
            "kind": info["kind"],
            "input_shape": list(self.model.input_shape),
            "feature_names": names if names is not None else [],
            "threshold": float(self.model.threshold),
            "threshold_method": info["threshold_method"],
            "score": info["score"],
            "outputs": [o.name for o in self.outputs],
            "format_version": info["format_version"],
            "providers": info["providers"],
        }

    # ------------------------------------------------------------------ inference
    def check(self, x: np.ndarray) -> np.ndarray:
        """The rows as the model's float32 batch ``(n, *input_shape)``, NaN/Inf included in the checks."""
        return as_batch(x, self.model.input_shape)

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{input name: rows (n, *input_shape)}`` -> ``{output name: (n,)}`` in :attr:`outputs` order."""
        if list(inputs) != [self.input_name]:
            raise InvalidInputError(
                f"the request has inputs {list(inputs)}, but model {self.name!r} takes one input "
                f"{self.input_name!r} of shape {self.input_shape}; send the raw rows as {self.input_name!r}."
            )
        x = inputs[self.input_name]
        if self.model.calibration_size is not None:  # decisions in the graph, at the served threshold
            score, label, p_value = self.model.decide(as_batch(x, self.model.input_shape))  # the row rule's words
            out: dict[str, np.ndarray] = {"score": score, "label": label, "p_value": p_value}
        else:
            score = self.model.score(x)  # the row rule: dtype, width, rank, NaN/Inf, with the CLI's words
            out = {"score": score, "label": score > self.model.threshold}
        return {o.name: np.asarray(out[o.name]).astype(NUMERIC_TYPES[o.datatype], copy=False) for o in self.outputs}


def v2_datatype(arr: np.ndarray) -> str:
    """The v2 datatype of a numeric ndarray (``FP32`` for float32, ...)."""
    return _V2_OF[arr.dtype]
