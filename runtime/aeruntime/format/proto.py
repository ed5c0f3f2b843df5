"""Writing the few protobuf messages a bundle needs, by hand (no ``onnx`` package).

- :func:`set_model_metadata`: rewrite the top level of a serialized ``ModelProto``:
  drop the ``metadata_props`` entries (field 14) whose keys are replaced, and
  ``producer_name`` / ``producer_version`` / ``doc_string`` (fields 2, 3, 6) when
  new ones are given, then append the new entries. Protobuf concatenates repeated
  fields and lets a later scalar win, so the result is a valid ModelProto; the
  GraphProto (field 7) is copied byte for byte, so its sha256 does not change.
- :func:`tensor_bytes` / :func:`read_tensor`: ``TensorProto`` (dims, data_type,
  name, raw_data) for golden vectors in the ONNX model-zoo layout.
- :func:`read_initializer`: one named initializer of a serialized ``ModelProto``
  (ModelProto 7: graph, GraphProto 5: initializer, TensorProto 8: name).

Field numbers are those of ``onnx/onnx.proto`` (IR version 10).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .onnxscan import ProtoError, fields, varint

__all__ = ["TENSOR_DTYPES", "read_initializer", "read_tensor", "set_model_metadata", "tensor_bytes"]

# ModelProto fields
_PRODUCER_NAME, _PRODUCER_VERSION, _DOC_STRING, _METADATA = 2, 3, 6, 14
# TensorProto fields
_DIMS, _DATA_TYPE, _FLOAT_DATA, _INT32_DATA, _INT64_DATA, _NAME, _RAW_DATA, _DOUBLE_DATA = 1, 2, 4, 5, 7, 8, 9, 10

#: TensorProto.DataType -> numpy dtype (the ones golden vectors use)
TENSOR_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int8),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    9: np.dtype(np.bool_),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
}
_CODES = {dt: code for code, dt in TENSOR_DTYPES.items()}


def _uvarint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # protobuf encodes negative int64 as 10-byte two's complement
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _uvarint(number << 3 | wire)


def _bytes_field(number: int, data: bytes) -> bytes:
    return _key(number, 2) + _uvarint(len(data)) + data


def _entry(key: str, value: str) -> bytes:
    """StringStringEntryProto: key = 1, value = 2."""
    return _bytes_field(1, key.encode("utf-8")) + _bytes_field(2, value.encode("utf-8"))


def _entry_key(buf: memoryview, span: tuple[int, int]) -> str:
    for number, wire, value in fields(buf, *span):
        if number == 1 and wire == 2:
            return bytes(buf[value[0] : value[1]]).decode("utf-8", "replace")
    return ""


def _spans(buf: memoryview):  # type: ignore[no-untyped-def]
    """Yield ``(number, wire, value, start, stop)`` of each top-level field, ``start:stop`` its bytes."""
    pos, end = 0, len(buf)
    while pos < end:
        start = pos
        key, pos = varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        value: object = None
        if wire == 0:
            value, pos = varint(buf, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = varint(buf, pos, end)
            value = (pos, pos + length)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wire} (field {number})")
        if number == 0 or pos > end:
            raise ProtoError("malformed or truncated ModelProto")
        yield number, wire, value, start, pos


def set_model_metadata(
    model: bytes,
    metadata: Mapping[str, str],
    *,
    drop_prefix: str | None = None,
    producer: tuple[str, str] | None = None,
    doc_string: str | None = None,
) -> bytes:
    """A serialized ModelProto with ``metadata`` set in ``metadata_props``.

    Parameters
    ----------
    model : bytes
        A serialized ``ModelProto``.
    metadata : mapping of str to str
        Entries to set; existing entries with these keys are removed first.
    drop_prefix : str, optional
        Also remove every existing entry whose key starts with this prefix.
    producer : (name, version), optional
        New ``producer_name`` / ``producer_version``.
    doc_string : str, optional
        New model ``doc_string``.
    """
    buf = memoryview(model)
    out = bytearray()
    replaced = {_PRODUCER_NAME, _PRODUCER_VERSION} if producer else set()
    if doc_string is not None:
        replaced.add(_DOC_STRING)
    for number, wire, value, start, stop in _spans(buf):
        drop = number in replaced and wire == 2
        if number == _METADATA and wire == 2:
            key = _entry_key(buf, value)
            drop = key in metadata or (drop_prefix is not None and key.startswith(drop_prefix))
        if not drop:
            out += buf[start:stop]
    if producer:
        out += _bytes_field(_PRODUCER_NAME, producer[0].encode())
        out += _bytes_field(_PRODUCER_VERSION, producer[1].encode())
    if doc_string is not None:
        out += _bytes_field(_DOC_STRING, doc_string.encode("utf-8"))
    for k, v in metadata.items():
        out += _bytes_field(_METADATA, _entry(k, v))
    return bytes(out)


def tensor_bytes(array: np.ndarray, name: str) -> bytes:
    """A serialized ``TensorProto`` holding ``array`` (little-endian ``raw_data``)."""
    arr = np.asarray(array)  # not ascontiguousarray: it turns 0-d arrays into shape (1,)
    code = _CODES.get(arr.dtype)
    if code is None:
        raise TypeError(f"no TensorProto data type for {arr.dtype}; expected one of {sorted(map(str, _CODES))}")
    out = bytearray()
    for d in arr.shape:  # onnx.proto is proto2: repeated int64 dims are not packed
        out += _key(_DIMS, 0) + _uvarint(int(d))
    out += _key(_DATA_TYPE, 0) + _uvarint(code)
    out += _bytes_field(_NAME, name.encode("utf-8"))
    out += _bytes_field(_RAW_DATA, arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
    return bytes(out)


def _packed_varints(buf: memoryview, span: tuple[int, int]) -> list[int]:
    vals, pos = [], span[0]
    while pos < span[1]:
        v, pos = varint(buf, pos, span[1])
        vals.append(v - (1 << 64) if v >= 1 << 63 else v)
    return vals


def _typed_values(number: int, buf: memoryview, span: tuple[int, int]) -> list[float]:
    """The values of a packed float_data / double_data / int32_data / int64_data field."""
    if number == _FLOAT_DATA:
        return np.frombuffer(bytes(buf[span[0] : span[1]]), "<f4").tolist()
    if number == _DOUBLE_DATA:
        return np.frombuffer(bytes(buf[span[0] : span[1]]), "<f8").tolist()
    return _packed_varints(buf, span)  # type: ignore[return-value]


_TYPED = (_FLOAT_DATA, _INT32_DATA, _INT64_DATA, _DOUBLE_DATA)


def _tensor_fields(buf: memoryview) -> tuple[list[int], int, str, bytes | None, list[float]]:
    """``(dims, data_type, name, raw_data or None, the first typed data field's values)`` of a TensorProto."""
    dims: list[int] = []
    code, name, raw = 1, "", None
    typed: dict[int, list[float]] = {}
    for number, wire, value in fields(buf, 0, len(buf)):
        if number == _DIMS:
            dims += _packed_varints(buf, value) if wire == 2 else [value]
        elif number == _DATA_TYPE and wire == 0:
            code = value
        elif wire != 2:
            continue
        elif number == _NAME:
            name = bytes(buf[value[0] : value[1]]).decode("utf-8", "replace")
        elif number == _RAW_DATA:
            raw = bytes(buf[value[0] : value[1]])
        elif number in _TYPED:
            typed[number] = _typed_values(number, buf, value)
    return dims, code, name, raw, next(iter(typed.values()), [])


def read_tensor(data: bytes) -> tuple[str, np.ndarray]:
    """``(name, array)`` of a serialized ``TensorProto`` (raw_data or float/int/double data)."""
    dims, code, name, raw, values = _tensor_fields(memoryview(data))
    dtype = TENSOR_DTYPES.get(code)
    if dtype is None:
        raise ProtoError(f"tensor {name!r} has data type {code}, which golden vectors do not use")
    if raw is not None:
        arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)
    else:
        arr = np.asarray(values, dtype=dtype)
    n = int(np.prod(dims)) if dims else 1
    if arr.size != n:
        raise ProtoError(f"tensor {name!r} has {arr.size} values but dims {dims}")
    return name, arr.reshape(dims)


def read_initializer(model: bytes, name: str) -> np.ndarray | None:
    """The initializer ``name`` of the main graph of a serialized ``ModelProto``; None when it has none."""
    buf = memoryview(model)
    for number, wire, graph in fields(buf, 0, len(buf)):
        if number != 7 or wire != 2:
            continue
        for g_number, g_wire, span in fields(buf, *graph):
            if g_number != 5 or g_wire != 2:
                continue
            tensor = buf[span[0] : span[1]]
            for t_number, t_wire, value in fields(tensor, 0, len(tensor)):
                if t_number == _NAME and t_wire == 2 and bytes(tensor[value[0] : value[1]]) == name.encode():
                    return read_tensor(bytes(tensor))[1]
    return None
