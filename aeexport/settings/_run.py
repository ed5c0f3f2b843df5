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

__all__ = ["RunSettings", "TrainSettings"]


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
