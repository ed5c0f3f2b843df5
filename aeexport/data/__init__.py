"""Rows in: datasets and splits, the labels rule, the seeded reservoir sample, the Spark sample,
the scalers and the memory handed back once rows are scaled. Torch-free.
"""

from __future__ import annotations

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__, ["_data", "_labels", "_memory", "_reservoir", "_scalers", "_series", "_spark"]
)
