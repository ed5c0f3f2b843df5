"""Early-stopping rules of ``TrainConfig.stop_rule``, one registry: name -> the epoch's stopping criterion.

After every epoch the training loop evaluates the rule's criterion and keeps the weights of the
epoch where it was lowest; training stops after ``patience`` epochs without a relative improvement
of ``min_delta`` (the same patience logic for every rule, :func:`aeexport.train._run_epochs`).

- ``val``: the mean anomaly score of the held-out validation rows. On unlabelled, contaminated
  data those rows contain anomalies too, so the rule keeps training while the model still
  learns to reconstruct them.
- ``entropy``: the entropy of the per-row reconstruction errors of the *training* rows
  (EntropyStop, Huang et al., KDD 2024). While the model learns the bulk of the data, the errors
  concentrate on the rows it cannot reconstruct (mostly the anomalies) and the entropy falls;
  when it starts to reconstruct the anomalies as well, the errors even out and the entropy stops
  falling. Label-free, and independent of whether the validation rows are clean.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..models import Autoencoder

__all__ = ["STOP_CRITERIA", "loss_entropy", "stop_criterion"]


@torch.no_grad()
def loss_entropy(errors: torch.Tensor) -> float:
    """Shannon entropy (nats) of the per-row errors ``errors`` (n_rows,) normalised to sum to one.

    Ranges from 0 (one row holds all the error) to ``log(n_rows)`` (all rows equal).
    """
    e = errors.double().clamp_min(0)
    total = e.sum()
    if total <= 0:
        return float(torch.log(torch.tensor(float(len(e)))))
    p = e / total
    return float(-(p * torch.log(p.clamp_min(1e-300))).sum())


@torch.no_grad()
def _val(model: Autoencoder, xs_train: torch.Tensor, xs_val: torch.Tensor) -> float:
    model.eval()
    return float(model.row_error(xs_val).mean())


@torch.no_grad()
def _entropy(model: Autoencoder, xs_train: torch.Tensor, xs_val: torch.Tensor) -> float:
    model.eval()
    return loss_entropy(model.row_error(xs_train))


#: rule name -> (model, scaled training rows (n_train, ...), scaled validation rows (n_val, ...)) -> criterion,
#: lower is better; the names are ``aeexport.settings.STOP_RULES``
STOP_CRITERIA: dict[str, Callable[[Autoencoder, torch.Tensor, torch.Tensor], float]] = {
    "val": _val,
    "entropy": _entropy,
}


def stop_criterion(rule: str, model: Autoencoder, xs_train: torch.Tensor, xs_val: torch.Tensor) -> float:
    """The criterion of ``rule`` for ``model`` after an epoch (lower is better)."""
    return STOP_CRITERIA[rule](model, xs_train, xs_val)
