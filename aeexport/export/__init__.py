"""Export: torch -> ONNX graphs -> a bundle (:func:`export_bundle`), threshold calibration, golden
vectors and parity, `aeexport verify`, older-runtime targets and slim bundles.
"""

from __future__ import annotations

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__, ["_calibrate", "_decision_head", "_export", "_golden", "_parity", "_quiet", "_slim", "_target", "_verify"]
)
