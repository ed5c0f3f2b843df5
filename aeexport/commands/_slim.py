"""``aeexport slim``: a runtime-only copy of a bundle."""

from __future__ import annotations

import click

from ._common import echo_result
from ._options import json_option, out_dir_option


@click.command("slim")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@out_dir_option("Slim bundle directory", "a bundle")
@click.option("--keep-golden", is_flag=True, help="Keep the golden vectors (test_data/).")
@json_option("Print the slim bundle's manifest as JSON.")
def slim_command(bundle: str, out: str, keep_golden: bool, as_json: bool) -> None:
    """Write a runtime-only copy of BUNDLE (no weights.safetensors; golden vectors optional)."""
    from ..export import slim_bundle

    m = slim_bundle(bundle, out, keep_golden=keep_golden)
    echo_result(
        as_json, m, f"wrote slim bundle -> {out} ({len(m['files'])} files; left out: {', '.join(m['omitted'])})"
    )
