"""``aeexport report``: a self-contained HTML report (model card) of a bundle."""

from __future__ import annotations

import click

from aeruntime.clibase import echo_json
from aeruntime.fs import FILE_RULE

from ._options import json_option, label_options, providers_option


@click.command("report")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.argument("data", required=False, default=None)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help=f"HTML file to write ({FILE_RULE}).")
@label_options("DATA")
@click.option(
    "--parent",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Variant bundles: the fp32 parent (default: the path recorded in the manifest).",
)
@providers_option
@json_option("Print what was written (sections, figures) as JSON.")
def report_command(
    bundle: str,
    data: str | None,
    out: str,
    label_column: str | None,
    anomaly_class: int | None,
    header: bool | None,
    parent: str | None,
    providers: str,
    as_json: bool,
) -> None:
    """Write a self-contained HTML report (model card) of BUNDLE, measured on DATA when given.

    DATA: 'digits' or a .npy/.npz/.csv file (labels: npz 'y' or --label-column, 1 = anomaly).
    Without DATA the report shows what the manifest records.
    """
    from aeruntime.fs import check_output_file

    from ..report import write_report

    check_output_file(out, inputs=[bundle, data])
    r = write_report(
        bundle,
        out,
        data,
        label_column=label_column,
        anomaly_class=anomaly_class,
        parent=parent,
        providers=providers,
        header=header,
    )
    if as_json:
        echo_json(r)
        return
    click.echo(
        f"wrote {r['out']} ({r['bytes'] / 1024:.0f} KiB): {len(r['sections'])} sections, {len(r['figures'])} figures"
    )
    for s in r["skipped"]:
        click.echo(f"left out   {s['section']} (needs {s['needs']})")
