"""Training: the rows and settings of a run (:func:`prepare`), the loop (:func:`train_split`,
:func:`train_model`), early stopping, the tabular fit, corruptions and checkpoints.
"""

from __future__ import annotations

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "_checkpoint": ["CHECKPOINT_FORMAT", "MAX_HOLDOUT", "load_checkpoint", "model_from_weights", "save_checkpoint"],
        "_device": ["effective_threads", "resolve_device"],
        "_loop": ["TrainResult", "train_model", "train_split"],
        "_noise": ["CORRUPTIONS", "corrupt", "mse", "psnr"],
        "_prepare": ["Prepared", "dataset_info", "prepare"],
        "_stopping": ["STOP_CRITERIA", "loss_entropy", "stop_criterion"],
        "_tabular": ["fit_tabular", "is_image_data"],
    },
)
