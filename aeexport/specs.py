"""The settings of one export as small frozen objects (torch-free: the command line builds them).

:class:`ThresholdSpec` says how the bundle's threshold is set, :class:`ExportOptions` how the
export runs; :func:`aeexport.export.export_bundle` and :func:`aeexport.pipeline.run_pipeline`
take both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .calibrate import DEFAULT_PERCENTILE
from .golden import Tolerance

__all__ = ["ExportOptions", "ThresholdSpec", "specs_from_keywords"]


@dataclass(frozen=True)
class ThresholdSpec:
    """How the threshold is set from the exported scorer's scores of the held-out rows.

    Attributes
    ----------
    method : str
        A key of :data:`aeexport.calibrate.CALIBRATORS`: ``"percentile"``, ``"contamination"``,
        ``"target_fpr"`` or ``"f1"`` (needs ``calibration_y``).
    param : float, optional
        The method's parameter (percentile, contamination share, target FPR); None: the
        method's default (percentile 95, 0.05, 0.05).
    value : float, optional
        A fixed threshold instead of the calibrated one (checked against the score's rules).
    score : str
        Score definition, a key of :data:`aeexport.export.SCORE_DEFINITIONS` (``"mse"``, ``"mae"``, ...).
    """

    method: str = "percentile"
    param: float | None = None
    value: float | None = None
    score: str = "mse"

    @classmethod
    def from_keywords(
        cls,
        percentile: float = DEFAULT_PERCENTILE,
        threshold: float | None = None,
        score: str = "mse",
        threshold_method: str = "percentile",
        threshold_param: float | None = None,
    ) -> ThresholdSpec:
        """The spec of the loose keywords ``export_bundle`` took before (``percentile`` is the percentile method's param)."""
        if threshold_param is None and threshold_method == "percentile":
            threshold_param = percentile
        return cls(method=threshold_method, param=threshold_param, value=threshold, score=score)

    def or_percentile(self, percentile: float | None) -> ThresholdSpec:
        """This spec, or the percentile method at ``percentile`` when no threshold option was given.

        A preset's own percentile (the image preset's 96) applies only to a spec left at the
        defaults; ``None`` keeps the calibrator's default (95).
        """
        if self.method == "percentile" and self.param is None and self.value is None and percentile is not None:
            return dataclasses.replace(self, param=percentile)
        return self


@dataclass(frozen=True)
class ExportOptions:
    """How :func:`aeexport.export.export_bundle` runs.

    Attributes
    ----------
    tol : Tolerance, optional
        Parity tolerance (default fp32: atol 1e-5, rtol 1e-4); a violation raises
        :class:`aeexport.parity.ParityError` and writes nothing.
    batches : tuple of int, optional
        Batch sizes parity is measured at; None: :data:`aeexport.parity.PARITY_BATCHES`.
    verbose : bool
        Show the ONNX exporter's own output.
    slim : bool
        Write a runtime-only bundle (no torch weights, no golden vectors; see
        :mod:`aeexport.slim`); parity is still measured on the full export.
    target_onnxruntime : str, optional
        Oldest onnxruntime release the bundle must load in (``"1.16"``): graphs are
        lowered to its opset / IR version (:mod:`aeexport.target`).
    """

    tol: Tolerance | None = None
    batches: tuple[int, ...] | None = None
    verbose: bool = False
    slim: bool = False
    target_onnxruntime: str | None = None


_THRESHOLD_KEYWORDS = frozenset({"percentile", "threshold", "score", "threshold_method", "threshold_param"})
_OPTION_KEYWORDS = frozenset(f.name for f in dataclasses.fields(ExportOptions))


def specs_from_keywords(
    spec: ThresholdSpec | None, options: ExportOptions | None, keywords: dict[str, Any]
) -> tuple[ThresholdSpec, ExportOptions]:
    """Both specs, from the spec objects or from the loose keywords of earlier versions (not both)."""
    unknown = sorted(set(keywords) - _THRESHOLD_KEYWORDS - _OPTION_KEYWORDS)
    if unknown:
        raise TypeError(f"export_bundle() got unexpected keyword argument(s): {', '.join(unknown)}")
    thr = {k: v for k, v in keywords.items() if k in _THRESHOLD_KEYWORDS}
    opts = {k: v for k, v in keywords.items() if k in _OPTION_KEYWORDS}
    if (spec is not None and thr) or (options is not None and opts):
        raise TypeError("pass threshold_spec / options or the loose keywords they replace, not both.")
    spec = spec if spec is not None else ThresholdSpec.from_keywords(**thr)
    return spec, options if options is not None else ExportOptions(**opts)
