"""Training settings and choice lists, importable without torch: the CLI reads its choices and defaults here.

:class:`TrainConfig` is the one place a training default is written down;
``aeexport train|run`` options show the dataclass defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from aeruntime.errors import InvalidInputError

from .kinds import MODEL_KINDS
from .presets import PRESETS
from .scalers import SCALERS

__all__ = ["DEVICES", "MODEL_KINDS", "PRESETS", "SCALERS", "TrainConfig", "default"]

#: ``--device`` choices: "auto" takes CUDA when torch sees it
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    epochs: int = 300  # upper bound; early stopping usually ends well before
    batch_size: int = 64  # rows per Adam step
    lr: float = 1e-3  # Adam learning rate
    weight_decay: float = 0.0  # Adam's L2 penalty on the weights
    patience: int = 20  # epochs without validation improvement before stopping
    min_delta: float = 1e-4  # relative improvement of the validation loss that counts as better
    val_fraction: float = 0.15  # share of (normal) rows held out for early stopping and the threshold
    seed: int = 0  # seeds the split, the init and the shuffling
    device: str = "auto"  # "auto" (cuda if available), "cpu" or "cuda"
    scaler: str = "standard"  # "standard" (z-score), "minmax" ([0, 1]; sigmoid output), "robust"
    # (median / IQR, std on dispersed features: the tabular default;
    # aeexport.scalers.robust_scaler), "robust-iqr" (median / IQR only) or "none"
    progress: bool = True  # tqdm progress bar on stderr
    threads: int = 1  # torch intra-op threads while training; 1 is fastest for small
    # models (per-step overhead dominates) and immune to oversubscription;
    # 0 = torch's default
    trim_fraction: float = 0.0  # robust training: share of the highest-loss rows of each batch left out of the step
    # (plain reconstruction loss only; kinds with their own loss refuse it)
    members: int = 1  # dense models trained one after another (seeds seed, seed + 1, ...) on the same rows
    # and combined into one ensemble graph scored by the mean of their scores (variance of the init averaged out)

    def __post_init__(self) -> None:
        if self.scaler not in SCALERS:
            raise InvalidInputError(f"scaler must be one of {sorted(SCALERS)}, got {self.scaler!r}.")
        if self.device not in DEVICES:
            raise InvalidInputError(f"device must be one of {list(DEVICES)}, got {self.device!r}.")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1 or self.members < 1:
            raise InvalidInputError("epochs, batch_size, patience and members must be >= 1.")
        if not 0.0 <= self.trim_fraction < 0.5:
            raise InvalidInputError(f"trim_fraction must be in [0, 0.5), got {self.trim_fraction}.")
        if not 0.0 < self.val_fraction < 1.0:
            raise InvalidInputError(f"val_fraction must be in (0, 1), got {self.val_fraction}.")


def default(name: str) -> Any:
    """The :class:`TrainConfig` default of field ``name`` (for click option defaults)."""
    return {f.name: f.default for f in dataclasses.fields(TrainConfig)}[name]
