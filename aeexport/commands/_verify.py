"""``aeexport verify``: re-measure a bundle's parity and golden vectors."""

from __future__ import annotations

from typing import Any

import click

from ._common import echo_result, read_labelled
from ._options import json_option, label_options


@click.command("verify")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--data",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Real rows (.npy/.npz/.csv) to test on; default: rows drawn from the scaler statistics.",
)
@click.option("--atol", type=float, default=None, help="Absolute tolerance (default: the bundle's).")
@click.option("--rtol", type=float, default=None, help="Relative tolerance (default: the bundle's).")
@click.option(
    "--parent",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Variant bundles: the fp32 parent (default: the path recorded in the manifest).",
)
@label_options("--data")
@json_option("Print the report as JSON.")
def verify_command(
    bundle: str,
    data: str | None,
    atol: float | None,
    rtol: float | None,
    parent: str | None,
    label_column: str | None,
    anomaly_class: int | None,
    header: bool | None,
    as_json: bool,
) -> None:
    """Re-measure BUNDLE's parity (torch vs onnxruntime) and golden vectors; exit 1 on a violation.

    For a variant bundle (int8, fp16, ORT format): decision-level parity against its parent
    at the tolerance stated in its manifest.
    """
    from aeruntime.format import read_manifest

    if "variant" in read_manifest(bundle):
        X, y = read_labelled(data, label_column, anomaly_class, header)
        _verify_variant(bundle, parent, X, y, data, as_json)
        return
    X, _ = read_labelled(data, label_column, anomaly_class, header)  # the label column is dropped, not scored
    _verify_full(bundle, X, atol, rtol, as_json)


def _verify_variant(bundle: str, parent: str | None, X: Any, y: Any, data: str | None, as_json: bool) -> None:
    from ..variants import format_decision_table, verify_variant

    report = verify_variant(bundle, parent=parent, X=X, y=y, data_source=data)
    echo_result(as_json, report, format_decision_table(report))
    if not report["ok"]:
        click.echo("Error: the variant breaks its stated decision-level tolerance against its parent.", err=True)
        raise SystemExit(1)


def _verify_full(bundle: str, X: Any, atol: float | None, rtol: float | None, as_json: bool) -> None:
    from ..export import format_table, verify_bundle
    from ..settings import Tolerance

    tol = None
    if atol is not None or rtol is not None:
        tol = Tolerance(**{k: v for k, v in (("atol", atol), ("rtol", rtol)) if v is not None})
    report = verify_bundle(bundle, X=X, tol=tol)
    echo_result(as_json, report, format_table(report))
    if report.get("torch_parity") == "skipped":  # a slim bundle (no weights): torch parity needs the full bundle
        click.echo(f"Note: {report['note']}.", err=True)
    if not report["ok"]:
        click.echo("Error: parity violation: onnxruntime differs from torch beyond the tolerance.", err=True)
        raise SystemExit(1)
