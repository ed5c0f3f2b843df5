"""``aeexport compare-pca``: a bundle's reconstruction against PCA with as many components."""

from __future__ import annotations

import click

from ._common import echo_result
from ._options import json_option, label_options, providers_option


@click.command("compare-pca")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.argument("data")
@label_options("DATA", "the anomaly class (PCA and the AE are compared on normal rows)")
@click.option(
    "--holdout-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of DATA held out when the bundle's own split cannot be reproduced.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds that split and PCA.")
@providers_option
@json_option("Print the comparison as JSON.")
def compare_pca_command(
    bundle: str,
    data: str,
    label_column: str | None,
    anomaly_class: int | None,
    header: bool | None,
    holdout_fraction: float,
    seed: int,
    providers: str,
    as_json: bool,
) -> None:
    """Reconstruction error and explained variance of BUNDLE vs PCA with as many components, on DATA.

    PCA is fitted on the training rows (the bundle's own split when DATA is the data it was
    trained on, e.g. 'digits'; else a seeded split of DATA) in the bundle's scaled space; both
    reconstruct the held-out normal rows.
    """
    from ..report import compare_pca_bundle, format_comparison

    r = compare_pca_bundle(
        bundle,
        data,
        label_column=label_column,
        anomaly_class=anomaly_class,
        holdout_fraction=holdout_fraction,
        seed=seed,
        providers=providers,
        header=header,
    )
    echo_result(as_json, r, format_comparison(r))
