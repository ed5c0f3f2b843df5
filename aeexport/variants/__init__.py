"""Variants of a bundle (quantized, optimized, ORT format): the :data:`VARIANTS` table, building and
re-measuring them without torch, and their decision-level report.
"""

from __future__ import annotations

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "_decision": ["DecisionTolerance", "decision_report", "format_decision_table", "recalibrate_threshold"],
        "_kinds": ["CPU", "REQUIRED_OPERATORS", "VARIANTS", "VariantSpec", "required_operators", "to_ort_format"],
        "_variants": ["default_out", "evaluation_rows", "make_variant", "verify_variant"],
    },
)
