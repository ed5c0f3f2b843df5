"""Where training runs: the device, the torch threads, deterministic algorithms, and the progress bars."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import torch

from aeruntime.errors import InvalidInputError

from ..settings import AUTO_THREADS_BATCH, TrainConfig

__all__ = ["effective_threads", "resolve_device"]  # the rest serve the loop (_loop) only


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            "device 'cuda' was requested, but torch sees no CUDA device "
            f"(torch {torch.__version__}, cuda build {torch.version.cuda}); use --device cpu or auto."
        )
    if device not in ("cpu", "cuda"):
        raise InvalidInputError(f"device must be auto, cpu or cuda, got {device!r}.")
    return torch.device(device)


@contextlib.contextmanager
def deterministic(threads: int) -> Any:
    """Within the block: torch's deterministic algorithms on ``threads`` threads (0: torch's default); restored after."""
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    previous_threads = torch.get_num_threads()
    torch.use_deterministic_algorithms(True, warn_only=True)
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn_only)
        torch.set_num_threads(previous_threads)


def effective_threads(threads: int, batch_size: int) -> int:
    """The torch threads training runs on: ``threads``, or for -1 (auto) 1 below
    :data:`~aeexport.settings.AUTO_THREADS_BATCH` rows per batch and 0 (torch's default) from there."""
    if threads >= 0:
        return threads
    return 0 if batch_size >= AUTO_THREADS_BATCH else 1


def epochs_progress(kind: str, cfg: TrainConfig) -> Any:
    """The epochs as a tqdm bar on stderr; ``disable=None`` shows it on a terminal only, never in logs or pipes."""
    from tqdm.auto import tqdm

    return tqdm(
        range(1, cfg.epochs + 1),
        desc=f"train {kind}",
        unit="epoch",
        file=sys.stderr,
        disable=None if cfg.progress else True,
        leave=False,
    )


def rows_progress(n_rows: int, cfg: TrainConfig) -> Any:
    """The rows of the current epoch as a second tqdm bar (rows/s, the epoch's ETA); terminal only, like
    :func:`epochs_progress`."""
    from tqdm.auto import tqdm

    return tqdm(
        total=n_rows,
        desc="epoch",
        unit="rows",
        unit_scale=True,
        file=sys.stderr,
        disable=None if cfg.progress else True,
        leave=False,
        position=1,
    )
