"""Compatibility names: the protobuf scanner lives in :mod:`aeruntime.format.onnxscan`."""

from .format.onnxscan import MAX_DEPTH, ModelScan, ProtoError, scan_model  # noqa: F401
