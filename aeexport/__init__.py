"""aeexport: train autoencoders in PyTorch and export them as ONNX bundles.

Bundles run anywhere with :mod:`aeruntime` (numpy + onnxruntime) or any ONNX
runtime; see ``docs/bundle-format.md``. Names are imported lazily so that the
command line starts without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "REGISTRY": "models",
    "build_model": "models",
    "TrainConfig": "settings",
    "TrainSettings": "settings",
    "RunSettings": "settings",
    "ExportOptions": "settings",
    "ThresholdSpec": "settings",
    "Tolerance": "settings",
    "Dataset": "data",
    "load_dataset": "data",
    "make_split": "data",
    "train_model": "train",
    "save_checkpoint": "train",
    "load_checkpoint": "train",
    "export_bundle": "export",
    "verify_bundle": "export",
    "calibrate_threshold": "export",
    "ParityError": "export",
    "run_pipeline": "pipeline",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'aeexport' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
