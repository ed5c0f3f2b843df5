"""Reports: evaluation of a bundle on labelled rows, the PCA comparison and the HTML model card
(`aeexport report`).
"""

from __future__ import annotations

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__, ["_card", "_compare", "_context", "_evaluate", "_markup", "_measured", "_page", "_series"]
)
