"""Checkpoints: safetensors weights + JSON config, never a pickle.

A checkpoint directory holds

- ``model.safetensors``: the state dict (scaler buffers included);
- ``config.json``: model kind, model config, input shape, training summary, and the
  sha256 of the two safetensors files (what makes the folder provably ours);
- ``holdout.safetensors``: held-out normal rows (``x``, raw units, at most
  ``MAX_HOLDOUT`` rows) used by ``aeexport export`` to calibrate the threshold and
  to feed the parity check real data.

It is written atomically, like a bundle, into a new or empty directory or over a
checkpoint of ours (the overwrite rule, :mod:`aeruntime.fs.outputs`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_np
from safetensors.numpy import save_file as save_np
from safetensors.torch import load_file, save_file

from aeruntime.errors import BundleError, BundleNotFoundError, ManifestError
from aeruntime.format import parse_json
from aeruntime.fs import atomic_directory, hidden_os_error, marker_digests

from ..models import Autoencoder, build_model

__all__ = ["CHECKPOINT_FORMAT", "MAX_HOLDOUT", "load_checkpoint", "model_from_weights", "save_checkpoint"]

CHECKPOINT_FORMAT = "aeexport-checkpoint/1"
MAX_HOLDOUT = 4096


def save_checkpoint(
    path: str | Path,
    model: Autoencoder,
    *,
    holdout: np.ndarray,
    summary: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its held-out rows (n, *input_shape) to a checkpoint directory."""
    if len(holdout) > MAX_HOLDOUT:
        idx = np.random.default_rng(0).choice(len(holdout), MAX_HOLDOUT, replace=False)
        holdout = holdout[np.sort(idx)]
    config = {
        "format": CHECKPOINT_FORMAT,
        "kind": model.kind,
        "model_config": model.config_dict(),
        "input_shape": list(model.input_shape),
        "training": summary or {},
        "dataset": dataset or {},
    }
    with atomic_directory(path, kind="checkpoint") as tmp:  # OSError (disk full, ...): FileSystemError naming path
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        with _os_errors():
            save_file(state, str(tmp / "model.safetensors"))
            save_np({"x": np.ascontiguousarray(holdout, dtype=np.float32)}, str(tmp / "holdout.safetensors"))
        # the marker: the sha256 of what it holds, so the next write can prove the folder is ours
        config["sha256"] = marker_digests(tmp, ["model.safetensors", "holdout.safetensors"])
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return Path(path)


@contextlib.contextmanager
def _os_errors() -> Iterator[None]:
    """safetensors reports a failed write (``os error 28``) as a SafetensorError: raise it as the OSError."""
    try:
        yield
    except SafetensorError as exc:
        raise (hidden_os_error(exc) or exc) from exc


def _damaged(path: Path, exc: BaseException) -> BundleError:
    return BundleError(
        f"{str(path)!r} is not a readable safetensors file ({exc}); the checkpoint is truncated or damaged. "
        "Copy it again or re-run `aeexport train`."
    )


def model_from_weights(kind: str, model_config: dict[str, Any], input_shape: list[int], weights: Path) -> Autoencoder:
    """Rebuild a model from its registry kind, config dict and a safetensors file."""
    model = build_model(kind, dict(model_config), tuple(input_shape))
    try:
        state = load_file(str(weights))
    except SafetensorError as exc:
        raise _damaged(weights, exc) from None
    model.load_state_dict(state)
    return model.eval()


def load_checkpoint(path: str | Path) -> tuple[Autoencoder, dict[str, Any], np.ndarray]:
    """Return ``(model, config, holdout rows)`` from a checkpoint directory."""
    path = Path(path)
    cfg_path = path / "config.json"
    if not cfg_path.is_file() or not (path / "model.safetensors").is_file():
        raise BundleNotFoundError(
            f"{str(path)!r} is not a checkpoint: expected config.json and model.safetensors "
            "written by `aeexport train`."
        )
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{cfg_path}: not valid JSON ({exc}).") from None
    config = parse_json(text, str(cfg_path), "re-train with `aeexport train`.", invalid="{source}: not valid JSON")
    found = config.get("format") if isinstance(config, dict) else type(config).__name__
    if found != CHECKPOINT_FORMAT:
        raise ManifestError(
            f"{cfg_path}: format {found!r}, expected {CHECKPOINT_FORMAT!r}; re-train with this aeexport."
        )
    model = model_from_weights(
        config["kind"], config["model_config"], config["input_shape"], path / "model.safetensors"
    )
    holdout_path = path / "holdout.safetensors"
    try:
        holdout = (
            load_np(str(holdout_path))["x"]
            if holdout_path.is_file()
            else np.empty((0, *config["input_shape"]), np.float32)
        )
    except SafetensorError as exc:
        raise _damaged(holdout_path, exc) from None
    return model, config, holdout
