"""``aeexport export``: a checkpoint as a bundle."""

from __future__ import annotations

from typing import Any

import click

from ._common import echo_result, threshold_text
from ._options import json_option, out_dir_option, target_onnxruntime_option, threshold_options, verbose_option


@click.command("export")
@click.argument("checkpoint", type=click.Path(file_okay=False, exists=True))
@out_dir_option("Bundle directory", "a bundle")
@threshold_options
@verbose_option
@json_option("Print the parity report as JSON.")
@click.option("--slim", is_flag=True, help="Runtime-only bundle: no weights.safetensors, no golden vectors.")
@target_onnxruntime_option
def export_command(
    checkpoint: str,
    out: str,
    threshold_spec: Any,
    verbose: bool,
    as_json: bool,
    slim: bool,
    target_onnxruntime: str | None,
) -> None:
    """Export CHECKPOINT as a bundle: encoder/decoder/scorer ONNX, manifest, golden vectors."""
    from aeruntime.fs import check_output_dir

    check_output_dir(out, "bundle", inputs=[checkpoint])  # before any work
    from ..data import warn_if_few_calibration_rows
    from ..export import export_bundle, format_table
    from ..settings import ExportOptions
    from ..train import load_checkpoint

    model, config, holdout = load_checkpoint(checkpoint)
    if len(holdout) == 0:
        raise click.UsageError("the checkpoint holds no held-out rows to calibrate the threshold on; re-train it.")
    if threshold_spec.value is None:
        warn_if_few_calibration_rows(len(holdout))
    dataset = config.get("dataset") or {}
    threshold_spec = threshold_spec.or_percentile(dataset.get("threshold_percentile"))  # the training preset's
    manifest = export_bundle(
        model,
        out,
        calibration_x=holdout,
        threshold_spec=threshold_spec,
        options=ExportOptions(verbose=verbose, slim=slim, target_onnxruntime=target_onnxruntime),
        training=config.get("training"),
        dataset=dataset,
    )
    echo_result(
        as_json,
        manifest["parity"],
        format_table(manifest["parity"]),
        f"exported {manifest['model']['kind']} bundle -> {out} (threshold {threshold_text(manifest['threshold'])})",
    )
