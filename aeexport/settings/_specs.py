"""The settings of one export as small frozen objects (torch-free: the command line builds them).

:class:`ThresholdSpec` says how the bundle's threshold is set, :class:`ExportOptions` how the
export runs; :func:`aeexport.export.export_bundle` and :func:`aeexport.pipeline.run_pipeline`
take both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["DEFAULT_PERCENTILE", "ExportOptions", "ThresholdSpec", "Tolerance"]

#: default percentile of held-out normal scores used as the threshold
DEFAULT_PERCENTILE = 95.0


@dataclass(frozen=True)
class Tolerance:
    atol: float = 1e-5  # absolute tolerance (fp32 default)
    rtol: float = 1e-4  # relative tolerance (fp32 default)


@dataclass(frozen=True)
class ThresholdSpec:
    """How the threshold is set from the exported scorer's scores of the held-out rows.

    Attributes
    ----------
    method : str
        A key of :data:`aeexport.export.CALIBRATORS`: ``"percentile"``, ``"contamination"``,
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
        :class:`aeexport.export.ParityError` and writes nothing.
    batches : tuple of int, optional
        Batch sizes parity is measured at; None: :data:`aeexport.export.PARITY_BATCHES`.
    verbose : bool
        Show the ONNX exporter's own output.
    slim : bool
        Write a runtime-only bundle (no torch weights, no golden vectors; see
        :mod:`aeexport.export`); parity is still measured on the full export.
    target_onnxruntime : str, optional
        Oldest onnxruntime release the bundle must load in (``"1.16"``): graphs are
        lowered to its opset / IR version (:mod:`aeexport.export`).
    """

    tol: Tolerance | None = None
    batches: tuple[int, ...] | None = None
    verbose: bool = False
    slim: bool = False
    target_onnxruntime: str | None = None
