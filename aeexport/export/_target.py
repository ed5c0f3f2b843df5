"""Exporting for an older onnxruntime: lower a graph's opset and IR version to a release's limits.

``--target-onnxruntime 1.16`` looks the release up in :data:`aeruntime.format.compat.RELEASES`
(the one table of what each release loads) and converts every graph that is newer:
the ``ai.onnx`` opset with :func:`onnx.version_converter.convert_version`, then the
``ir_version`` set down (the IR versions 9 -> 11 added types and fields aeexport's graphs
do not use; :func:`onnx.checker.check_model` re-checks the result). Parity is then
measured on the converted graphs as for any export, so a conversion that changed a
result is refused (nothing written).
"""

from __future__ import annotations

import onnx
from onnx import version_converter

from aeruntime.errors import InvalidInputError
from aeruntime.format import Release, release_limits

__all__ = ["check_target", "lower_graph"]

_ONNX_DOMAINS = ("", "ai.onnx")


def check_target(target: str | None) -> Release | None:
    """The limits of ``target`` (``"1.16"``), None for no target; :class:`InvalidInputError` when unknown."""
    return None if target is None else release_limits(target)


def lower_graph(proto: onnx.ModelProto, limits: Release | None) -> onnx.ModelProto:
    """``proto`` with opset and IR version at most ``limits`` (unchanged when it already fits or no limits)."""
    if limits is None:
        return proto
    opset = max(o.version for o in proto.opset_import if o.domain in _ONNX_DOMAINS)
    if opset > limits.max_opset:
        try:
            proto = version_converter.convert_version(proto, limits.max_opset)
        except Exception as exc:  # the converter raises bare RuntimeErrors per unsupported op
            raise InvalidInputError(
                f"cannot lower this graph from opset {opset} to opset {limits.max_opset} (onnxruntime "
                f"{limits.release}): {str(exc).splitlines()[0]}; target a newer onnxruntime."
            ) from None
    if proto.ir_version > limits.max_ir:
        proto.ir_version = limits.max_ir
    onnx.checker.check_model(proto, full_check=True)
    return proto
