"""Model registry: one entry per model kind drives training, export, the CLI and tests.

Adding a kind means adding its entry to :data:`aeexport.settings.KINDS` (torch-free; the
``aeexport train --model`` choices read it) and its module here; :data:`REGISTRY` is built
from that table, and the parity tests are parametrized over it.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aeruntime.errors import check_choice

from ..settings import KINDS, Kind
from .base import Autoencoder

__all__ = [
    "REGISTRY",
    "ModelSpec",
    "build_model",
    "get_spec",
    "make_config",
    "Autoencoder",
    "OvercompleteWarning",
    "warn_if_overcomplete",
]


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # registry key, stored in the manifest
    config_cls: type  # dataclass with one field per hyper-parameter
    model_cls: type[Autoencoder]  # the nn.Module
    input_rank: int  # 1 = rows of features, 3 = (C, H, W) images
    description: str  # one line for --help and `inspect`
    config_from_shape: Callable[[tuple[int, ...], dict[str, Any]], Any]  # build a config for an input shape


def _rows_config(config_cls: type) -> Callable[[tuple[int, ...], dict[str, Any]], Any]:
    """config_from_shape for kinds over rows of features: ``n_features`` from the shape."""

    def make(shape: tuple[int, ...], overrides: dict[str, Any]) -> Any:
        return config_cls(n_features=int(shape[0]), **overrides)

    return make


def _spec(kind: str, entry: Kind) -> ModelSpec:
    """The spec of ``kind`` from its :data:`aeexport.settings.KINDS` entry (imports its module)."""
    module = importlib.import_module(f"{__name__}.{entry.module}")
    config_cls = getattr(module, entry.config)
    from_shape = getattr(module, entry.config_from_shape) if entry.config_from_shape else _rows_config(config_cls)
    return ModelSpec(kind, config_cls, getattr(module, entry.model), entry.input_rank, entry.description, from_shape)


#: kind -> spec, one per entry of :data:`aeexport.settings.KINDS`; the parametrized tests read it
REGISTRY: dict[str, ModelSpec] = {kind: _spec(kind, entry) for kind, entry in KINDS.items()}


class OvercompleteWarning(UserWarning):
    """An overcomplete autoencoder without a regularizer can learn the identity map."""


def warn_if_overcomplete(model: Autoencoder, *, weight_decay: float = 0.0) -> bool:
    """Warn (and return True) when the code is at least as wide as the input and nothing regularizes it."""
    import math
    import warnings

    n_in, n_code = math.prod(model.input_shape), math.prod(model.latent_shape)
    if n_code < n_in or model.is_regularized() or weight_decay > 0:
        return False
    warnings.warn(
        f"overcomplete {model.kind} autoencoder: the code has {n_code} units for {n_in} input values and no "
        "regularizer, so it can learn the identity map and detect nothing. Use a smaller latent_dim, or a "
        "regularized kind (sparse, denoising, vae), dropout or weight decay.",
        OvercompleteWarning,
        stacklevel=3,
    )
    return True


def get_spec(kind: str) -> ModelSpec:
    check_choice("model kind", kind, sorted(REGISTRY))
    return REGISTRY[kind]


def make_config(kind: str, input_shape: tuple[int, ...], overrides: dict[str, Any] | None = None) -> Any:
    """Config of ``kind`` for inputs of ``input_shape`` with ``overrides`` applied."""
    spec = get_spec(kind)
    names = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = set(overrides or {}) - names
    if unknown:
        from aeruntime.errors import InvalidInputError

        raise InvalidInputError(f"unknown option(s) {sorted(unknown)} for model kind {kind!r}; known: {sorted(names)}.")
    try:
        return spec.config_from_shape(tuple(input_shape), dict(overrides or {}))
    except (ValueError, TypeError) as exc:
        from aeruntime.errors import InvalidInputError

        raise InvalidInputError(
            f"invalid options for model kind {kind!r} and input shape {tuple(input_shape)}: {exc}."
        ) from None


def build_model(kind: str, config: Any | dict[str, Any], input_shape: tuple[int, ...]) -> Autoencoder:
    """Instantiate a model of ``kind`` from a config object or its dict form."""
    spec = get_spec(kind)
    if isinstance(config, dict):
        config = spec.config_cls(**config)
    return spec.model_cls(config, tuple(input_shape))
