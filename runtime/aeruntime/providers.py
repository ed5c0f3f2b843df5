"""Execution-provider choice, in one place (sessions are created in :mod:`aeruntime.sessions`).

``providers`` accepted everywhere in aeruntime:

- ``"auto"``: CUDA when a session really runs on it, else CPU. The fallback is
  reported once per process through a :class:`RuntimeWarning` when CUDA was
  listed but could not be used (onnxruntime-gpu without a working CUDA).
- ``"cpu"``: CPU only.
- ``"cuda"``: CUDA, or :class:`~aeruntime.errors.ProviderError` if the session
  cannot run on it. onnxruntime-gpu lists CUDA as available even where it cannot
  load CUDA and silently runs on CPU; only ``session.get_providers()`` tells the
  truth, so that is what we check.
- a list of onnxruntime provider names or ``(name, options)`` pairs, passed
  through unchanged.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import warnings
from collections.abc import Sequence
from typing import Any

from ._ort import ort
from .errors import ProviderError

__all__ = [
    "CUDA_LIBRARIES",
    "PROVIDER_CHOICES",
    "ProviderSpec",
    "check_providers",
    "missing_cuda_library",
    "missing_cuda_text",
    "probe_cuda_libraries",
    "resolve_providers",
]

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"

ProviderSpec = str | Sequence[str | tuple[str, dict[str, Any]]]

#: named choices, read by the command line's ``click.Choice``
PROVIDER_CHOICES: dict[str, list[str]] = {
    "auto": [CUDA, CPU],
    "cpu": [CPU],
    "cuda": [CUDA, CPU],
}

_warned_fallback = False

#: short name -> ctypes.util.find_library name, in the order onnxruntime-gpu needs them
CUDA_LIBRARIES: dict[str, str] = {
    "libcudart": "cudart",
    "libcublas": "cublas",
    "libcublasLt": "cublasLt",
    "libcufft": "cufft",
    "libcudnn": "cudnn",
}


def _find_library(name: str) -> str | None:
    return ctypes.util.find_library(name)


def probe_cuda_libraries() -> list[dict[str, Any]]:
    """Try to load each CUDA library onnxruntime-gpu needs.

    Returns
    -------
    list of dict
        One per library: ``name``, ``path`` (what the loader found, or None),
        ``loaded`` (bool) and ``error`` (the loader's message, or None).
    """
    out = []
    for short, name in CUDA_LIBRARIES.items():
        path = _find_library(name)
        loaded, error = False, None
        for candidate in ([path] if path else []) + [f"{short}.so"]:
            try:
                ctypes.CDLL(candidate)
                loaded, path = True, candidate
                break
            except OSError as exc:
                error = str(exc)
        out.append({"name": short, "path": path, "loaded": loaded, "error": None if loaded else error})
    return out


def missing_cuda_library() -> str | None:
    """Name of the first CUDA library that cannot be loaded (e.g. ``"libcudnn"``), or None."""
    for lib in probe_cuda_libraries():
        if not lib["loaded"]:
            return lib["name"]
    return None


def missing_cuda_text() -> str:
    """One phrase on which CUDA library failed to load, for error messages."""
    missing = [lib["name"] for lib in probe_cuda_libraries() if not lib["loaded"]]
    if not missing:
        return "all of " + ", ".join(CUDA_LIBRARIES) + " load, so the CUDA driver or GPU is the likely cause"
    return f"{missing[0]} could not be loaded (missing: {', '.join(missing)})"


def resolve_providers(spec: ProviderSpec) -> tuple[str, list[Any]]:
    """Turn a providers argument into ``(mode, onnxruntime providers list)``.

    ``mode`` is ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"list"``.
    """
    available = ort.get_available_providers()
    if isinstance(spec, str):
        key = spec.lower()
        if key not in PROVIDER_CHOICES:
            raise ProviderError(
                f"providers={spec!r} is not known; expected one of "
                f"{sorted(PROVIDER_CHOICES)} or a list of onnxruntime provider names."
            )
        if key == "cuda" and CUDA not in available:
            raise ProviderError(
                "providers='cuda' was requested, but this onnxruntime build "
                f"({ort.__version__}, providers {available}) has no CUDAExecutionProvider "
                f"({missing_cuda_text()}). Install onnxruntime-gpu instead of onnxruntime "
                "(pip uninstall onnxruntime && pip install 'aeruntime[gpu]'), or use providers='auto'."
            )
        return key, [p for p in PROVIDER_CHOICES[key] if p in available] or [CPU]
    providers = list(spec)
    if not providers:
        raise ProviderError("providers is an empty list; expected at least one provider name.")
    names = [p[0] if isinstance(p, tuple) else p for p in providers]
    missing = [n for n in names if n not in available]
    if missing:
        raise ProviderError(f"providers {missing} are not available in this onnxruntime build; available: {available}.")
    return "list", providers


def check_providers(session: Any, mode: str) -> list[str]:
    """Return the providers ``session`` really runs on; enforce ``"cuda"``."""
    global _warned_fallback
    actual = list(session.get_providers())
    if mode == "cuda" and CUDA not in actual:
        raise ProviderError(
            "providers='cuda' was requested and onnxruntime lists CUDAExecutionProvider, "
            f"but the session runs on {actual}: {missing_cuda_text()}. "
            "Check `aeruntime doctor` / nvidia-smi and the CUDA version onnxruntime-gpu was built for, "
            "or use providers='auto' to fall back to CPU."
        )
    if mode == "auto" and CUDA in ort.get_available_providers() and CUDA not in actual:
        if not _warned_fallback:
            _warned_fallback = True
            warnings.warn(
                "aeruntime: CUDAExecutionProvider is listed but could not be used "
                f"({missing_cuda_text()}); running on CPU.",
                RuntimeWarning,
                stacklevel=3,
            )
    return actual
