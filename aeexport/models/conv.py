"""Convolutional autoencoder for images of shape (C, H, W).

Encoder: stride-2 3x3 convolutions (each halves H and W, rounding up), then a
linear layer to a flat latent code. Decoder: a linear layer back to the last
feature map, then stride-2 transposed convolutions whose ``output_padding`` is
chosen per layer so the output has exactly (C, H, W) again: 8x8 -> 4x4 -> 2x2
and back, 28x28 -> 14x14 -> 7x7 and back. All reshapes keep the batch
dimension symbolic, so the exported graphs take any batch size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .base import Autoencoder, make_activation

__all__ = ["ConvConfig", "ConvAutoencoder", "conv_config_from_shape"]


@dataclass
class ConvConfig:
    in_channels: int  # C of the (C, H, W) input
    height: int  # H
    width: int  # W
    channels: list[int] = field(default_factory=lambda: [16, 32])  # conv channels per stride-2 layer
    latent_dim: int = 16  # size of the flat code
    activation: str = "relu"  # after every conv / transposed conv but the last
    output_activation: str = "identity"  # identity for standardized data, sigmoid for [0, 1]

    def __post_init__(self) -> None:
        self.channels = [int(c) for c in self.channels]
        if min(self.in_channels, self.height, self.width) < 1:
            raise ValueError(f"image shape must be positive, got {(self.in_channels, self.height, self.width)}")
        if not self.channels or min(self.channels) < 1 or self.latent_dim < 1:
            raise ValueError(
                f"need >= 1 conv layer and positive widths, got channels={self.channels}, latent_dim={self.latent_dim}"
            )


def conv_config_from_shape(shape: tuple[int, ...], overrides: dict[str, Any]) -> ConvConfig:
    """Config for images of ``shape`` (C, H, W); ``hidden`` (the CLI's --hidden) means ``channels``."""
    if len(shape) != 3:
        raise ValueError(f"the conv model expects images of shape (C, H, W), got rows of shape {shape}")
    overrides = dict(overrides)
    if "hidden" in overrides:
        overrides["channels"] = overrides.pop("hidden")
    return ConvConfig(in_channels=int(shape[0]), height=int(shape[1]), width=int(shape[2]), **overrides)


def _down(n: int) -> int:
    """Spatial size after a 3x3, stride-2, padding-1 convolution."""
    return (n - 1) // 2 + 1


class ConvAutoencoder(Autoencoder):
    kind = "conv"

    def __init__(self, config: ConvConfig, input_shape: tuple[int, ...] | None = None) -> None:
        shape = (config.in_channels, config.height, config.width)
        super().__init__(config, input_shape or shape)
        sizes = [(config.height, config.width)]
        for _ in config.channels:
            h, w = sizes[-1]
            sizes.append((_down(h), _down(w)))
        chans = [config.in_channels, *config.channels]

        enc: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            enc += [nn.Conv2d(a, b, 3, stride=2, padding=1), make_activation(config.activation)]
        self.encoder_conv = nn.Sequential(*enc)
        self.feature_shape = (chans[-1], *sizes[-1])  # (C_last, h, w)
        n_flat = chans[-1] * sizes[-1][0] * sizes[-1][1]
        self.encoder_fc = nn.Linear(n_flat, config.latent_dim)  # linear code: no activation
        self.decoder_fc = nn.Linear(config.latent_dim, n_flat)

        dec: list[nn.Module] = [make_activation(config.activation)]
        rev = list(range(len(config.channels), 0, -1))  # layer index i: sizes[i] -> sizes[i-1]
        for j, i in enumerate(rev):
            (h_in, w_in), (h_out, w_out) = sizes[i], sizes[i - 1]
            pad = (h_out - (2 * h_in - 1), w_out - (2 * w_in - 1))  # 0 or 1: exact inverse of _down
            dec.append(nn.ConvTranspose2d(chans[i], chans[i - 1], 3, stride=2, padding=1, output_padding=pad))
            if j < len(rev) - 1:
                dec.append(make_activation(config.activation))
            elif config.output_activation != "identity":
                dec.append(make_activation(config.output_activation))
        self.decoder_conv = nn.Sequential(*dec)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def encode(self, xs: torch.Tensor) -> torch.Tensor:
        return self.encoder_fc(self.encoder_conv(xs).flatten(1))  # (B, C, H, W) -> (B, L)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.decoder_fc(z).unflatten(1, self.feature_shape)  # (B, L) -> (B, C_last, h, w)
        return self.decoder_conv(h)  # -> (B, C, H, W)
