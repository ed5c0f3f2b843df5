"""The MLflow ``python_function`` loader of a bundle packaged by ``aeexport package --format mlflow``.

The package's ``MLmodel`` names this module as ``loader_module`` and its ``bundle/``
folder as ``data``: ``mlflow.pyfunc.load_model(DIR)`` calls :func:`_load_pyfunc`, which
loads the bundle with :func:`aeruntime.load` (every hash and check), so no pickle is
involved. ``predict`` takes rows ``(n, *input_shape)`` (an ndarray, or a DataFrame whose
columns are the bundle's feature names, or whose values are the rows) and returns
``{"score": (n,), "label": (n,), ...}``, the same outputs as ``aeruntime serve``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model import load
from .bundle import ServedBundle

__all__ = ["BundlePyfunc", "_load_pyfunc"]


class BundlePyfunc:
    """What ``mlflow.pyfunc`` wraps: ``predict(rows) -> {output name: (n,)}``."""

    def __init__(self, bundle: ServedBundle) -> None:
        self.bundle = bundle

    def _rows(self, model_input: Any) -> Any:
        columns = getattr(model_input, "columns", None)
        if columns is None:
            return model_input
        names = self.bundle.model.feature_names
        if names is not None and set(names) <= set(map(str, columns)):
            model_input = model_input[names]
        return model_input.to_numpy()

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
        return self.bundle.infer({self.bundle.input_name: self._rows(model_input)})


def _load_pyfunc(path: str) -> BundlePyfunc:
    """MLflow's entry point: the bundle directory ``path`` (the package's ``data``), loaded with every check."""
    return BundlePyfunc(ServedBundle("mlflow", load(path, providers="cpu")))
