"""The autoencoder base class every model kind derives from.

A model works in *scaled* space (the scaler fitted on training rows). The three
``*_graph`` methods are what gets exported; they take and return raw feature
units, so the scaler lives inside the ONNX graphs and consumers never
re-implement it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

import torch
from torch import nn

from aeruntime.errors import check_choice

__all__ = ["Autoencoder", "ACTIVATIONS", "ELEMENT_ERRORS", "make_activation"]

#: activation name -> module factory, read by configs and the CLI
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


#: score name -> per-element error (torch) of the scaled residual ``xs - x_hat``; the
#: scorer graph takes the mean of these over all input elements of a row. Each name is
#: also registered in ``aeruntime.format.SCORES`` (its definition and numpy counterpart,
#: used by the runtime for bundles without a scorer and for explanations).
ELEMENT_ERRORS: dict[str, Any] = {
    "mse": lambda d: d * d,
    "mae": lambda d: torch.abs(d),
}


def make_activation(name: str) -> nn.Module:
    check_choice("activation", name, sorted(ACTIVATIONS))
    return ACTIVATIONS[name]()


class Autoencoder(nn.Module):
    """Base class: scaler buffers, the graph entry points and the default loss.

    Subclasses set ``kind`` and implement :meth:`encode` and :meth:`decode` in
    scaled space. Kinds that need more (penalties, corruption, two encoder
    outputs) override :meth:`loss`, :meth:`corrupt` or ``encoder_outputs``.
    """

    #: registry key, written to the manifest
    kind: ClassVar[str] = "base"
    #: names of the encoder graph's outputs; the first is the latent code used for decoding
    encoder_outputs: ClassVar[tuple[str, ...]] = ("z",)
    #: score definition the scorer graph computes (a key of ELEMENT_ERRORS); set by export
    score_name: str = "mse"

    def __init__(self, config: Any, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.config = config
        self.input_shape = tuple(int(d) for d in input_shape)
        # Scaler fitted on training rows: x_scaled = (x - mean) / scale.
        self.register_buffer("scaler_mean", torch.zeros(self.input_shape))
        self.register_buffer("scaler_scale", torch.ones(self.input_shape))

    # ----------------------------------------------------------- subclass API
    @property
    def latent_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def encode(self, xs: torch.Tensor) -> torch.Tensor:
        """Scaled rows (B, *input_shape) -> latent code (B, *latent_shape)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent code (B, *latent_shape) -> scaled reconstruction (B, *input_shape)."""
        raise NotImplementedError

    def corrupt(self, xs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Training-time input corruption (denoising kinds); identity by default."""
        return xs

    def forward(self, xs: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(xs)
        return {"z": z, "x_hat": self.decode(z)}

    def loss(self, xs_in: torch.Tensor, xs_target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on a batch: mean squared error in scaled space by default."""
        out = self(xs_in)
        mse = torch.mean((out["x_hat"] - xs_target) ** 2)
        return mse, {"mse": float(mse.detach())}

    def row_error(self, xs: torch.Tensor) -> torch.Tensor:
        """Per-row anomaly score in scaled space (B,): mean squared reconstruction error."""
        x_hat = self.decode(self._code(xs))
        d = xs - x_hat
        # d * d, not d ** 2: identical values, exported as Mul, which onnxruntime runs faster than Pow
        return torch.mean(d * d, dim=tuple(range(1, xs.dim())))

    def row_score(self, xs: torch.Tensor) -> torch.Tensor:
        """Per-row anomaly score (B,) under ``score_name``: mean of the element errors, scaled space."""
        if self.score_name == "mse":
            return self.row_error(xs)
        check_choice("score", self.score_name, sorted(ELEMENT_ERRORS))
        err = ELEMENT_ERRORS[self.score_name](xs - self.decode(self._code(xs)))
        return torch.mean(err, dim=tuple(range(1, xs.dim())))

    def _code(self, xs: torch.Tensor) -> torch.Tensor:
        """Deterministic latent code used for reconstruction and scoring."""
        return self.encode(xs)

    # ----------------------------------------------------------- optional hooks
    def is_regularized(self) -> bool:
        """True if the training objective keeps an overcomplete code from learning the identity."""
        return False

    def fit_data(self, xs_train: torch.Tensor) -> None:
        """Called once by training with the scaled training rows (B, *input_shape); no-op by default."""

    def training_report(self, xs_train: torch.Tensor) -> dict[str, Any]:
        """Kind-specific figures for the training summary (e.g. sparse: mean code activation)."""
        return {}

    def score_definition(self) -> dict[str, Any] | None:
        """The manifest's ``score`` section when it differs from the default MSE; None = default."""
        return None

    @staticmethod
    def scaler_rows(X: Any, rows: Any) -> tuple[Any, Any]:
        """The rows ``(X, rows)`` the scaler is fitted on (series kinds: the distinct time steps)."""
        return X, rows

    @property
    def named_shape(self) -> tuple[int, ...]:
        """What ``feature_names`` name: every input value (rows), or the C columns of a step (series)."""
        return self.input_shape

    def manifest_sections(self) -> dict[str, Any]:
        """Extra manifest sections of the kind (series kinds: ``series``); none by default."""
        return {}

    # ----------------------------------------------------------- scaler
    def set_scaler(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        self.scaler_mean.copy_(mean.reshape(self.input_shape))
        self.scaler_scale.copy_(scale.reshape(self.input_shape))

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.scaler_mean) / self.scaler_scale

    def unscale(self, xs: torch.Tensor) -> torch.Tensor:
        return xs * self.scaler_scale + self.scaler_mean

    # ----------------------------------------------------------- exported graphs (raw units)
    def encoder_graph(self, x: torch.Tensor) -> Any:
        """Raw rows (B, *input_shape) -> encoder outputs (``encoder_outputs``)."""
        return self.encode(self.scale(x))

    def decoder_graph(self, z: torch.Tensor) -> torch.Tensor:
        """Latent code (B, *latent_shape) -> reconstruction in raw units (B, *input_shape)."""
        return self.unscale(self.decode(z))

    def scorer_graph(self, x: torch.Tensor) -> torch.Tensor:
        """Raw rows (B, *input_shape) -> anomaly score (B,), higher = more anomalous."""
        return self.row_score(self.scale(x))

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)
