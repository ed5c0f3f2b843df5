"""Import onnxruntime once, with an error that says how to install it."""

from __future__ import annotations

try:
    import onnxruntime as ort
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "aeruntime needs onnxruntime, which is not installed. Install exactly one of: "
        "pip install 'aeruntime[cpu]'  (onnxruntime, CPU)  or  "
        "pip install 'aeruntime[gpu]'  (onnxruntime-gpu, CUDA). "
        "The two packages overwrite each other, so never install both."
    ) from exc

__all__ = ["ort"]
