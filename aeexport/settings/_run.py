"""The one object that carries a run: what ``aeexport train|run`` (or a caller of
:func:`aeexport.pipeline.run_pipeline`) says, built once and passed through untouched.

Torch-free: the command line builds it from its options (:func:`aeexport.commands` ``train_options``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._config import TrainConfig
from ._specs import ExportOptions, ThresholdSpec

__all__ = ["RunSettings", "SeriesSettings", "TrainSettings"]

#: training settings a series run takes unless given explicitly (benchmarks/results/series.md)
SERIES_DEFAULTS: dict[str, Any] = {"batch_size": 128, "scaler": "standard"}


@dataclass(frozen=True)
class SeriesSettings:
    """``--window W|auto``: DATA's rows are time steps in file order, scored by windows of W steps.

    ``stride``: of the training windows; ``time_column``: strictly increasing time stamps, kept out of
    the features; ``alarm`` (k, n) and ``hold_off``: the manifest's persistence rule (k of the last n
    steps above the threshold; no new alarm for ``hold_off`` steps after one).
    """

    window: int | str = "auto"
    stride: int = 1
    time_column: str | None = None
    alarm: tuple[int, int] = (1, 1)
    hold_off: int = 0

    def model_options(self) -> dict[str, Any]:
        """What the series model's config records (the manifest's ``series`` section comes from it)."""
        k, n = self.alarm
        return {
            "stride": self.stride,
            "time_column": self.time_column,
            "alarm_k": k,
            "alarm_n": n,
            "hold_off": self.hold_off,
        }


@dataclass(frozen=True)
class TrainSettings:
    """How to train: the model kind, the :class:`TrainConfig`, the model's options, the preset and the labels.

    ``explicit``: the settings named on the command line (they win over the preset); ``header``: a
    CSV's first line is a header (True), data (False) or decided by the runtime's rule (None).
    """

    kind: str = "dense"
    config: TrainConfig = field(default_factory=TrainConfig)
    model_options: Mapping[str, Any] = field(default_factory=dict)
    preset: str = "default"
    explicit: frozenset[str] = frozenset()
    label_column: str | None = None
    anomaly_class: int | None = None
    header: bool | None = None
    series: SeriesSettings | None = None  # --window: a series run


@dataclass(frozen=True)
class RunSettings:
    """Everything a run is told: training, threshold, export options and where its extra outputs go.

    ``bundle``: the bundle's folder (None: ``OUT/bundle``); ``plot``: a PNG of the test split;
    ``test_fraction``: the share of normal rows held out as the test split (the anomalies go there too).
    """

    training: TrainSettings = field(default_factory=TrainSettings)
    threshold: ThresholdSpec = field(default_factory=ThresholdSpec)
    export: ExportOptions = field(default_factory=ExportOptions)
    bundle: str | Path | None = None
    plot: str | Path | None = None
    test_fraction: float = 0.2
