"""Sparse autoencoder: an MLP whose code is pushed towards few active units.

Two penalties (``penalty``):

- ``"l1"``: ``weight * mean_batch(sum_j |z_j|)`` on a ReLU code, which drives
  units to exactly zero;
- ``"kl"``: ``weight * sum_j KL(rho || rho_hat_j)`` on a sigmoid code, where
  ``rho_hat_j`` is unit j's mean activation over the batch and ``rho`` the target
  activation (Ng's sparse autoencoder notes).

The penalty acts at training time only; the exported graphs are a plain encoder
(ending in the code activation) and decoder. After training, the summary
reports the mean code activation (``model_report``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from aeruntime.errors import check_choice

from .base import Autoencoder
from .dense import mlp, resolve_widths

__all__ = ["SparseConfig", "SparseAutoencoder", "PENALTIES"]

#: penalty -> (code activation, default weight)
PENALTIES: dict[str, tuple[str, float]] = {"l1": ("relu", 1e-3), "kl": ("sigmoid", 0.1)}


@dataclass
class SparseConfig:
    n_features: int  # input width
    hidden: list[int] = field(default_factory=list)  # encoder hidden widths; [] with latent_dim 0 = default_widths
    latent_dim: int = 0  # code size; may exceed n_features (overcomplete)
    activation: str = "relu"  # hidden-layer activation
    output_activation: str = "identity"  # identity for standardized data, sigmoid for [0, 1]
    penalty: str = "l1"  # "l1" (ReLU code) or "kl" (sigmoid code, target rho)
    weight: float | None = None  # penalty weight; None = 1e-3 (l1) or 0.1 (kl)
    rho: float = 0.05  # target mean activation of the "kl" penalty

    def __post_init__(self) -> None:
        check_choice("penalty", self.penalty, sorted(PENALTIES))
        if self.weight is None:
            self.weight = PENALTIES[self.penalty][1]
        self.weight = float(self.weight)
        if self.weight < 0 or not 0.0 < self.rho < 1.0:
            raise ValueError(f"need weight >= 0 and 0 < rho < 1, got weight={self.weight}, rho={self.rho}")
        self.hidden, self.latent_dim = resolve_widths(self.n_features, self.hidden, self.latent_dim)


def _kl_bernoulli(rho: float, rho_hat: torch.Tensor) -> torch.Tensor:
    rho_hat = rho_hat.clamp(1e-6, 1 - 1e-6)
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


class SparseAutoencoder(Autoencoder):
    kind = "sparse"

    def __init__(self, config: SparseConfig, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__(config, input_shape or (config.n_features,))
        widths = [config.n_features, *config.hidden, config.latent_dim]
        code_act = PENALTIES[config.penalty][0]
        self.encoder = mlp(widths, config.activation, 0.0, code_act)
        out_act = None if config.output_activation == "identity" else config.output_activation
        self.decoder = mlp(widths[::-1], config.activation, 0.0, out_act)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def encode(self, xs: torch.Tensor) -> torch.Tensor:
        return self.encoder(xs)  # (B, F) -> (B, L), non-negative

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (B, L) -> (B, F)

    def penalty(self, z: torch.Tensor) -> torch.Tensor:
        """Sparsity penalty of a batch of codes (B, L), weight included."""
        c = self.config
        if c.penalty == "l1":
            return c.weight * z.abs().sum(dim=1).mean()
        return c.weight * _kl_bernoulli(c.rho, z.mean(dim=0)).sum()

    def loss(self, xs_in: torch.Tensor, xs_target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        z = self.encode(xs_in)
        mse = torch.mean((self.decode(z) - xs_target) ** 2)
        pen = self.penalty(z)
        return mse + pen, {"mse": float(mse.detach()), "sparsity_penalty": float(pen.detach())}

    def is_regularized(self) -> bool:
        return self.config.weight > 0

    @torch.no_grad()
    def training_report(self, xs_train: torch.Tensor) -> dict[str, Any]:
        z = self.encode(xs_train)
        unit_mean = z.mean(dim=0)
        return {
            "penalty": self.config.penalty,
            "mean_code_activation": float(z.mean()),
            "target_activation": self.config.rho if self.config.penalty == "kl" else None,
            "fraction_zero": float((z <= 1e-6).float().mean()),
            "unit_mean_activation_min": float(unit_mean.min()),
            "unit_mean_activation_max": float(unit_mean.max()),
        }
