"""Seeded sampling for variational bundles, in numpy (no random op lives in a graph).

A variational bundle's encoder graph outputs ``mu`` and ``logvar``; these
helpers draw ``z`` from the posterior (reparameterization) or from the prior
``N(0, I)`` with :func:`numpy.random.default_rng` seeded by the caller, so the
same seed gives the same draws on every machine with the same numpy.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import InvalidInputError

__all__ = ["VARIATIONAL_OUTPUTS", "is_variational", "check_seed", "check_count", "reparameterize", "prior_sample"]

#: encoder outputs that mark a variational bundle
VARIATIONAL_OUTPUTS = ("mu", "logvar")


def is_variational(encoder_outputs: list[str]) -> bool:
    """True if the encoder graph outputs ``mu`` and ``logvar`` (the manifest decides, not the kind)."""
    return tuple(encoder_outputs[:2]) == VARIATIONAL_OUTPUTS


def check_seed(seed: object) -> int:
    """A non-negative int seed; anything else (None included) is an InvalidInputError."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and int(seed) >= 0:
        return int(seed)
    raise InvalidInputError(
        f"sampling needs an explicit seed (a non-negative int), got {seed!r}; pass e.g. seed=0. "
        "Scores and encode() without sample=True are deterministic and need none."
    )


def check_count(n: object) -> int:
    if isinstance(n, numbers.Integral) and not isinstance(n, bool) and int(n) >= 1:
        return int(n)
    raise InvalidInputError(f"n must be a positive int (the number of samples), got {n!r}; pass e.g. n=16.")


def reparameterize(mu: np.ndarray, logvar: np.ndarray, seed: int) -> np.ndarray:
    """``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)`` from ``default_rng(seed)``; shapes (n, L), float32."""
    eps = np.random.default_rng(check_seed(seed)).standard_normal(mu.shape, dtype=np.float32)
    return (mu + np.exp(np.float32(0.5) * logvar) * eps).astype(np.float32, copy=False)


def prior_sample(n: int, latent_shape: tuple[int, ...], seed: int) -> np.ndarray:
    """``n`` draws of ``z ~ N(0, I)`` of shape (n, *latent_shape), float32, from ``default_rng(seed)``."""
    shape = (check_count(n), *latent_shape)
    if math.prod(shape) > 2**31:
        raise InvalidInputError(f"{n} samples of shape {latent_shape} is too many; draw them in chunks.")
    return np.random.default_rng(check_seed(seed)).standard_normal(shape, dtype=np.float32)
