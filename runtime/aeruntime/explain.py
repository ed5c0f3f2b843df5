"""Per-feature reconstruction errors and the features that drive each row's score.

The score of a bundle (``manifest["score"]``) is the mean over input elements
of an element error of the scaled residual ``(x - x_hat) / scale``: squared for
``mse``, absolute for ``mae`` (the score registry, :mod:`aeruntime.format.scores`).
:func:`feature_errors` computes those element errors with the encoder and
decoder graphs and the manifest's scaler (numpy only), so their row mean equals
``score(x)`` up to float32 rounding, and :func:`explain` ranks them (named by
the bundle's ``input.feature_names`` when it has them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .errors import InvalidInputError, ManifestError
from .format.scores import SCORES, element_error_of, get_score
from .validation import as_batch

__all__ = ["Explanation", "explain", "feature_errors"]


class _Bundle(Protocol):
    """What explanations need of a model (:class:`aeruntime.Model` has it); no import of model.py."""

    input_shape: tuple[int, ...]
    feature_names: list[str] | None
    manifest: dict[str, Any]

    def reconstruct(self, x: Any) -> np.ndarray: ...


@dataclass
class Explanation:
    """The ``top_k`` features contributing most to each row's score.

    Attributes
    ----------
    indices : ndarray of shape (n_rows, top_k), int64
        Flat feature indices (into ``x.reshape(n_rows, -1)``), largest contribution first.
    errors : ndarray of shape (n_rows, top_k), float32
        Those features' element errors (scaled space).
    shares : ndarray of shape (n_rows, top_k), float32
        Each feature's share of the row's total error (0..1); the score is the mean error.
    scores : ndarray of shape (n_rows,), float32
        The row scores recomputed from the feature errors (higher = more anomalous).
    names : list of list of str, or None
        Feature names of ``indices`` when ``feature_names`` was given or the bundle has them.
    """

    indices: np.ndarray
    errors: np.ndarray
    shares: np.ndarray
    scores: np.ndarray
    names: list[list[str]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form: one entry per row."""
        rows = []
        for i in range(len(self.indices)):
            feats = []
            for j in range(self.indices.shape[1]):
                f: dict[str, Any] = {
                    "index": int(self.indices[i, j]),
                    "error": float(self.errors[i, j]),
                    "share": float(self.shares[i, j]),
                }
                if self.names is not None:
                    f["name"] = self.names[i][j]
                feats.append(f)
            rows.append({"score": float(self.scores[i]), "features": feats})
        return {"rows": rows}


def feature_errors(model: _Bundle, x: Any) -> np.ndarray:
    """Element errors of each row under the bundle's score definition.

    Parameters
    ----------
    model : aeruntime.Model
        A loaded bundle.
    x : array-like of shape (n_rows, *input_shape)
        Raw rows.

    Returns
    -------
    ndarray of shape (n_rows, *input_shape), float32
        ``((x - x_hat) / scale) ** 2`` (mse) or ``|x - x_hat| / scale`` (mae);
        their mean over a row is the row's score (higher = more anomalous).
    """
    m = getattr(model, "_manifest", None) or model.manifest
    section = m.get("score", {})
    name = section.get("name", "mse")
    element_error = element_error_of(section)
    if element_error is None and name not in SCORES:
        get_score(name)  # raises: unknown score, naming the known ones
    if element_error is None:
        have = sorted(n for n, s in SCORES.items() if s.element_error is not None)
        raise ManifestError(
            f"this bundle's score {name!r} has no per-feature decomposition; feature errors and explain "
            f"support the scores {have}. Re-export with one of those scores."
        )
    xb = as_batch(x, model.input_shape)
    scale = np.asarray(m["scaler"]["scale"], dtype=np.float32).reshape(model.input_shape)
    residual = (xb - model.reconstruct(xb)) / scale
    return element_error(residual).astype(np.float32)


def explain(model: _Bundle, x: Any, top_k: int = 3, feature_names: Sequence[str] | None = None) -> Explanation:
    """The ``top_k`` features contributing most to each row's anomaly score.

    Parameters
    ----------
    model : aeruntime.Model
    x : array-like of shape (n_rows, *input_shape)
        Raw rows.
    top_k : int, default 3
        Features per row, 1 .. number of input elements.
    feature_names : sequence of str, optional
        One name per input element (flattened order); default ``model.feature_names``
        (the manifest's ``input.feature_names``), if the bundle has them.

    Returns
    -------
    Explanation
        Indices, element errors and shares of the top features per row, largest first.
    """
    n_features = int(np.prod(model.input_shape))
    if feature_names is None:
        feature_names = model.feature_names
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= n_features:
        raise InvalidInputError(
            f"top_k must be an integer in [1, {n_features}] (the number of input features), got {top_k!r}."
        )
    if feature_names is not None and len(feature_names) != n_features:
        raise InvalidInputError(
            f"feature_names has {len(feature_names)} names, but the bundle has "
            f"{n_features} input features; pass one name per feature."
        )
    err = feature_errors(model, x).reshape(-1, n_features)
    k = int(top_k)
    # argsort of -err, stable: ties keep the lower feature index first
    idx = np.argsort(-err, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(err, idx, axis=1)
    total = err.sum(axis=1, keepdims=True)
    shares = np.divide(top, total, out=np.zeros_like(top), where=total > 0)
    names = None
    if feature_names is not None:
        names = [[str(feature_names[j]) for j in row] for row in idx.tolist()]
    return Explanation(idx.astype(np.int64), top, shares.astype(np.float32), err.mean(axis=1).astype(np.float32), names)
