"""Training: the rows and settings of a run (:func:`prepare`), the loop (:func:`train_split`,
:func:`train_model`), early stopping, the tabular fit, corruptions and checkpoints.
"""

from __future__ import annotations

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__, ["_checkpoint", "_device", "_loop", "_noise", "_prepare", "_stopping", "_tabular"]
)
