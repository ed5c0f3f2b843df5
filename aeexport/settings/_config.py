"""Training settings and choice lists, importable without torch: the CLI reads its choices and defaults here.

:class:`TrainConfig` is the one place a training default is written down;
``aeexport train|run`` options are derived from its fields' :func:`flag` metadata.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from aeruntime.errors import InvalidInputError, check_choice

from ..data import SCALERS

__all__ = [
    "AUTO_THREADS_BATCH",
    "DEVICES",
    "LR_SCHEDULES",
    "PLATEAU_FACTOR",
    "PLATEAU_PATIENCE",
    "STOP_RULES",
    "TrainConfig",
    "default",
    "flag",
]

#: ``--device`` choices: "auto" takes CUDA when torch sees it
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
#: ``--lr-schedule`` choices: "none" keeps ``lr``; "plateau" is torch's ReduceLROnPlateau on the validation
#: loss (factor :data:`PLATEAU_FACTOR`, patience :data:`PLATEAU_PATIENCE`, threshold ``min_delta``, relative)
LR_SCHEDULES: tuple[str, ...] = ("none", "plateau")
#: ``--stop-rule`` choices (:mod:`aeexport.train`): "val" early-stops on the validation rows' mean score,
#: "entropy" on the entropy of the training rows' per-row errors (EntropyStop)
STOP_RULES: tuple[str, ...] = ("val", "entropy")
#: ``threads=-1`` (auto) uses torch's threads for batches of at least this many rows, else 1 (small data unchanged)
AUTO_THREADS_BATCH = 1 << 14
#: the plateau schedule multiplies the learning rate by this ...
PLATEAU_FACTOR = 0.5
#: ... after this many epochs without a relative validation improvement of ``min_delta``
PLATEAU_PATIENCE = 5


def flag(
    help: str | None = None,
    *,
    low: float | None = None,
    high: float | None = None,
    exclusive: bool = False,
    choices: Any = None,
    decls: tuple[str, ...] = (),
    negate: bool = False,
    after: str | None = None,
) -> dict[str, Any]:
    """``field(metadata=...)`` that makes a :class:`TrainConfig` field an ``aeexport train|run`` option.

    :func:`aeexport.commands.train_options` builds the click option from it: ``--<field-name>``
    (or ``decls``), the type of the default, bounded by ``low``/``high`` (excluded with ``exclusive``)
    or one of ``choices``, the field's default shown. ``negate``: a flag that sets the field to
    False (``--quiet`` for ``progress``). ``after``: the option it follows in ``--help``
    (default: the fields' order, before the model options).
    """
    spec = {
        "help": help,
        "low": low,
        "high": high,
        "exclusive": exclusive,
        "decls": decls,
        "negate": negate,
        "after": after,
    }
    return {"flag": {**spec, "choices": None if choices is None else list(choices)}}


@dataclass
class TrainConfig:
    """Training settings; a field with :func:`flag` metadata is also an ``aeexport train|run`` option."""

    epochs: int = field(default=300, metadata=flag("Upper bound; early stopping usually ends sooner.", low=1))
    batch_size: int = field(default=64, metadata=flag(low=1))  # rows per Adam step
    lr: float = field(default=1e-3, metadata=flag(low=0, exclusive=True))  # Adam learning rate
    weight_decay: float = 0.0  # Adam's L2 penalty on the weights
    patience: int = field(default=20, metadata=flag(low=1))  # epochs without validation improvement before stopping
    min_delta: float = 1e-4  # relative improvement of the stopping criterion that counts as better
    stop_rule: str = field(
        default="val",
        metadata=flag(
            "What early stopping watches: val, the validation rows' mean score; entropy, the entropy of the "
            "training rows' per-row errors (EntropyStop: needs no clean validation rows).",
            choices=STOP_RULES,
            after="patience",
        ),
    )
    lr_schedule: str = field(
        default="none",
        metadata=flag(
            f"plateau: multiply the learning rate by {PLATEAU_FACTOR:g} after {PLATEAU_PATIENCE} epochs without "
            "a validation improvement (torch's ReduceLROnPlateau; the image preset's).",
            choices=LR_SCHEDULES,
            after="lr",
        ),
    )
    val_fraction: float = field(
        default=0.15,
        metadata=flag(
            "Share of (normal) rows held out for early stopping and the threshold.", low=0, high=1, exclusive=True
        ),
    )
    seed: int = field(default=0, metadata=flag())  # seeds the split, the init and the shuffling
    device: str = field(default="auto", metadata=flag(choices=DEVICES))  # "auto": cuda if available
    scaler: str = field(
        default="standard",
        metadata=flag(
            "minmax scales to [0, 1] and uses a sigmoid output; robust: median / IQR (the tabular preset's).",
            choices=SCALERS,
        ),
    )  # "standard" (z-score), "minmax", "robust" (median / IQR, std on dispersed features: the tabular
    # default; aeexport.data.robust_scaler), "robust-iqr" (median / IQR only) or "none"
    progress: bool = field(
        default=True, metadata=flag("No progress bar.", decls=("--quiet", "-q"), negate=True, after="threads")
    )  # tqdm progress bar on stderr
    threads: int = field(
        default=-1,
        metadata=flag(
            "torch threads while training (0 = torch's default; -1 = auto: 1, fastest for small models, "
            f"unless batches have {AUTO_THREADS_BATCH} rows or more, then torch's default).",
            low=-1,
            after="preset",
        ),
    )  # 1 is fastest for small models (per-step overhead dominates) and immune to oversubscription; large
    # batches (the tabular preset's n/40 on big data) are matrix products worth the cores (issue 21)
    trim_fraction: float = 0.0  # robust training: share of the highest-loss rows of each batch left out of the step
    # (plain reconstruction loss only; kinds with their own loss refuse it)
    batch_growth: float = 1.0  # the batch size is multiplied by this after every epoch (ALTBI-style growing
    # batches, capped at the training rows); 1.0 keeps it fixed
    max_rows: int = field(
        default=0,
        metadata=flag(
            "Train on a seeded uniform sample of at most this many rows, drawn in one streaming pass "
            "(reservoir; stratified by label when labelled; memory bounded by the sample). 0 = every row.",
            low=0,
            after="seed",
        ),
    )  # no default cap: without it every row is read (and must fit in memory, ~2x the float32 rows)
    members: int = field(
        default=1,
        metadata=flag(
            "Dense models trained with seeds seed, seed+1, ... and scored by the mean of their scores, "
            "in one ensemble graph (more accurate, slower to train and score).",
            low=1,
            after="seed",
        ),
    )  # trained one after another on the same rows (variance of the init averaged out)

    def __post_init__(self) -> None:
        check_choice("scaler", self.scaler, sorted(SCALERS))
        check_choice("lr_schedule", self.lr_schedule, list(LR_SCHEDULES))
        check_choice("device", self.device, list(DEVICES))
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1 or self.members < 1:
            raise InvalidInputError("epochs, batch_size, patience and members must be >= 1.")
        check_choice("stop_rule", self.stop_rule, list(STOP_RULES))
        if self.batch_growth < 1.0:
            raise InvalidInputError(f"batch_growth must be >= 1 (1 keeps the batch size), got {self.batch_growth}.")
        if not 0.0 <= self.trim_fraction < 0.5:
            raise InvalidInputError(f"trim_fraction must be in [0, 0.5), got {self.trim_fraction}.")
        if not 0.0 < self.val_fraction < 1.0:
            raise InvalidInputError(f"val_fraction must be in (0, 1), got {self.val_fraction}.")
        if self.max_rows == 1:  # the sample, not the data file, would have too few rows
            raise InvalidInputError(
                "max_rows (--max-rows) 1 samples one row, and training needs at least 2; pass --max-rows 2 or "
                "more, or 0 to train on every row."
            )


def default(name: str) -> Any:
    """The :class:`TrainConfig` default of field ``name`` (for click option defaults)."""
    return {f.name: f.default for f in dataclasses.fields(TrainConfig)}[name]
