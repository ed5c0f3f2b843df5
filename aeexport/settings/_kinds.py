"""The model kinds, one table: kind -> where its config and module live, its input rank, one line of help.

Torch-free, so the CLI reads its ``--model`` choices (:data:`MODEL_KINDS`) without importing
torch; :data:`aeexport.models.REGISTRY` is built from this table. A new kind is one entry here
(and its module under :mod:`aeexport.models`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "MODEL_KINDS", "SERIES_KIND", "Kind"]


@dataclass(frozen=True)
class Kind:
    module: str  # submodule of aeexport.models
    config: str  # name of its config dataclass
    model: str  # name of its nn.Module
    input_rank: int  # 1 = rows of features, 2 = (W, C) windows of a series, 3 = (C, H, W) images
    description: str  # one line for --help and `inspect`
    config_from_shape: str = ""  # name of the (shape, overrides) -> config builder; "" = n_features from the shape


#: kind (the registry key, stored in the manifest) -> where it lives, in ``--help`` order
KINDS: dict[str, Kind] = {
    "dense": Kind("dense", "DenseConfig", "DenseAutoencoder", 1, "MLP autoencoder for rows of features"),
    "conv": Kind(
        "conv",
        "ConvConfig",
        "ConvAutoencoder",
        3,
        "convolutional autoencoder for (C, H, W) images",
        "conv_config_from_shape",
    ),
    "sparse": Kind(
        "sparse",
        "SparseConfig",
        "SparseAutoencoder",
        1,
        "MLP autoencoder with an L1 or KL sparsity penalty on the code",
    ),
    "denoising": Kind(
        "denoising",
        "DenoisingConfig",
        "DenoisingAutoencoder",
        1,
        "MLP autoencoder trained to undo gaussian / masking / salt-and-pepper noise",
    ),
    "vae": Kind(
        "vae",
        "VAEConfig",
        "VariationalAutoencoder",
        1,
        "variational autoencoder (encoder -> mu, logvar); deterministic scores",
    ),
    "ensemble": Kind(
        "ensemble",
        "EnsembleConfig",
        "EnsembleAutoencoder",
        1,
        "ensemble of small MLP autoencoders in one graph (block-diagonal layers)",
    ),
    "series-dense": Kind(
        "series",
        "SeriesConfig",
        "SeriesDenseAutoencoder",
        2,
        "series (--window): dense autoencoder over the flattened (W, C) window",
        "series_config_from_shape",
    ),
    "series-tcn": Kind(
        "series",
        "SeriesTCNConfig",
        "SeriesTCNAutoencoder",
        2,
        "series (--window): temporal convolution (Conv1d over time) autoencoder",
        "tcn_config_from_shape",
    ),
}

#: the kind of ``--window`` runs when ``--model`` is not given: the winner of the cross-check through the shipped
#: training path (benchmarks/results/series.md: chosen on one half of the shared series, confirmed on the other)
SERIES_KIND = "series-tcn"

#: ``--model`` choices
MODEL_KINDS: tuple[str, ...] = tuple(KINDS)
