"""Reports: evaluation of a bundle on labelled rows, the PCA comparison and the HTML model card
(`aeexport report`).
"""

from __future__ import annotations

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "_card": ["model_section", "parity_section", "threshold_section", "training_section", "variant_section"],
        "_compare": [
            "RowSplit",
            "bundle_split",
            "compare_pca",
            "compare_pca_bundle",
            "fit_pca",
            "format_comparison",
            "reconstruction_metrics",
            "scaler_of",
        ],
        "_context": ["GRID_ROWS", "LATENT_ROWS", "ReportContext", "Section", "TOP_ANOMALIES", "image_shape_of"],
        "_evaluate": [
            "describe_threshold",
            "evaluate_bundle",
            "evaluate_scores",
            "format_report",
            "load_labelled",
            "plot_evaluation",
            "recall_at_fpr",
            "suggest_threshold",
        ],
        "_markup": ["esc", "figure", "fmt", "kv", "para", "pyplot", "table"],
        "_measured": [
            "anomalies_section",
            "detection_section",
            "latent_section",
            "pca_section",
            "reconstruction_section",
        ],
        "_page": ["SECTIONS", "build_report", "write_report"],
        "_series": [
            "SERIES_METRICS",
            "evaluate_series",
            "event_figures",
            "format_series_report",
            "require_tsbad",
            "series_figures",
            "series_test_figures",
            "vus_pr",
        ],
    },
)
