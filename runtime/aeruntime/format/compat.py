"""The oldest onnxruntime release that loads a graph: one table, one rule.

onnxruntime loads a ModelProto when its ``ir_version`` and every ``ai.onnx`` opset
import are at most what the release supports (onnxruntime's published compatibility
table, https://onnxruntime.ai/docs/reference/compatibility.html, verified by
``benchmarks/onnxruntime_versions.py``; results in
``benchmarks/results/onnxruntime_versions.md``). The minimum release of a graph is the
first row of :data:`RELEASES` that supports it; of a bundle, the newest of its graphs'.

Releases after the last one the published table lists are given that one's limits:
they load everything it loads (measured), and claiming more than is known would let a
bundle name a release that refuses it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from ..errors import InvalidInputError, RuntimeTooOldError
from .onnxscan import fields

__all__ = [
    "ORT_FORMAT_MINIMUM",
    "RELEASES",
    "check_installed",
    "Release",
    "graph_requirements",
    "minimum_for_bundle",
    "minimum_for_graphs",
    "minimum_release",
    "newest",
    "parse_release",
    "release_limits",
]


class Release(NamedTuple):
    """One onnxruntime minor release and the newest ONNX it loads."""

    release: str  # "1.17": every 1.17.x
    max_ir: int  # highest ModelProto.ir_version
    max_opset: int  # highest ai.onnx opset import


#: oldest first; only releases pip offers for Python 3.11 (1.15 and later). 1.15 is listed
#: with opset 18, not the published 19: measured, it has no Cast-19 kernel (fp16 graphs fail).
RELEASES: tuple[Release, ...] = (
    Release("1.15", 9, 18),
    Release("1.16", 9, 19),
    Release("1.17", 9, 20),
    Release("1.18", 10, 21),
    Release("1.19", 10, 21),
    Release("1.20", 10, 21),
    Release("1.21", 10, 22),
    Release("1.22", 11, 22),
    Release("1.23", 11, 23),
)
_ONNX_DOMAINS = ("", "ai.onnx")
#: ORT-format files (``aeexport optimize --ort-format``) are ORT format version 6 here,
#: which 1.15 refuses ("The ORT format model version [6] is not supported") and 1.16 loads
#: (measured); the ONNX graph they were made from must also fit the release.
ORT_FORMAT_MINIMUM = "1.16"


def parse_release(text: str) -> tuple[int, int]:
    """``"1.17"`` / ``"1.17.3"`` / ``"1.17.3+cpu"`` -> ``(1, 17)``; :class:`InvalidInputError` otherwise."""
    parts = str(text).split("+")[0].split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        raise InvalidInputError(f"expected an onnxruntime release such as '1.17' or '1.17.3', got {text!r}.") from None
    return major, minor


def release_limits(text: str) -> Release:
    """The limits of release ``text``: its row, or the last row for a newer release.

    Raises :class:`InvalidInputError` for a release older than the table (no onnxruntime
    before 1.15 installs on Python 3.11, so nothing here is measured for it).
    """
    want = parse_release(text)
    known = [r for r in RELEASES if parse_release(r.release) <= want]
    if not known:
        raise InvalidInputError(
            f"onnxruntime {text} is older than the oldest release aeexport knows "
            f"({RELEASES[0].release}, the oldest pip offers for Python 3.11); "
            f"choose one of {', '.join(r.release for r in RELEASES)} or newer."
        )
    return known[-1]


def minimum_release(ir_version: int, opsets: dict[str, int]) -> str:
    """The oldest release loading a graph of ``ir_version`` with ``opsets`` (domain -> version).

    Non-ONNX domains (``com.microsoft``, from quantization) are onnxruntime's own
    and do not move the minimum. A graph newer than the newest row gets the newest
    release of the table followed by ``+`` (e.g. ``"1.23+"``): unknown, not refused.
    """
    opset = max((v for d, v in opsets.items() if d in _ONNX_DOMAINS), default=0)
    for r in RELEASES:
        if ir_version <= r.max_ir and opset <= r.max_opset:
            return r.release
    return RELEASES[-1].release + "+"


def graph_requirements(data: bytes) -> tuple[int, dict[str, int]]:
    """``(ir_version, domain -> opset version)`` of a serialized ModelProto (no ``onnx`` needed)."""
    buf = memoryview(data)
    ir, opsets = 0, {}
    for number, wire, value in fields(buf, 0, len(buf)):
        if number == 1 and wire == 0:
            ir = int(value)
        elif number == 8 and wire == 2:
            domain, version = "", 0
            for n, w, v in fields(buf, *value):
                if n == 1 and w == 2:
                    domain = bytes(buf[v[0] : v[1]]).decode("utf-8", "replace")
                elif n == 2 and w == 0:
                    version = int(v)
            opsets[domain] = max(opsets.get(domain, 0), version)
    return ir, opsets


def newest(releases: list[str]) -> str:
    """The newest of ``releases`` (``"1.23+"`` counts as newer than ``"1.23"``)."""
    return max(releases, key=lambda r: (parse_release(r), r.endswith("+")))


def minimum_for_graphs(graphs: list[bytes], *, ort_format: bool = False) -> str:
    """The minimum release of a bundle: the newest minimum over its ONNX graphs (and
    :data:`ORT_FORMAT_MINIMUM` when they are written in ORT format)."""
    found = [minimum_release(*graph_requirements(g)) for g in graphs]
    return newest(found + [ORT_FORMAT_MINIMUM] if ort_format else found)


def minimum_for_bundle(root: str | os.PathLike[str]) -> str:
    """:func:`minimum_for_graphs` over the ``.onnx`` files of a bundle directory (benchmarks, tools)."""
    return minimum_for_graphs([p.read_bytes() for p in sorted(Path(root).glob("*.onnx"))])


def check_installed(manifest: dict, installed: str) -> None:
    """Raise :class:`RuntimeTooOldError` when onnxruntime ``installed`` is older than the
    bundle's ``min_onnxruntime`` (bundles without the field are not checked)."""
    need = manifest.get("min_onnxruntime")
    if need is None or parse_release(installed) >= parse_release(need.rstrip("+")):
        return
    raise RuntimeTooOldError(
        f"this bundle needs onnxruntime {need} or newer (manifest.json min_onnxruntime), but onnxruntime "
        f"{installed} is installed; upgrade it (pip install 'onnxruntime>={need.rstrip('+')}'), or re-export "
        f"the bundle for this runtime (aeexport export ... --target-onnxruntime {'.'.join(map(str, parse_release(installed)))})."
    )
