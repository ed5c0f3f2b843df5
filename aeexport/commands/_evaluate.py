"""``aeexport evaluate``: detection figures of a bundle on labelled data."""

from __future__ import annotations

import click

from aeruntime.clibase import echo_json

from ._options import json_option, label_options, plot_option, providers_option


@click.command("evaluate")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.argument("data", type=click.Path(dir_okay=False, exists=True))
@label_options("DATA")
@click.option("--threshold", type=float, default=None, help="Override the bundle's stored threshold.")
@plot_option("Write a PNG: score histograms (normal vs anomalous, threshold line) and the ROC curve.")
@providers_option
@json_option("Print the report as JSON.")
def evaluate_command(
    bundle: str,
    data: str,
    label_column: str | None,
    anomaly_class: int | None,
    header: bool | None,
    threshold: float | None,
    plot: str | None,
    providers: str,
    as_json: bool,
) -> None:
    """Score labelled DATA (.npz with X, y or .csv with --label-column) with BUNDLE through aeruntime and
    report ROC-AUC, average precision and precision / recall / F1 at the threshold.

    A series bundle: DATA is a series with a per-step label column (--label-column) or an .npz with
    X_test and y_test; per-step AUC-PR, AUC-ROC and VUS-PR (TSB-AD) and event figures (ranges caught,
    delay to the first alarm, false alarms per 10,000 normal steps), warm-up steps excluded; an .npz with
    X_train before X_test: its last W-1 rows are prepended as context, so no test step is warm-up."""
    from aeruntime.fs import check_output_file

    from ..report import evaluate_bundle, format_report, format_series_report, plot_evaluation

    if plot:
        check_output_file(plot, option="--plot", inputs=[bundle, data])  # before any work
    report, scores, y = evaluate_bundle(
        bundle,
        data,
        label_column=label_column,
        threshold=threshold,
        providers=providers,
        anomaly_class=anomaly_class,
        header=header,
    )
    if plot:
        scored = scores == scores  # a series' warm-up steps have no score (NaN)
        report["plot"] = str(
            plot_evaluation(scores[scored], y[scored], report["threshold"], plot, f"{bundle} on {data}", [bundle, data])
        )
    if as_json:
        echo_json(report)
        return
    click.echo(format_series_report(report) if report.get("series") else format_report(report))
    if plot:
        click.echo(f"plot       {plot}")
