"""Variants of a bundle (quantized, optimized, ORT format): the :data:`VARIANTS` table, building and
re-measuring them without torch, and their decision-level report.
"""

from __future__ import annotations

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, ["_decision", "_kinds", "_variants"])
