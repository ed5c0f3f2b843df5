"""The score registry: one definition per score name, shared by export, runtime and CLI.

A score maps raw rows to one float per row, **higher = more anomalous**. Each
:class:`ScoreSpec` holds

- ``definition``: the manifest's ``score`` section (and every graph's
  ``aeexport.score`` metadata);
- ``element_error``: numpy function of the scaled residual ``(x - x_hat) / scale``
  whose row mean is the score, or None for scores without a per-feature
  decomposition (``neg_elbo``); :func:`aeruntime.explain.feature_errors` uses it;
- ``row_score``: numpy function ``(residual, encoder_outputs) -> (n_rows,)`` that
  computes the score from the encoder and decoder graphs, for bundles without
  ``scorer.onnx`` (``docs/bundle-format.md`` section 6);
- ``nonnegative``: the score is ``>= 0`` by definition, so a negative threshold
  would flag every row (refused by :func:`check_threshold`).

A model kind with a score of its own registers it with :func:`register_score`
(the VAE's ``neg_elbo`` is registered here because the runtime must compute it
without aeexport).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInputError, ManifestError

__all__ = [
    "DEFAULT_SCORE",
    "ELEMENT_ERRORS",
    "SCORES",
    "ScoreSpec",
    "check_threshold",
    "element_error_of",
    "get_score",
    "nonnegative_scores",
    "register_score",
    "score_definition",
    "score_names",
    "threshold_problem",
]

DEFAULT_SCORE = "mse"
_DIRECTION = "higher_is_more_anomalous"

#: residual (n, *input_shape) in scaled space, encoder outputs by name -> scores (n,)
RowScore = Callable[[np.ndarray, Mapping[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class ScoreSpec:
    """One score: its manifest definition and how to compute it in numpy."""

    name: str  # registry key, manifest["score"]["name"]
    definition: dict[str, Any]  # the manifest's score section
    element_error: Callable[[np.ndarray], np.ndarray] | None  # scaled residual -> element errors (None: none)
    nonnegative: bool  # scores are >= 0 by definition
    row_score: RowScore | None = field(default=None)  # composed scoring; default: mean of element_error

    def score_rows(self, residual: np.ndarray, encoder_outputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Scores (n_rows,) from the scaled residual (n_rows, *input_shape) and the encoder outputs."""
        if self.row_score is not None:
            return self.row_score(residual, encoder_outputs)
        assert self.element_error is not None
        return self.element_error(residual).reshape(len(residual), -1).mean(axis=1)


#: score name -> spec; extend with :func:`register_score`
SCORES: dict[str, ScoreSpec] = {}


def register_score(spec: ScoreSpec, *, replace: bool = False) -> ScoreSpec:
    """Add ``spec`` to :data:`SCORES` (a model kind's own score); return it."""
    if spec.name in SCORES and not replace and SCORES[spec.name] != spec:
        raise ValueError(f"score {spec.name!r} is already registered; pass replace=True to redefine it")
    if spec.element_error is None and spec.row_score is None:
        raise ValueError(f"score {spec.name!r} needs an element_error or a row_score")
    SCORES[spec.name] = spec
    return spec


def score_names() -> list[str]:
    """Registered score names, sorted (the CLI's ``--score`` choices)."""
    return sorted(SCORES)


def get_score(name: Any) -> ScoreSpec:
    """The spec of ``name``; :class:`ManifestError` naming the known scores otherwise."""
    spec = SCORES.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ManifestError(
            f"score {name!r} is not known to this aeruntime (known: {score_names()}); upgrade aeruntime or "
            "re-export the bundle with one of those scores."
        )
    return spec


#: the manifest's ``score.element_error`` words -> numpy element error of the scaled residual
ELEMENT_ERRORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"squared": np.square, "absolute": np.abs}


def element_error_of(section: Mapping[str, Any]) -> Callable[[np.ndarray], np.ndarray] | None:
    """The element error of a manifest ``score`` section: the registered score's, else the one the
    section declares in ``element_error`` (a kind's own score, e.g. an ensemble's ``ensemble_mse``,
    whose ``per_feature`` entry says how the feature errors relate to it); None when it has none."""
    spec = SCORES.get(section.get("name", "mse"))
    if spec is not None:
        return spec.element_error
    return ELEMENT_ERRORS.get(section.get("element_error"))  # type: ignore[arg-type]


def score_definition(name: str) -> dict[str, Any]:
    """A copy of the manifest ``score`` section of ``name``."""
    return dict(get_score(name).definition)


def nonnegative_scores() -> frozenset[str]:
    """Names of the registered scores that are ``>= 0`` by definition."""
    return frozenset(n for n, s in SCORES.items() if s.nonnegative)


def threshold_problem(value: float, score_name: Any) -> str | None:
    """Why ``value`` is not a valid threshold for ``score_name``, or None."""
    if not math.isfinite(value):
        return "must be a finite number"
    spec = SCORES.get(score_name) if isinstance(score_name, str) else None
    if value < 0 and spec is not None and spec.nonnegative:
        return (
            f"is negative, but {score_name!r} scores are >= 0, so every row would be labelled an anomaly; "
            "use a value >= 0"
        )
    return None


def check_threshold(value: Any, score_name: str | None = None) -> float:
    """``value`` as a finite float, ``>= 0`` for non-negative scores; :class:`InvalidInputError` otherwise."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidInputError(f"threshold must be a finite number, got {value!r}; pass e.g. threshold=0.5.")
    try:
        t = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(f"threshold must be a finite number, got {value!r}; pass e.g. threshold=0.5.") from None
    if not math.isfinite(t):
        raise InvalidInputError(
            f"threshold must be a finite number, got {t}; pass a value on the bundle's score scale "
            "(see model.manifest['threshold']['stats'])."
        )
    why = threshold_problem(t, score_name)
    if why:
        raise InvalidInputError(f"threshold {t!r} {why} (see model.manifest['threshold']['stats']).")
    return t


def _elementwise(name: str, element: str, formula: str, note: str, fn: Callable[[np.ndarray], np.ndarray]) -> ScoreSpec:
    definition = {
        "name": name,
        "definition": f"mean over all input elements of {formula}: the {note}",
        "direction": _DIRECTION,
        "space": "scaled",
        "output": "score",
        "element_error": element,
        "reduction": "mean",
        "per_feature": f"feature_errors(x) = {formula} per input element (aeruntime "
        "Model.feature_errors / explain); score = their mean",
    }
    return ScoreSpec(name, definition, fn, nonnegative=True)


def _neg_elbo(residual: np.ndarray, enc: Mapping[str, np.ndarray]) -> np.ndarray:
    if "mu" not in enc or "logvar" not in enc:
        raise ManifestError(
            "score 'neg_elbo' needs an encoder with outputs mu and logvar (a VAE bundle), but this bundle's "
            f"encoder outputs {sorted(enc)}; re-export it."
        )
    r = residual.reshape(len(residual), -1).astype(np.float64)
    mu, logvar = enc["mu"].astype(np.float64), enc["logvar"].astype(np.float64)
    kl = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)
    d = r.shape[1]
    return (0.5 * np.sum(r * r, axis=1) + 0.5 * d * math.log(2 * math.pi) + kl).astype(np.float32)


register_score(
    _elementwise(
        "mse",
        "squared",
        "((x - x_hat) / scale)^2",
        "squared reconstruction error in the scaled space the model was trained in",
        np.square,
    )
)
register_score(
    _elementwise(
        "mae",
        "absolute",
        "|x - x_hat| / scale",
        "absolute reconstruction error in the scaled space the model was trained in (less dominated by one "
        "extreme feature than mse)",
        np.abs,
    )
)
register_score(
    ScoreSpec(
        "neg_elbo",
        {
            "name": "neg_elbo",
            "definition": "negative ELBO per row in nats: 0.5 * sum((xs - decode(mu))^2) + 0.5 * D * log(2 pi) "
            "+ KL(N(mu, exp(logvar)) || N(0, I)), with xs the scaled input (a unit-variance Gaussian decoder) "
            "and the expectation evaluated deterministically at z = mu",
            "direction": _DIRECTION,
            "space": "scaled",
            "output": "score",
        },
        element_error=None,
        nonnegative=True,  # 0.5 * D * log(2 pi) > 0 and the other two terms are >= 0
        row_score=_neg_elbo,
    )
)
