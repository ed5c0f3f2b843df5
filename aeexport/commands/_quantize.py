"""``aeexport quantize``: an int8 or fp16 variant of a bundle."""

from __future__ import annotations

from typing import Any

import click

from ._common import write_variant
from ._options import target_onnxruntime_option, variant_options


@click.command("quantize")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--int8",
    "int8",
    type=click.Choice(["dynamic", "static"]),
    default=None,
    help="int8 weights; static = QDQ with activation ranges calibrated on rows.",
)
@click.option("--fp16", is_flag=True, help="float16 weights and arithmetic, float32 inputs/outputs.")
@variant_options
@target_onnxruntime_option
def quantize_command(bundle: str, int8: str | None, fp16: bool, **kw: Any) -> None:
    """Write a reduced-precision variant of BUNDLE with its decision-level parity report."""
    if (int8 is None) == (not fp16):
        raise click.UsageError("pass exactly one of --int8 dynamic|static or --fp16.")
    write_variant(bundle, f"int8-{int8}" if int8 else "fp16", **kw)
