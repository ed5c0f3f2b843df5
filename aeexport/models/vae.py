"""Variational autoencoder (Kingma & Welling) for rows of features.

The encoder graph outputs the Gaussian posterior's ``mu`` and ``logvar``
(B, L) each; the decoder graph maps a code ``z`` (B, L) to a reconstruction.
Sampling happens only during training (the reparameterization trick, drawn
from torch's RNG that training seeds) and in ``aeruntime`` with an explicit
seed: no exported graph contains a random op, so every score is deterministic.

Scores (``score``), higher = more anomalous:

- ``"mse"`` (default): mean squared error of the *mean decoding* ``decode(mu)``
  in scaled space, the same definition as the other kinds;
- ``"neg_elbo"``: the negative evidence lower bound per row, in nats, with a
  unit-variance Gaussian decoder in scaled space and the expectation evaluated
  at ``z = mu``: ``0.5 * sum((x - decode(mu))^2) + 0.5 * D * log(2 pi) + KL(q(z|x) || N(0, I))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from aeruntime.errors import check_choice
from aeruntime.format import score_definition

from .base import Autoencoder
from .dense import mlp, resolve_widths

__all__ = ["VAEConfig", "VariationalAutoencoder", "VAE_SCORES"]

#: score name -> manifest ``score`` section (``None`` = the exporter's default MSE)
VAE_SCORES: dict[str, dict[str, Any] | None] = {
    "mse": None,
    "neg_elbo": score_definition("neg_elbo"),  # the runtime computes it too (aeruntime.format.scores)
}


@dataclass
class VAEConfig:
    n_features: int  # input width
    hidden: list[int] = field(default_factory=list)  # encoder hidden widths; decoder mirrors; [] = default_widths
    latent_dim: int = 0  # size of z; 0 = default_widths
    activation: str = "relu"  # hidden-layer activation
    output_activation: str = "identity"  # identity for standardized data, sigmoid for [0, 1]
    beta: float = 1.0  # weight of the KL term in the training loss (beta-VAE)
    score: str = "mse"  # "mse" (mean decoding) or "neg_elbo"

    def __post_init__(self) -> None:
        check_choice("score", self.score, sorted(VAE_SCORES))
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        self.hidden, self.latent_dim = resolve_widths(self.n_features, self.hidden, self.latent_dim)


def kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row (B,)."""
    return -0.5 * torch.sum(1 + logvar - mu**2 - torch.exp(logvar), dim=1)


class VariationalAutoencoder(Autoencoder):
    kind = "vae"
    encoder_outputs = ("mu", "logvar")

    def __init__(self, config: VAEConfig, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__(config, input_shape or (config.n_features,))
        widths = [config.n_features, *config.hidden]
        self.body = mlp(widths, config.activation, 0.0, config.activation) if config.hidden else nn.Identity()
        self.mu_head = nn.Linear(widths[-1], config.latent_dim)
        self.logvar_head = nn.Linear(widths[-1], config.latent_dim)
        out_act = None if config.output_activation == "identity" else config.output_activation
        self.decoder = mlp(
            [config.latent_dim, *config.hidden[::-1], config.n_features], config.activation, 0.0, out_act
        )

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def encode(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        """Scaled rows (B, F) -> (mu, logvar), each (B, L)."""
        h = self.body(xs)
        return self.mu_head(h), self.logvar_head(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (B, L) -> (B, F)

    def _code(self, xs: torch.Tensor) -> torch.Tensor:
        return self.encode(xs)[0]  # the posterior mean: deterministic

    def forward(self, xs: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.encode(xs)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        return {"z": z, "mu": mu, "logvar": logvar, "x_hat": self.decode(z)}

    def loss(self, xs_in: torch.Tensor, xs_target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative ELBO per input element (one reparameterized sample), KL weighted by ``beta``."""
        out = self(xs_in)
        d = xs_target[0].numel()
        rec = 0.5 * torch.sum((out["x_hat"] - xs_target) ** 2, dim=1).mean()
        kl = kl_to_prior(out["mu"], out["logvar"]).mean()
        loss = (rec + self.config.beta * kl) / d
        return loss, {"mse": float(2 * rec.detach() / d), "kl": float(kl.detach())}

    def row_error(self, xs: torch.Tensor) -> torch.Tensor:
        """Per-row anomaly score (B,), higher = more anomalous; see the module docstring."""
        mu, logvar = self.encode(xs)
        d = xs - self.decode(mu)
        err = d * d  # exported as Mul (faster than Pow in onnxruntime)
        if self.config.score == "mse":
            return torch.mean(err, dim=1)
        d = xs.shape[1]
        return 0.5 * torch.sum(err, dim=1) + 0.5 * d * math.log(2 * math.pi) + kl_to_prior(mu, logvar)

    def is_regularized(self) -> bool:
        return self.config.beta > 0

    def score_definition(self) -> dict[str, Any] | None:
        return VAE_SCORES[self.config.score]

    @torch.no_grad()
    def training_report(self, xs_train: torch.Tensor) -> dict[str, Any]:
        mu, logvar = self.encode(xs_train)
        kl_per_unit = (-0.5 * (1 + logvar - mu**2 - torch.exp(logvar))).mean(dim=0)
        return {
            "mean_kl": float(kl_per_unit.sum()),
            "active_units": int((kl_per_unit > 0.01).sum()),  # units the posterior really uses
            "score": self.config.score,
        }
