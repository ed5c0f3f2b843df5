"""Autoencoders over windows of a time series, ``(B, W, C)``: W consecutive steps of C columns.

Two kinds (benchmarks/results/series.md measured both): ``series-dense``, a dense AE
over the flattened window D = W*C: D -> min(128, D) -> min(32, D/2) -> min(128, D) -> D (ReLU); and
``series-tcn``, the default (it won the cross-check), a small temporal convolution: Conv1d(C, 32, 5, stride 2) -> Conv1d(32, 8, 5,
stride 2) and two ConvTranspose1d back, cropped to W. The score is the mean squared error over the
window (standardised units). The scaler is fitted **per column** on the training steps (not per
window position) and broadcast over the window, inside the graphs as for rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import Autoencoder, make_activation

__all__ = [
    "SeriesAutoencoder",
    "SeriesConfig",
    "SeriesDenseAutoencoder",
    "SeriesTCNAutoencoder",
    "SeriesTCNConfig",
    "series_config_from_shape",
    "tcn_config_from_shape",
    "training_steps",
]


@dataclass
class SeriesConfig:
    window: int  # W: steps per window
    n_columns: int  # C: columns per step
    stride: int = 1  # the stride of the training windows
    time_column: str | None = None  # the column that held the time stamps (never a feature)
    window_rule: str = "fixed"  # "fixed" (--window W), "period" or "fallback" (--window auto)
    window_period: int | None = None  # the autocorrelation period found by --window auto
    alarm_k: int = 1  # alarm: at least k of the last n labels
    alarm_n: int = 1
    hold_off: int = 0  # steps without a new alarm after one
    activation: str = "relu"

    def __post_init__(self) -> None:
        if min(self.window, self.n_columns, self.stride) < 1:
            raise ValueError(
                f"window, columns and stride must be >= 1, got {self.window}, {self.n_columns}, {self.stride}"
            )
        if not 1 <= self.alarm_k <= self.alarm_n or self.hold_off < 0:
            raise ValueError(
                f"alarm needs 1 <= k <= n and hold_off >= 0, got {self.alarm_k}/{self.alarm_n}, {self.hold_off}"
            )


@dataclass
class SeriesTCNConfig(SeriesConfig):
    channels: int = 32  # channels of the first convolution
    code_channels: int = 8  # channels of the code (W/4 steps)


def series_config_from_shape(shape: tuple[int, ...], overrides: dict[str, Any]) -> SeriesConfig:
    if len(shape) != 2:
        raise ValueError(f"a series kind expects windows of shape (W, C), got rows of shape {shape}")
    return SeriesConfig(window=int(shape[0]), n_columns=int(shape[1]), **overrides)


def tcn_config_from_shape(shape: tuple[int, ...], overrides: dict[str, Any]) -> SeriesTCNConfig:
    if len(shape) != 2:
        raise ValueError(f"a series kind expects windows of shape (W, C), got rows of shape {shape}")
    return SeriesTCNConfig(window=int(shape[0]), n_columns=int(shape[1]), **overrides)


def training_steps(X: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """The distinct time steps (k, C) covered by the windows ``X[rows]`` of the windows view ``X``
    (n_w, W, C): what the per-column scaler is fitted on (each step once, however many windows hold it)."""
    n_w, w = X.shape[:2]
    starts = np.arange(n_w) if rows is None else np.asarray(rows)
    covered = np.zeros(n_w + w - 1, dtype=bool)
    for k in range(w):
        covered[starts + k] = True
    t = np.flatnonzero(covered)
    first = np.minimum(t, n_w - 1)  # the window that holds step t, and t's position in it
    return np.asarray(X[first, t - first])


class SeriesAutoencoder(Autoencoder):
    """Windows (B, W, C); the scaler per column, broadcast over the W steps; the manifest's ``series``."""

    def set_scaler(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        shape = self.input_shape
        self.scaler_mean.copy_(torch.broadcast_to(mean.reshape(-1, shape[-1])[-1], shape))
        self.scaler_scale.copy_(torch.broadcast_to(scale.reshape(-1, shape[-1])[-1], shape))

    @staticmethod
    def scaler_rows(X: np.ndarray, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        return training_steps(X, rows), None

    @property
    def named_shape(self) -> tuple[int, ...]:
        return (self.input_shape[-1],)

    def manifest_sections(self) -> dict[str, Any]:
        c = self.config
        return {
            "series": {
                "window": int(c.window),
                "stride": int(c.stride),
                "time_column": c.time_column,
                "step_score": "window_end",
                "warmup": {"score": None, "label": 0},
                "alarm": {"k": int(c.alarm_k), "n": int(c.alarm_n), "hold_off": int(c.hold_off)},
            }
        }


class SeriesDenseAutoencoder(SeriesAutoencoder):
    kind = "series-dense"

    def __init__(self, config: SeriesConfig, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__(config, input_shape or (config.window, config.n_columns))
        d = config.window * config.n_columns
        h, k = min(128, max(d, 2)), min(32, max(d // 2, 1))
        self.code_size = k
        act = config.activation
        self.encoder = nn.Sequential(nn.Linear(d, h), make_activation(act), nn.Linear(h, k))
        self.decoder = nn.Sequential(make_activation(act), nn.Linear(k, h), make_activation(act), nn.Linear(h, d))

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.code_size,)

    def encode(self, xs: torch.Tensor) -> torch.Tensor:
        return self.encoder(xs.flatten(1))  # (B, W, C) -> (B, k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).unflatten(1, self.input_shape)  # (B, k) -> (B, W, C)


class SeriesTCNAutoencoder(SeriesAutoencoder):
    kind = "series-tcn"

    def __init__(self, config: SeriesTCNConfig, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__(config, input_shape or (config.window, config.n_columns))
        c, h, k, act = config.n_columns, config.channels, config.code_channels, config.activation
        self.encoder = nn.Sequential(
            nn.Conv1d(c, h, 5, stride=2, padding=2), make_activation(act), nn.Conv1d(h, k, 5, stride=2, padding=2)
        )
        self.decoder = nn.Sequential(
            make_activation(act),
            nn.ConvTranspose1d(k, h, 4, stride=2, padding=1),
            make_activation(act),
            nn.ConvTranspose1d(h, c, 4, stride=2, padding=1),
        )
        self.code_steps = (((config.window - 1) // 2) // 2) + 1  # W after two stride-2, padding-2, kernel-5 convs

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.code_channels, self.code_steps)

    def encode(self, xs: torch.Tensor) -> torch.Tensor:
        return self.encoder(xs.transpose(1, 2))  # (B, W, C) -> (B, k, W/4)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        y = self.decoder(z)  # (B, C, 4 * W/4 >= W)
        return y[:, :, : self.config.window].transpose(1, 2)  # -> (B, W, C)
