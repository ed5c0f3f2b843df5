"""What the report sections share: the :class:`ReportContext` they read and fill, and a :class:`Section`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GRID_ROWS", "LATENT_ROWS", "TOP_ANOMALIES", "ReportContext", "Section", "image_shape_of"]

#: rows shown in the image grid, and top anomalies explained
GRID_ROWS = 10
TOP_ANOMALIES = 8
#: rows used for the latent map (a seeded subsample beyond this)
LATENT_ROWS = 5000


@dataclass
class ReportContext:
    bundle: Path  # bundle directory
    model: Any  # aeruntime.Model of the bundle
    manifest: dict[str, Any]  # its manifest
    data: str | None = None  # DATA as given, or None
    X: np.ndarray | None = None  # (n, *input_shape) rows the data sections describe
    y: np.ndarray | None = None  # (n,) 1 = anomaly, 0 = normal; None when unlabelled
    scores: np.ndarray | None = None  # (n,) aeruntime scores of X, higher = more anomalous
    rows_from: str = ""  # one sentence: which rows of DATA X holds
    split: Any = None  # aeexport.report.RowSplit for the PCA comparison, or None
    parent: Path | None = None  # variant: the parent bundle, when found
    image_shape: tuple[int, ...] | None = None  # (C, H, W) when rows are images
    figures: list[str] = field(default_factory=list)  # names of the figures embedded so far
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (section title, why) left out
    headline: dict[str, str] = field(default_factory=dict)  # key figures shown as tiles at the top


@dataclass(frozen=True)
class Section:
    key: str  # HTML id of the section
    title: str  # heading
    build: Callable[[ReportContext], str | None]  # HTML body, or None when it does not apply
    needs: str = ""  # why it may be left out (shown when it is)


def image_shape_of(manifest: dict[str, Any]) -> tuple[int, ...] | None:
    """``(C, H, W)`` when the bundle's rows are images: an input of rank 3, or 64 flat features of digits."""
    shape = tuple(manifest["input"]["shape"])
    if len(shape) == 3:
        return shape
    source = str((manifest.get("dataset") or {}).get("source", ""))
    if shape == (64,) and source == "digits":
        return (1, 8, 8)
    return None
