"""Export: torch -> ONNX graphs -> a bundle (:func:`export_bundle`), threshold calibration, golden
vectors and parity, `aeexport verify`, older-runtime targets and slim bundles.
"""

from __future__ import annotations

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "_calibrate": [
            "CALIBRATORS",
            "FPR_INTERVAL_LEVEL",
            "calibrate",
            "calibrate_threshold",
            "fpr_interval",
            "score_stats",
        ],
        "_decision_head": [
            "CALIBRATION",
            "MAX_CALIBRATION",
            "THRESHOLD_INPUT",
            "add_decision_head",
            "calibration_table",
            "decision_golden",
            "decision_parity",
            "decision_reference",
            "decision_section",
            "has_decision_head",
            "read_calibration",
            "score_only",
            "variant_calibration",
        ],
        "_export": ["SCORE_DEFINITIONS", "export_bundle"],
        "_golden": [
            "ParityError",
            "code_tolerance",
            "compare",
            "cpu_session",
            "format_table",
            "golden_report",
            "graph_tolerances",
            "raw_tolerance",
            "synthetic_rows",
            "verdict",
        ],
        "_parity": ["PARITY_BATCHES", "parity_report"],
        "_quiet": ["quiet"],
        "_slim": ["SLIM_OMITS", "slim_bundle"],
        "_target": ["check_target", "lower_graph"],
        "_verify": ["NOTHING_COMPARED", "SLIM_NOTE", "VERDICT_NOTHING", "check_rows", "verify_bundle"],
    },
)
