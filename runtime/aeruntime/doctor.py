"""``aeruntime doctor``: what this machine can really run.

onnxruntime lists the providers it was *built* with
(``get_available_providers``); whether one is *usable* only shows when a
session is created on it and ``session.get_providers()`` is read back. The
report does exactly that with a one-node graph per provider, and probes the
CUDA and cuDNN libraries with ``ctypes``. For ``aeruntime.spark`` it says
whether PySpark and pyarrow are installed (without importing PySpark) and
whether a Java runtime of the version that PySpark needs runs (``java -version``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import warnings
from typing import Any

import numpy as np

from ._ort import ort
from .providers import probe_cuda_libraries

__all__ = ["doctor_report", "format_doctor", "spark_report"]

#: serialized ONNX model (IR 7, opset 13): y = Identity(x), x float[1]; built with onnx.helper
_PROBE_MODEL = (
    b'\x08\x07:;\n\x10\n\x01x\x12\x01y"\x08Identity\x12\x05probeZ\x0f\n\x01x\x12\n\n\x08\x08\x01\x12\x04\n'
    b"\x02\x08\x01b\x0f\n\x01y\x12\n\n\x08\x08\x01\x12\x04\n\x02\x08\x01B\x04\n\x00\x10\r"
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
        return {"usable": ok, "session_providers": ran_on, "note": None if ok else f"session fell back to {ran_on}"}
    except Exception as exc:  # noqa: BLE001  (any failure to create/run means "not usable")
        return {"usable": False, "session_providers": [], "note": str(exc).splitlines()[0][:200]}


#: oldest Java each PySpark major version runs on (Spark 4 dropped Java 8 and 11)
_JAVA_FOR_SPARK = {3: 8, 4: 17}


def _version(dist: str) -> str | None:
    if importlib.util.find_spec(dist) is None:
        return None
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:  # importable but not installed as a distribution
        return "unknown"


def _java() -> dict[str, Any]:
    """The Java runtime PySpark would start: $JAVA_HOME/bin/java, else java on PATH."""
    home = os.environ.get("JAVA_HOME")
    path = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not path or not os.path.exists(path):
        return {"path": None, "version": None, "major": None, "note": "no java on PATH or in JAVA_HOME"}
    try:
        res = subprocess.run([path, "-version"], check=False, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return {"path": path, "version": None, "major": None, "note": f"`java -version` failed: {exc}"}
    m = re.search(r'version "([^"]+)"', res.stderr + res.stdout)
    if res.returncode != 0 or m is None:
        return {"path": path, "version": None, "major": None, "note": "`java -version` printed no version"}
    version = m.group(1)
    parts = version.split(".")
    major = int(parts[1] if parts[0] == "1" and len(parts) > 1 else re.match(r"\d+", parts[0]).group())  # type: ignore[union-attr]
    return {"path": path, "version": version, "major": major, "note": None}


def spark_report() -> dict[str, Any]:
    """Whether ``aeruntime.spark`` can run here: pyspark and pyarrow versions, the Java runtime, a verdict."""
    pyspark, pyarrow = _version("pyspark"), _version("pyarrow")
    java = _java()
    problems = []
    if pyspark is None:
        problems.append("pyspark is not installed (pip install 'aeruntime[spark]')")
    if pyarrow is None:
        problems.append("pyarrow is not installed (pip install 'aeruntime[spark]')")
    need = None
    if pyspark not in (None, "unknown"):
        need = _JAVA_FOR_SPARK.get(int(pyspark.split(".")[0]), 17)
    if java["major"] is None:
        problems.append(f"no usable Java runtime ({java['note']}); install Java {need or 17} or set JAVA_HOME")
    elif need is not None and java["major"] < need:
        problems.append(f"Java {java['major']} is too old for PySpark {pyspark} (needs {need}+)")
    return {
        "pyspark": pyspark,
        "pyarrow": pyarrow,
        "java": java,
        "java_needed": need,
        "usable": not problems,
        "problems": problems,
    }


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
        "spark": spark_report(),
    }


def _provider_lines(r: dict[str, Any]) -> list[str]:
    lines = ["providers    available -> usable (a test session per provider)"]
    for name, p in r["providers"].items():
        lines.append(
            f"  {name:<32} {'usable' if p['usable'] else 'NOT usable'}" + (f"  ({p['note']})" if p["note"] else "")
        )
    lines.append("CUDA libs    (ctypes)")
    for lib in r["cuda_libraries"]:
        state = f"loads ({lib['path']})" if lib["loaded"] else "not found" if lib["path"] is None else "fails to load"
        lines.append(f"  {lib['name']:<32} {state}")
    cuda = "CUDAExecutionProvider"
    usable = cuda in r["providers"] and r["providers"][cuda]["usable"]
    lines.append(f"verdict      providers='auto' runs on {'CUDA' if usable else 'CPU'}")
    return lines


def _spark_lines(sp: dict[str, Any]) -> list[str]:
    java = sp["java"]
    where = f"{java['version']} at {java['path']}" if java["version"] else java["note"]
    return [
        "spark        aeruntime.spark (pyspark + pyarrow + Java)",
        f"  {'pyspark':<32} {sp['pyspark'] or 'not installed'}",
        f"  {'pyarrow':<32} {sp['pyarrow'] or 'not installed'}",
        f"  {'java':<32} {where}" + (f" (needs {sp['java_needed']}+)" if sp["java_needed"] else ""),
        "  verdict                          "
        + ("usable" if sp["usable"] else "NOT usable: " + "; ".join(sp["problems"])),
    ]


def format_doctor(r: dict[str, Any]) -> str:
    """The report as aligned text lines."""
    lines = [
        f"python       {r['python']} on {r['platform']}",
        f"onnxruntime  {r['build']['onnxruntime']} ({r['build']['device']} build) at {r['build']['package']}",
    ]
    if "build_info" in r["build"]:
        lines.append(f"build info   {r['build']['build_info']}")
    lines += _provider_lines(r)
    if r.get("spark") is not None:
        lines += _spark_lines(r["spark"])
    return "\n".join(lines)
