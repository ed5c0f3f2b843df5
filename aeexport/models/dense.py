"""Dense (MLP) autoencoder.

The classic tutorial shape for digits is 64 -> 32 -> 16 -> 32 -> 64. Two flaws of
that tutorial are avoided: the latent code has no activation (a ReLU there
kills dimensions), and the output is the identity for standardized data (a
ReLU cannot produce the negative half of a standardized feature). A sigmoid
output is only right for data scaled to [0, 1] (``scaler="minmax"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .base import Autoencoder, make_activation

__all__ = ["DenseConfig", "DenseAutoencoder", "default_widths", "mlp", "resolve_widths"]


def default_widths(n_features: int) -> tuple[list[int], int]:
    """Hidden widths and latent size for ``n_features`` inputs.

    64 features -> hidden [32], latent 16 (the classic digits shape); 6 -> [8], 3;
    500 -> [250], 64. The latent is about a quarter of the input (2 to 64) and the
    hidden layer sits halfway, never narrower than twice the latent.
    """
    latent = int(min(64, max(2, round(n_features / 4))))
    hidden = int(min(512, max(round(n_features / 2), 2 * latent, 8)))
    return [hidden], latent


def resolve_widths(n_features: int, hidden: list[int], latent_dim: int) -> tuple[list[int], int]:
    """Fill unset widths from :func:`default_widths`: ``hidden=[]`` with ``latent_dim=0`` takes the
    default hidden layers (an explicit latent with ``hidden=[]`` keeps no hidden layer), ``latent_dim=0``
    the default latent size. Shared by every row-model config."""
    auto_hidden, auto_latent = default_widths(n_features)
    if not hidden and not latent_dim:
        hidden = auto_hidden
    return [int(h) for h in hidden], int(latent_dim or auto_latent)


@dataclass
class DenseConfig:
    n_features: int  # input width (features per row)
    hidden: list[int] = field(default_factory=list)  # encoder hidden widths; decoder mirrors them. [] = default_widths
    latent_dim: int = 0  # size of the code; 0 = default_widths
    activation: str = "relu"  # hidden-layer activation (see ACTIVATIONS)
    output_activation: str = "identity"  # identity for standardized data, sigmoid for [0, 1] data
    dropout: float = 0.0  # dropout after each hidden activation (training only)

    def __post_init__(self) -> None:
        if self.n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {self.n_features}")
        self.hidden, self.latent_dim = resolve_widths(self.n_features, self.hidden, self.latent_dim)
        if self.latent_dim < 1 or any(h < 1 for h in self.hidden):
            raise ValueError(f"layer widths must be >= 1, got hidden={self.hidden}, latent_dim={self.latent_dim}")


def mlp(widths: list[int], activation: str, dropout: float, last_activation: str | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        last = i == len(widths) - 2
        if not last:
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        elif last_activation is not None:
            layers.append(make_activation(last_activation))
    return nn.Sequential(*layers)


class DenseAutoencoder(Autoencoder):
    kind = "dense"

    def __init__(self, config: DenseConfig, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__(config, input_shape or (config.n_features,))
        widths = [config.n_features, *config.hidden, config.latent_dim]
        # No activation on the code: the latent is linear.
        self.encoder = mlp(widths, config.activation, config.dropout, None)
        out_act = None if config.output_activation == "identity" else config.output_activation
        self.decoder = mlp(widths[::-1], config.activation, config.dropout, out_act)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def encode(self, xs: torch.Tensor) -> torch.Tensor:
        return self.encoder(xs)  # (B, F) -> (B, L)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (B, L) -> (B, F)

    def is_regularized(self) -> bool:
        return self.config.dropout > 0
