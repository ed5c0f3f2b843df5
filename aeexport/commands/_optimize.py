"""``aeexport optimize``: a bundle in onnxruntime's ORT format."""

from __future__ import annotations

from typing import Any

import click

from ._common import write_variant
from ._options import variant_options


@click.command("optimize")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option("--ort-format", is_flag=True, help="onnxruntime's ORT format + required_operators.config.")
@variant_options
def optimize_command(bundle: str, ort_format: bool, **kw: Any) -> None:
    """Write BUNDLE in onnxruntime's ORT format (minimal/mobile builds) as a variant bundle."""
    if not ort_format:
        raise click.UsageError("pass --ort-format (the only optimization offered so far).")
    write_variant(bundle, "ort", **kw)
