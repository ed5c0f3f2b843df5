"""An ensemble of small autoencoders in one model (measured for issue 11; not the default).

``members`` small MLP autoencoders (hidden widths ``hidden``, decoder mirrored) with *varied
bottlenecks* (``latent_dims``, cycled over the members) and optional *feature
bagging* (each member sees and reconstructs a random subset of the features,
RandNet / feature bagging) are trained side by side, each on its own trimmed
reconstruction loss (in every mini-batch a member leaves out the
``trim_fraction`` of rows it reconstructs worst, so anomalies in unlabelled
training data do not pull it towards them). They run as one set of
block-diagonal dense layers, so the ensemble costs a few matrix products like a
single MLP:

- **encoder graph**: raw rows (B, F) -> the concatenated member codes
  (B, sum(latent_dims of the members));
- **decoder graph**: codes -> the mean of the members' reconstructions of each
  feature, in raw units (B, F);
- **scorer graph**: raw rows -> one score per row, higher = more anomalous:

  ``score = mean_m( mean_{f in S_m}( (xs_f - r_mf)^2 / v_mf ) )``

  with ``xs`` the scaled row, ``r_m`` member ``m``'s reconstruction, ``S_m`` its
  features, and ``v_mf`` the member's mean squared error of feature ``f`` on the
  training rows (measured after training, ``normalize="feature"``): an error counts
  relative to how well that member reconstructs that feature on typical rows, and
  every member contributes on the same scale (score standardisation across members).
  ``normalize="member"`` divides by the member's mean training error only,
  ``"none"`` averages the raw member errors.

Measured against the dense tabular default on the 24 shared ODDS/ADBench sets (issue 11,
``benchmarks/results/anomaly_experiments.md``): no configuration of it *trained jointly* beat
the single robust-scaled dense model on both means. Dense models trained separately and put
side by side with :meth:`EnsembleAutoencoder.from_members` (``TrainConfig.members``,
``score="members"``, ``normalize="none"``: the mean of the members' own scores) did, by
+0.001 / +0.008 on the two means with 3 members, at 3x the training time, 2x the batch-1
latency and 1/15 of the throughput (the block-diagonal layers multiply the zero blocks too), so
they are an option (``--members``), not the default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from aeruntime.errors import check_choice

from .base import Autoencoder, make_activation

__all__ = ["ENSEMBLE_SCORE", "NORMALIZE", "EnsembleAutoencoder", "EnsembleConfig"]

#: ``normalize`` choices: how member errors are put on one scale before averaging
NORMALIZE = ("feature", "member", "none")

#: the manifest's ``score`` section of the ensemble scorer
ENSEMBLE_SCORE: dict[str, Any] = {
    "name": "ensemble_mse",
    "definition": "mean over the ensemble members m of the mean over the member's features f of "
    "(xs_f - r_mf)^2 / v_mf: xs the scaled input, r_m member m's reconstruction in scaled space, v_mf the "
    "member's mean squared error of feature f on the training rows (normalize='feature'; 'member': one "
    "v_m per member; 'none': v = 1)",
    "direction": "higher_is_more_anomalous",
    "space": "scaled",
    "output": "score",
    "element_error": "squared",
    "reduction": "normalized mean over members",
    "per_feature": "the decoder's mean reconstruction gives feature_errors(x) = ((x - x_hat) / scale)^2; "
    "their mean approximates, but is not, the ensemble score",
}


@dataclass
class EnsembleConfig:
    n_features: int  # input width (features per row)
    members: int = 8  # number of member autoencoders
    hidden: list[int] = field(default_factory=list)  # hidden widths of every member (decoder mirrors); [] = auto
    latent_dims: list[int] = field(default_factory=list)  # member bottlenecks, cycled over members; [] = auto
    feature_fraction: float = 1.0  # share of the features each member sees (1 = all)
    dropout: float = 0.0  # dropout after the hidden activations (training only)
    activation: str = "relu"  # hidden activation (see ACTIVATIONS)
    trim_fraction: float = 0.2  # per member: share of worst rows left out of each step
    score: str = "mse"  # "mse": of the mean reconstruction; "members" (see doc)
    normalize: str = "feature"  # score="members": "feature", "member" or "none"
    subset_seed: int = 0  # seeds the feature subsets

    def __post_init__(self) -> None:
        self._check_settings()
        self._fill_widths()
        if any(h < 1 for h in self.hidden) or any(v < 1 for v in self.latent_dims):
            raise ValueError(f"widths must be >= 1, got hidden={self.hidden}, latent_dims={self.latent_dims}")

    def _check_settings(self) -> None:
        if self.n_features < 1 or self.members < 1:
            raise ValueError(f"n_features and members must be >= 1, got {self.n_features}, {self.members}")
        check_choice("score", self.score, ["mse", "members"])
        check_choice("normalize", self.normalize, list(NORMALIZE))
        if not 0.0 < self.feature_fraction <= 1.0:
            raise ValueError(f"feature_fraction must be in (0, 1], got {self.feature_fraction}")
        if not 0.0 <= self.trim_fraction < 0.5:
            raise ValueError(f"trim_fraction must be in [0, 0.5), got {self.trim_fraction}")

    def _fill_widths(self) -> None:
        """``hidden`` and ``latent_dims`` as lists of ints, the automatic ones where empty."""
        if isinstance(self.hidden, int):
            self.hidden = [self.hidden]
        if not self.hidden:
            self.hidden = [int(min(64, max(8, 2 * round(math.sqrt(self.n_features * 8)))))]
        self.hidden = [int(h) for h in self.hidden]
        if not self.latent_dims:
            top = max(1, min(16, self.n_features // 2))
            self.latent_dims = sorted({max(1, round(top * f)) for f in (0.125, 0.25, 0.5, 1.0)})
        self.latent_dims = [int(v) for v in self.latent_dims]

    def member_latents(self) -> list[int]:
        return [self.latent_dims[m % len(self.latent_dims)] for m in range(self.members)]


def feature_subsets(n_features: int, members: int, fraction: float, seed: int) -> np.ndarray:
    """0/1 matrix (members, n_features): which features each member sees; every feature is covered."""
    if fraction >= 1.0:
        return np.ones((members, n_features), dtype=np.float32)
    rng = np.random.default_rng(seed)
    k = max(1, min(n_features, round(fraction * n_features)))
    mask = np.zeros((members, n_features), dtype=np.float32)
    for m in range(members):
        mask[m, rng.choice(n_features, size=k, replace=False)] = 1
    for f in np.flatnonzero(mask.sum(0) == 0):  # uncovered features go to the member with the fewest
        mask[int(np.argmin(mask.sum(1))), f] = 1
    return mask


class _BlockLinear(nn.Module):
    """Dense layer whose weight is multiplied by a fixed 0/1 mask (block-diagonal members)."""

    def __init__(self, mask: np.ndarray) -> None:
        super().__init__()
        m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))  # (in, out)
        self.register_buffer("mask", m)
        fan_in = m.sum(0).clamp(min=1)  # (out,) inputs each output unit sees
        bound = 1.0 / torch.sqrt(fan_in)
        self.weight = nn.Parameter((torch.rand(m.shape) * 2 - 1) * bound * m)
        self.bias = nn.Parameter((torch.rand(m.shape[1]) * 2 - 1) * bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ (self.weight * self.mask) + self.bias


def _blocks(sizes_in: list[int], sizes_out: list[int]) -> np.ndarray:
    mask = np.zeros((sum(sizes_in), sum(sizes_out)), dtype=np.float32)
    i = o = 0
    for a, b in zip(sizes_in, sizes_out):
        mask[i : i + a, o : o + b] = 1
        i, o = i + a, o + b
    return mask


def _check_members(members: Sequence[Autoencoder]) -> None:
    """Members of :meth:`EnsembleAutoencoder.from_members`: dense, one architecture, one scaler."""
    first = members[0]
    c = first.config
    for m in members:
        mc = m.config
        same = (mc.n_features, mc.hidden, mc.latent_dim, mc.activation) == (
            c.n_features,
            c.hidden,
            c.latent_dim,
            c.activation,
        )
        if m.kind != "dense" or not same or mc.output_activation != "identity":
            raise ValueError(
                "from_members needs dense members with the same widths and activation and no output "
                f"activation; got {m.kind} {mc} next to {c}"
            )
        if not (torch.equal(m.scaler_mean, first.scaler_mean) and torch.equal(m.scaler_scale, first.scaler_scale)):
            raise ValueError("from_members needs members trained with one scaler (the same training rows)")


@torch.no_grad()
def _copy_member_weights(ens: EnsembleAutoencoder, members: Sequence[Autoencoder]) -> None:
    """Each member's layer weights into its block of the ensemble's block-diagonal layers."""
    # each member's nn.Linear layers in order: encoder then decoder, weight (out, in)
    layers = [[x for x in (*m.encoder, *m.decoder) if isinstance(x, nn.Linear)] for m in members]
    for i, block in enumerate([*ens.enc, *ens.dec]):
        weight = torch.zeros_like(block.weight)  # (in, out), block-diagonal over the members
        row = col = 0
        for lin in (member[i] for member in layers):
            n_out, n_in = lin.weight.shape
            r0 = 0 if i == 0 else row  # the first layer: every member reads all features
            weight[r0 : r0 + n_in, col : col + n_out] = lin.weight.T
            row, col = row + n_in, col + n_out
        block.weight.copy_(weight)
        block.bias.copy_(torch.cat([member[i].bias for member in layers]))


class EnsembleAutoencoder(Autoencoder):
    kind = "ensemble"

    def __init__(self, config: EnsembleConfig, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__(config, input_shape or (config.n_features,))
        F, M, hid = config.n_features, config.members, config.hidden
        lat = config.member_latents()
        sub = feature_subsets(F, M, config.feature_fraction, config.subset_seed)  # (M, F)
        self.register_buffer("subsets", torch.from_numpy(sub))
        # member normalisers (M, F), set after training by training_report; ones while training
        self.register_buffer("error_scale", torch.ones(M, F))
        # encoder: F -> M*h1 (member m sees S_m) -> ... -> sum L; decoder mirrors, each member
        # reconstructing only its features; every layer block-diagonal over the members
        widths = [[w] * M for w in hid]
        enc = [np.repeat(sub.T, hid[0], axis=1)]  # (F, M*h1)
        enc += [_blocks(a, b) for a, b in zip(widths, [*widths[1:], lat])]
        dec = [_blocks(a, b) for a, b in zip([lat, *widths[::-1][:-1]], widths[::-1])]
        dec += [_blocks([hid[0]] * M, [F] * M) * np.tile(sub.reshape(1, -1), (M * hid[0], 1))]
        self.enc = nn.ModuleList(_BlockLinear(m) for m in enc)
        self.dec = nn.ModuleList(_BlockLinear(m) for m in dec)
        self.act = make_activation(config.activation)
        self.drop = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    @classmethod
    @torch.no_grad()
    def from_members(cls, members: Sequence[Autoencoder]) -> EnsembleAutoencoder:
        """Trained dense models (same widths, activation and scaler) side by side in one ensemble.

        The block-diagonal layers hold each member's weights unchanged, so the ensemble's score
        (``score="members"``, ``normalize="none"``) is the mean of the members' mean squared
        errors, its code the members' codes concatenated, its reconstruction their mean.
        """
        first = members[0]
        c = first.config
        _check_members(members)
        config = EnsembleConfig(
            n_features=c.n_features,
            members=len(members),
            hidden=list(c.hidden),
            latent_dims=[c.latent_dim],
            dropout=c.dropout,
            activation=c.activation,
            trim_fraction=0.0,
            score="members",
            normalize="none",
        )
        ens = cls(config, first.input_shape)
        ens.set_scaler(first.scaler_mean, first.scaler_scale)
        _copy_member_weights(ens, members)
        return ens.eval()

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (sum(self.config.member_latents()),)

    def _stack(self, layers: nn.ModuleList, h: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(layers):
            h = layer(h)
            if i < len(layers) - 1:
                h = self.drop(self.act(h))
        return h

    def encode(self, xs: torch.Tensor) -> torch.Tensor:
        return self._stack(self.enc, xs)  # (B, F) -> (B, sum L)

    def members_decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes (B, sum L) -> each member's scaled reconstruction (B, M, F)."""
        r = self._stack(self.dec, z)  # (B, M*F)
        return r.unflatten(1, (self.config.members, self.config.n_features))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        r = self.members_decode(z)  # (B, M, F)
        w = self.subsets / self.subsets.sum(0)  # (M, F): mean over the members that cover a feature
        return torch.sum(r * w, dim=1)

    def member_errors(self, xs: torch.Tensor) -> torch.Tensor:
        """Squared scaled residual of every member (B, M, F), zero outside a member's features."""
        d = xs.unsqueeze(1) - self.members_decode(self.encode(xs))
        return d * d * self.subsets

    def forward(self, xs: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(xs)
        return {"z": z, "x_hat": self.decode(z)}

    def loss(self, xs_in: torch.Tensor, xs_target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Sum over members of each member's trimmed mean squared error on its features."""
        d = xs_target.unsqueeze(1) - self.members_decode(self.encode(xs_in))
        per = torch.sum(d * d * self.subsets, dim=2) / self.subsets.sum(1)  # (B, M)
        keep = max(1, len(per) - int(self.config.trim_fraction * len(per)))
        kept = torch.topk(per, keep, dim=0, largest=False).values  # (keep, M)
        loss = kept.mean(0).sum()
        return loss, {"mse": float(per.detach().mean())}

    def row_error(self, xs: torch.Tensor) -> torch.Tensor:
        """Per-row score (B,), higher = more anomalous: the normalised member errors, averaged."""
        if self.config.score == "mse":
            return super().row_error(xs)
        e = self.member_errors(xs) / self.error_scale  # (B, M, F)
        return torch.mean(torch.sum(e, dim=2) / self.subsets.sum(1), dim=1)

    def is_regularized(self) -> bool:
        return True  # trimmed loss, small members

    def score_definition(self) -> dict[str, Any] | None:
        return ENSEMBLE_SCORE if self.config.score == "members" else None

    @torch.no_grad()
    def fit_normalizers(self, xs_train: torch.Tensor) -> None:
        """Set the member normalisers from the training rows (B, F), in eval mode."""
        was = self.training
        self.eval()
        e = torch.cat([self.member_errors(xs_train[i : i + 4096]) for i in range(0, len(xs_train), 4096)])
        mode = self.config.normalize
        if mode == "none":
            scale = torch.ones_like(self.error_scale)
        elif mode == "member":
            per = e.sum(2) / self.subsets.sum(1)  # (B, M)
            scale = per.mean(0).clamp(min=1e-6).unsqueeze(1).expand_as(self.error_scale)
        else:
            scale = e.mean(0)  # (M, F)
            floor = 1e-3 * torch.ones_like(scale)
            scale = torch.where(self.subsets > 0, torch.maximum(scale, floor), torch.ones_like(scale))
        self.error_scale.copy_(scale)
        self.train(was)

    def training_report(self, xs_train: torch.Tensor) -> dict[str, Any]:
        """Called by training with the best weights: fits the normalisers, reports their spread."""
        self.error_scale.fill_(1.0)
        self.fit_normalizers(xs_train)
        return {
            "members": self.config.members,
            "latent_dims": self.config.member_latents(),
            "normalize": self.config.normalize,
        }
