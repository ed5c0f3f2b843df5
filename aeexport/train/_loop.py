"""Training: Adam on mini-batches, a validation split, early stopping (on the rule of :mod:`aeexport.train`).

Read top to bottom: fit the scaler on training rows, build the model from the
registry, run epochs of shuffled mini-batches, keep the weights of the best
validation epoch. Same seed, same data, same machine -> bit-identical weights
on CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from aeruntime.errors import InvalidInputError

from ..data import SCALERS, Split, fit_scaler, release_mapped, row_blocks, trim_heap
from ..models import Autoencoder, build_model, get_spec, make_config, warn_if_overcomplete
from ..settings import PLATEAU_FACTOR, PLATEAU_PATIENCE, TrainConfig
from ._device import deterministic, effective_threads, epochs_progress, resolve_device, rows_progress
from ._stopping import stop_criterion

#: rows scaled into the training tensor at a time (bounds the transient copy)
SCALE_CHUNK = 1 << 16
#: validation rows scored at a time (bounds the activations alive at once: 32k x 128 float32 = 16 MB per
#: layer). A row's error does not depend on the rows scored with it (checked bit for bit on CPU at 1 and 2
#: threads, chunks of 2^15, 2^16 and 2^18), so the chunking changes no validation loss.
VAL_CHUNK = 1 << 15

__all__ = ["TrainResult", "train_model", "train_split"]


@dataclass
class TrainResult:
    model: Autoencoder  # best weights, eval mode, on CPU
    train_config: TrainConfig
    history: list[dict[str, float]] = field(default_factory=list)  # one entry per epoch
    # per epoch: (seconds of the training pass, seconds of the validation pass); apart from `history`,
    # which holds only what the seed determines
    epoch_seconds: list[tuple[float, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    seconds: float = 0.0
    device: str = "cpu"
    model_report: dict[str, Any] = field(default_factory=dict)  # kind-specific figures (sparse: activation)

    @property
    def hit_epoch_cap(self) -> bool:
        """True when training ran all ``epochs`` without early stopping (the model may not have converged)."""
        return (
            len(self.history) >= self.train_config.epochs
            and self.best_epoch >= self.train_config.epochs - self.train_config.patience + 1
        )

    def summary(self) -> dict[str, Any]:
        return {
            "epochs_run": len(self.history),
            "epoch_cap": self.train_config.epochs,
            "stopped_at_cap": self.hit_epoch_cap,
            "best_epoch": self.best_epoch,
            "best_val_loss": self.best_val_loss,
            "train_seconds": round(self.seconds, 3),
            "device": self.device,
            "model_report": self.model_report,
            "train_config": asdict(self.train_config),
            "history": [dict(h) for h in self.history],  # per epoch: epoch, train_loss, val_loss, kind's logs
            "epoch_seconds": [[round(t, 4), round(v, 4)] for t, v in self.epoch_seconds],  # (train, validation)
        }


def _trimmed_loss(
    model: Autoencoder, xs_in: torch.Tensor, xs: torch.Tensor, trim: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean squared error over the batch's rows minus its ``trim`` share of highest-loss rows.

    Rows the model reconstructs worst (on contaminated data: mostly the anomalies)
    do not pull the weights towards reconstructing them.
    """
    x_hat = model(xs_in)["x_hat"]
    per_row = torch.mean((x_hat - xs) ** 2, dim=tuple(range(1, xs.dim())))  # (B,)
    keep = max(1, len(per_row) - int(trim * len(per_row)))
    loss = torch.topk(per_row, keep, largest=False).values.mean()
    return loss, {"mse": float(per_row.detach().mean())}


def _check_inputs(X_train: np.ndarray, X_val: np.ndarray, kind: str, n_train: int) -> None:
    spec = get_spec(kind)
    if X_train.ndim != spec.input_rank + 1 or X_val.shape[1:] != X_train.shape[1:]:
        raise InvalidInputError(
            f"model kind {kind!r} expects rows of rank {spec.input_rank}; got training data of shape "
            f"{X_train.shape} and validation data of shape {X_val.shape}."
        )
    if n_train < 2 or len(X_val) < 1:
        raise InvalidInputError(f"need at least 2 training rows and 1 validation row, got {n_train} and {len(X_val)}.")


def _build_scaled_model(
    X_train: np.ndarray, rows: np.ndarray | None, kind: str, model_options: dict[str, Any] | None, cfg: TrainConfig
) -> Autoencoder:
    """The model of ``kind`` with its scaler fitted on the training rows ``X_train[rows]`` (n_train, *row_shape)."""
    fit_x, fit_rows = get_spec(kind).model_cls.scaler_rows(X_train, rows)  # series: the distinct time steps
    mean, scale = fit_scaler(fit_x, cfg.scaler, fit_rows)
    options = dict(model_options or {})
    if "output_activation" not in options and SCALERS[cfg.scaler].output_activation != "identity":
        options["output_activation"] = SCALERS[cfg.scaler].output_activation  # minmax: sigmoid
    row_shape = tuple(X_train.shape[1:])
    model = build_model(kind, make_config(kind, row_shape, options), row_shape)
    model.set_scaler(torch.from_numpy(mean), torch.from_numpy(scale))
    if cfg.trim_fraction > 0 and type(model).loss is not Autoencoder.loss:
        raise InvalidInputError(
            f"trim_fraction={cfg.trim_fraction} (robust training) trims rows of the plain reconstruction loss, "
            f"but model kind {kind!r} trains on its own loss ({type(model).__name__}.loss), which would ignore it; "
            "use trim_fraction=0 with this kind, or --model dense / denoising."
        )
    warn_if_overcomplete(model, weight_decay=cfg.weight_decay)
    return model


def _scaled(model: Autoencoder, X: np.ndarray, device: torch.device, rows: np.ndarray | None = None) -> torch.Tensor:
    """The scaled rows ``X[rows]`` (n, *row_shape) as one float32 tensor on ``device``, filled
    :data:`SCALE_CHUNK` rows at a time: the only copy of the training rows that training holds."""
    take = np.arange(len(X)) if rows is None else np.asarray(rows)
    out = torch.empty((len(take), *X.shape[1:]), dtype=torch.float32, device=device)
    for where, part in row_blocks(X, take, SCALE_CHUNK):  # a memory map: read in file order, pages released
        at = where if isinstance(where, slice) else torch.from_numpy(where).to(device)
        out[at] = model.scale(torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32)).to(device))
    return out


def _batch_loss(
    model: Autoencoder, xs: torch.Tensor, gen: torch.Generator, trim: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss of one batch (B, *row_shape); corruption (denoising) only here."""
    xs_in = model.corrupt(xs, gen)
    if trim > 0:
        return _trimmed_loss(model, xs_in, xs, trim)
    return model.loss(xs_in, xs)


def _epoch_batch_size(cfg: TrainConfig, epoch: int, n_rows: int) -> int:
    """Rows per step in ``epoch`` (1-based): ``batch_size`` grown by ``batch_growth`` per epoch, at most ``n_rows``."""
    return int(min(max(1, n_rows), round(cfg.batch_size * cfg.batch_growth ** (epoch - 1))))


def _train_epoch(
    model: Autoencoder,
    opt: torch.optim.Optimizer,
    xs_train: torch.Tensor,
    cfg: TrainConfig,
    gen: torch.Generator,
    epoch: int = 1,
    rows_bar: Any = None,
) -> tuple[float, dict[str, float]]:
    """One pass over shuffled mini-batches; returns the mean training loss and the last batch's logs.
    ``rows_bar`` (tqdm, optional) counts the rows done: rows/s and the epoch's ETA on a terminal."""
    model.train()
    perm = torch.randperm(len(xs_train), generator=gen).to(xs_train.device)
    total, logs = 0.0, {}
    batch = _epoch_batch_size(cfg, epoch, len(xs_train))
    for i in range(0, len(perm), batch):
        xs = xs_train[perm[i : i + batch]]  # (B, *row_shape)
        loss, logs = _batch_loss(model, xs, gen, cfg.trim_fraction)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(xs)
        if rows_bar is not None:
            rows_bar.update(len(xs))
    return total / len(xs_train), logs


@torch.no_grad()
def _val_loss(model: Autoencoder, xs_val: torch.Tensor) -> float:
    """Validation loss: the mean anomaly score of the held-out rows (scored :data:`VAL_CHUNK` rows
    at a time when there are more, so the activations of a large split are never all alive)."""
    model.eval()
    if len(xs_val) <= VAL_CHUNK:
        return float(model.row_error(xs_val).mean())
    return float(
        torch.cat([model.row_error(xs_val[i : i + VAL_CHUNK]) for i in range(0, len(xs_val), VAL_CHUNK)]).mean()
    )


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    """The learning-rate schedule of ``cfg.lr_schedule``, stepped once per epoch on the validation loss
    (None for ``"none"``); the plateau schedule's improvement threshold is ``min_delta``, relative, like
    early stopping's."""
    if cfg.lr_schedule == "none":
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE, threshold=cfg.min_delta
    )


def _run_epochs(
    model: Autoencoder,
    xs_train: torch.Tensor,
    xs_val: torch.Tensor,
    cfg: TrainConfig,
    gen: torch.Generator,
    result: TrainResult,
) -> dict[str, Any]:
    """Adam epochs with early stopping; fills ``result`` (history, best epoch and loss), returns the best weights."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = _scheduler(opt, cfg)
    best_state = copy.deepcopy(model.state_dict())
    stale, best = 0, float("inf")
    bar, rows_bar = epochs_progress(model.kind, cfg), rows_progress(len(xs_train), cfg)
    for epoch in bar:
        # 2. One pass over shuffled mini-batches.
        rows_bar.reset()
        tick = time.perf_counter()
        train_loss, logs = _train_epoch(model, opt, xs_train, cfg, gen, epoch, rows_bar)
        # 3. Validation: the mean anomaly score of held-out rows.
        tock = time.perf_counter()
        val_loss = _val_loss(model, xs_val)
        result.epoch_seconds.append((tock - tick, time.perf_counter() - tock))
        result.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, **logs})
        if schedule is not None:  # the epoch's learning rate, then the schedule's step for the next one
            result.history[-1]["lr"] = opt.param_groups[0]["lr"]
            schedule.step(val_loss)
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        # 4. Early stopping on the rule's criterion (aeexport.train): keep the best weights, stop after
        # `patience` stale epochs.
        criterion = val_loss if cfg.stop_rule == "val" else stop_criterion(cfg.stop_rule, model, xs_train, xs_val)
        if cfg.stop_rule != "val":
            result.history[-1][cfg.stop_rule] = criterion
        if criterion < best * (1 - cfg.min_delta):
            best = criterion
            result.best_val_loss, result.best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
            stale = 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    bar.close()
    rows_bar.close()
    return best_state


def train_model(
    X_train: np.ndarray,
    X_val: np.ndarray,
    *,
    kind: str = "dense",
    model_options: dict[str, Any] | None = None,
    config: TrainConfig | None = None,
    rows: np.ndarray | None = None,
) -> TrainResult:
    """Train an autoencoder of ``kind`` on ``X_train`` (or its ``rows``); early-stop on ``X_val``.

    Parameters
    ----------
    X_train : ndarray of shape (n_train, *row_shape)
        Raw training rows. The scaler is fitted on these rows only.
    X_val : ndarray of shape (n_val, *row_shape)
        Raw held-out rows; their mean score picks the best epoch.
    kind : str
        A key of :data:`aeexport.models.REGISTRY`.
    model_options : dict, optional
        Overrides of the kind's config fields (e.g. ``{"latent_dim": 8}``).
    config : TrainConfig, optional
    rows : ndarray of shape (n_train,), optional
        Indices of the training rows in ``X_train`` (a split by index: the rows are not copied
        first); None trains on every row. Training holds one scaled float32 tensor of them.

    With ``config.members > 1`` that many dense models are trained (seeds ``seed``, ``seed + 1``,
    ...) and returned side by side as one :class:`~aeexport.models.ensemble.EnsembleAutoencoder`.

    Raises
    ------
    InvalidInputError
        Wrong shapes, too few rows, ``trim_fraction`` with a kind that has its own loss, or
        ``members > 1`` with a kind other than dense.
    """
    cfg = config or TrainConfig()
    if cfg.members > 1:
        return _train_members(X_train, X_val, kind, model_options, cfg, rows)
    take = np.arange(len(X_train)) if rows is None else np.asarray(rows)
    split = Split(X_train, take, X_val, None, None)  # the caller keeps its arrays: nothing is dropped
    return _fit(_scaled_inputs(split, kind, model_options, cfg, drop=False), cfg)


def train_split(
    split: Split, *, kind: str = "dense", model_options: dict[str, Any] | None = None, config: TrainConfig | None = None
) -> TrainResult:
    """:func:`train_model` on ``split``'s training rows, taking its raw rows over.

    Once the training rows (``split.X[split.train_rows]``, n_train x row_shape) are scaled into their
    tensor, ``split.X`` is dropped (:meth:`~aeexport.data.Split.drop_rows`): when the split held the last
    reference (``aeexport train`` and ``run`` make sure it does), the raw input is freed before the
    epochs, so a table read into memory costs the scaled tensor, not the tensor and the table. The
    result is the same as ``train_model(split.X, split.val, rows=split.train_rows, ...)``. With
    ``config.members > 1`` the members share the raw rows, which are dropped after the last one.
    """
    cfg = config or TrainConfig()
    if cfg.members > 1:
        result = _train_members(split.rows(), split.val, kind, model_options, cfg, split.train_rows)
        split.drop_rows()
        return result
    return _fit(_scaled_inputs(split, kind, model_options, cfg, drop=True), cfg)


@dataclass
class _Scaled:
    """A model with its scaler fitted, and its rows scaled: what the epochs need, and no raw row."""

    model: Autoencoder  # on `device`, scaler fitted on the training rows
    xs_train: torch.Tensor  # (n_train, *row_shape) scaled training rows, float32, on `device`
    xs_val: torch.Tensor  # (n_val, *row_shape) scaled validation rows
    device: torch.device
    gen: torch.Generator  # the batches' shuffle and corruption, seeded


def _scaled_inputs(
    split: Split, kind: str, model_options: dict[str, Any] | None, cfg: TrainConfig, *, drop: bool
) -> _Scaled:
    """Check the inputs, seed, fit the scaler on the training rows ``split.X[split.train_rows]`` and scale
    them, then the validation rows ``split.val``. The raw rows are not read after this; ``drop``: they are
    dropped (:meth:`~aeexport.data.Split.drop_rows`) as soon as the training tensor is filled, before the
    validation rows are scaled. No local name here holds ``split.X``, so the split's reference is the last."""
    _check_inputs(split.rows(), split.val, kind, split.n_train)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    gen = torch.Generator().manual_seed(cfg.seed)

    # 1. Scaler from training rows only; the model trains in scaled space.
    model = _build_scaled_model(split.rows(), split.train_rows, kind, model_options, cfg).to(device)
    xs_train = _scaled(model, split.rows(), device, split.train_rows)
    model.fit_data(xs_train)
    # The raw rows are not read again: hand their mapped pages and freed parse buffers back.
    release_mapped(split.rows())
    if drop:
        split.drop_rows()
    trim_heap()
    xs_val = _scaled(model, split.val, device)
    release_mapped(split.val)
    return _Scaled(model, xs_train, xs_val, device, gen)


def _fit(s: _Scaled, cfg: TrainConfig) -> TrainResult:
    """Epochs 2-4 on scaled rows (:func:`_run_epochs`), then the best weights, the kind's report, CPU, eval mode."""
    model = s.model
    result = TrainResult(model=model, train_config=cfg, device=str(s.device))
    start = time.perf_counter()
    with deterministic(effective_threads(cfg.threads, cfg.batch_size)):
        best_state = _run_epochs(model, s.xs_train, s.xs_val, cfg, s.gen, result)
    # 5. Best weights back, kind-specific report, model on CPU in eval mode.
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():  # a report, not a step: no autograd graph over every training row
        result.model_report = model.training_report(s.xs_train)
    model.to("cpu")
    result.seconds = time.perf_counter() - start
    return result


def _train_members(
    X_train: np.ndarray,
    X_val: np.ndarray,
    kind: str,
    model_options: dict[str, Any] | None,
    cfg: TrainConfig,
    rows: np.ndarray | None,
) -> TrainResult:
    """``cfg.members`` dense models trained one after another on the same rows (seeds ``seed``,
    ``seed + 1``, ...; each with its own early stopping), combined into one
    :class:`~aeexport.models.ensemble.EnsembleAutoencoder` whose score is the mean of the members'
    scores. The history and best epoch are the first member's; ``model_report`` lists every member's.
    """
    from ..models.ensemble import EnsembleAutoencoder

    if kind != "dense":
        raise InvalidInputError(
            f"members={cfg.members} trains copies of a dense model, but the model kind is {kind!r}; "
            "use --model dense, or --members 1 with this kind."
        )
    start = time.perf_counter()
    runs = [
        train_model(
            X_train,
            X_val,
            kind=kind,
            model_options=model_options,
            config=dataclasses.replace(cfg, members=1, seed=cfg.seed + m),
            rows=rows,
        )
        for m in range(cfg.members)
    ]
    model = EnsembleAutoencoder.from_members([r.model for r in runs])
    xs_val = _scaled(model, X_val, torch.device("cpu"))
    first = runs[0]
    return TrainResult(
        model=model,
        train_config=cfg,
        history=first.history,
        epoch_seconds=first.epoch_seconds,
        best_epoch=first.best_epoch,
        best_val_loss=_val_loss(model, xs_val),
        seconds=time.perf_counter() - start,
        device=first.device,
        model_report={
            "members": cfg.members,
            "member_best_epochs": [r.best_epoch for r in runs],
            "member_val_losses": [round(r.best_val_loss, 6) for r in runs],
        },
    )
