"""Denoising autoencoder: the dense MLP trained to undo input corruption.

At training time only, :meth:`DenoisingAutoencoder.corrupt` damages each
mini-batch and the loss compares the reconstruction of the damaged rows with
the *clean* rows. The exported graphs are the plain encoder and decoder, so at
inference ``reconstruct(x)`` (``aeruntime``'s ``denoise(x)``) maps a noisy row
to a clean estimate.

Corruptions (``noise``), all in the scaled space the model trains in:

- ``"gaussian"``: add ``noise_level * N(0, 1)`` (``noise_level`` = sigma in units
  of each feature's training standard deviation with the standard scaler);
- ``"masking"``: each element is switched off with probability ``noise_level``,
  i.e. set to its training minimum (0 for pixel data);
- ``"salt_pepper"``: each element is hit with probability ``noise_level`` and set to
  its training minimum or maximum with equal odds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from aeruntime.errors import check_choice

from .dense import DenseAutoencoder, DenseConfig

__all__ = ["DenoisingConfig", "DenoisingAutoencoder", "NOISES"]


def _gaussian(m: DenoisingAutoencoder, xs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    noise = torch.randn(xs.shape, generator=gen).to(xs.device)
    return xs + m.config.noise_level * noise


def _masking(m: DenoisingAutoencoder, xs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    hit = (torch.rand(xs.shape, generator=gen) < m.config.noise_level).to(xs.device)
    return torch.where(hit, m.data_min.expand_as(xs), xs)


def _salt_pepper(m: DenoisingAutoencoder, xs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    u = torch.rand(xs.shape, generator=gen).to(xs.device)
    p = m.config.noise_level
    out = torch.where(u < p / 2, m.data_min.expand_as(xs), xs)
    return torch.where((u >= p / 2) & (u < p), m.data_max.expand_as(xs), out)


#: noise name -> corruption of a scaled batch (model, xs, generator) -> corrupted xs
NOISES: dict[str, Callable[[DenoisingAutoencoder, torch.Tensor, torch.Generator], torch.Tensor]] = {
    "gaussian": _gaussian,
    "masking": _masking,
    "salt_pepper": _salt_pepper,
}


@dataclass
class DenoisingConfig(DenseConfig):
    noise: str = "gaussian"  # "gaussian", "masking" or "salt_pepper" (training time only)
    noise_level: float = 0.5  # gaussian: sigma in scaled units; masking / salt_pepper: probability per element

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("noise", self.noise, sorted(NOISES))
        self.noise_level = float(self.noise_level)
        if self.noise_level < 0 or (self.noise != "gaussian" and self.noise_level > 1):
            raise ValueError(f"noise_level must be >= 0 (and <= 1 for {self.noise}), got {self.noise_level}")


class DenoisingAutoencoder(DenseAutoencoder):
    kind = "denoising"

    def __init__(self, config: DenoisingConfig, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__(config, input_shape)
        # Per-feature range of the scaled training rows: the values masking and
        # salt-and-pepper write. Buffers, so they travel with the weights.
        self.register_buffer("data_min", torch.zeros(self.input_shape))
        self.register_buffer("data_max", torch.zeros(self.input_shape))

    def fit_data(self, xs_train: torch.Tensor) -> None:
        self.data_min.copy_(xs_train.amin(dim=0))
        self.data_max.copy_(xs_train.amax(dim=0))

    def corrupt(self, xs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Corrupted copy of a scaled batch (B, F); the loss still targets the clean ``xs``."""
        if self.config.noise_level == 0:
            return xs
        return NOISES[self.config.noise](self, xs, generator)

    def is_regularized(self) -> bool:
        return self.config.noise_level > 0 or super().is_regularized()
