"""``aeruntime doctor``: what this machine can really run.

onnxruntime lists the providers it was *built* with
(``get_available_providers``); whether one is *usable* only shows when a
session is created on it and ``session.get_providers()`` is read back. The
report does exactly that with a one-node graph per provider, and probes the
CUDA and cuDNN libraries with ``ctypes``.
"""

from __future__ import annotations

import os
import platform
import warnings
from typing import Any

import numpy as np

from ._ort import ort
from .providers import probe_cuda_libraries

__all__ = ["doctor_report", "format_doctor"]

#: serialized ONNX model (IR 7, opset 13): y = Identity(x), x float[1]; built with onnx.helper
_PROBE_MODEL = (
    b'\x08\x07:;\n\x10\n\x01x\x12\x01y"\x08Identity\x12\x05probeZ\x0f\n\x01x\x12\n\n\x08\x08\x01\x12\x04\n'
    b'\x02\x08\x01b\x0f\n\x01y\x12\n\n\x08\x08\x01\x12\x04\n\x02\x08\x01B\x04\n\x00\x10\r'
)


def _usable(provider: str) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opts = ort.SessionOptions()
            opts.log_severity_level = 4
            sess = ort.InferenceSession(_PROBE_MODEL, opts, providers=[provider])
        ran_on = sess.get_providers()
        out = sess.run(None, {"x": np.ones(1, np.float32)})[0]
        ok = provider in ran_on and out.tolist() == [1.0]
        return {"usable": ok, "session_providers": ran_on,
                "note": None if ok else f"session fell back to {ran_on}"}
    except Exception as exc:  # any failure to create/run means "not usable"
        return {"usable": False, "session_providers": [], "note": str(exc).splitlines()[0][:200]}


def doctor_report() -> dict[str, Any]:
    """Build, providers (available vs usable) and CUDA library status, as a dict."""
    available = list(ort.get_available_providers())
    build = {"onnxruntime": ort.__version__, "device": ort.get_device(), "package": os.path.dirname(ort.__file__)}
    if hasattr(ort, "get_build_info"):
        build["build_info"] = ort.get_build_info()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "build": build,
        "available_providers": available,
        "providers": {p: _usable(p) for p in available},
        "cuda_libraries": probe_cuda_libraries(),
    }


def format_doctor(r: dict[str, Any]) -> str:
    """The report as aligned text lines."""
    lines = [f"python       {r['python']} on {r['platform']}",
             f"onnxruntime  {r['build']['onnxruntime']} ({r['build']['device']} build) at {r['build']['package']}"]
    if "build_info" in r["build"]:
        lines.append(f"build info   {r['build']['build_info']}")
    lines.append("providers    available -> usable (a test session per provider)")
    for name, p in r["providers"].items():
        lines.append(f"  {name:<32} {'usable' if p['usable'] else 'NOT usable'}"
                     + (f"  ({p['note']})" if p["note"] else ""))
    lines.append("CUDA libs    (ctypes)")
    for lib in r["cuda_libraries"]:
        state = f"loads ({lib['path']})" if lib["loaded"] else "not found" if lib["path"] is None else "fails to load"
        lines.append(f"  {lib['name']:<32} {state}")
    cuda = "CUDAExecutionProvider"
    usable = cuda in r["providers"] and r["providers"][cuda]["usable"]
    lines.append(f"verdict      providers='auto' runs on {'CUDA' if usable else 'CPU'}")
    return "\n".join(lines)
