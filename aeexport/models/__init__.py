"""Model registry: one entry per model kind drives training, export, the CLI and tests.

Adding a kind means adding a :class:`ModelSpec` here; ``aeexport train --model``
reads its ``click.Choice`` from :data:`REGISTRY`, and the parity tests are
parametrized over it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from .base import Autoencoder
from .dense import DenseAutoencoder, DenseConfig

__all__ = ["REGISTRY", "ModelSpec", "build_model", "make_config", "Autoencoder"]


@dataclass(frozen=True)
class ModelSpec:
    kind: str                                   # registry key, stored in the manifest
    config_cls: type                            # dataclass with one field per hyper-parameter
    model_cls: type[Autoencoder]                # the nn.Module
    input_rank: int                             # 1 = rows of features, 3 = (C, H, W) images
    description: str                            # one line for --help and `inspect`
    config_from_shape: Callable[[tuple[int, ...], dict[str, Any]], Any]  # build a config for an input shape


def _dense_config(shape: tuple[int, ...], overrides: dict[str, Any]) -> DenseConfig:
    return DenseConfig(n_features=int(shape[0]), **overrides)


REGISTRY: dict[str, ModelSpec] = {
    "dense": ModelSpec(
        kind="dense",
        config_cls=DenseConfig,
        model_cls=DenseAutoencoder,
        input_rank=1,
        description="MLP autoencoder for rows of features",
        config_from_shape=_dense_config,
    ),
}


def get_spec(kind: str) -> ModelSpec:
    try:
        return REGISTRY[kind]
    except KeyError:
        from aeruntime.errors import InvalidInputError

        raise InvalidInputError(
            f"unknown model kind {kind!r}; expected one of {sorted(REGISTRY)}."
        ) from None


def make_config(kind: str, input_shape: tuple[int, ...], overrides: dict[str, Any] | None = None) -> Any:
    """Config of ``kind`` for inputs of ``input_shape`` with ``overrides`` applied."""
    spec = get_spec(kind)
    names = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = set(overrides or {}) - names
    if unknown:
        from aeruntime.errors import InvalidInputError

        raise InvalidInputError(
            f"unknown option(s) {sorted(unknown)} for model kind {kind!r}; known: {sorted(names)}."
        )
    return spec.config_from_shape(tuple(input_shape), dict(overrides or {}))


def build_model(kind: str, config: Any | dict[str, Any], input_shape: tuple[int, ...]) -> Autoencoder:
    """Instantiate a model of ``kind`` from a config object or its dict form."""
    spec = get_spec(kind)
    if isinstance(config, dict):
        config = spec.config_cls(**config)
    return spec.model_cls(config, tuple(input_shape))
