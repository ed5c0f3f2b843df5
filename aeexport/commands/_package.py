"""``aeexport package``: a bundle as an MLflow model or a Triton/KServe model repository."""

from __future__ import annotations

import click

from ._common import echo_result
from ._options import json_option, out_dir_option


@click.command("package")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mlflow", "triton"]),
    required=True,
    help="mlflow: an MLflow model directory (pyfunc, loaded by aeruntime); triton: a Triton/KServe model repository.",
)
@out_dir_option("Package directory", "a package")
@click.option(
    "--name", default=None, help="Model name in the Triton repository (default: the bundle's directory name)."
)
@click.option(
    "--max-batch-size", type=click.IntRange(min=1), default=1024, show_default=True, help="Triton: rows per batch."
)
@json_option("Print what was written as JSON.")
def package_command(bundle: str, fmt: str, out: str, name: str | None, max_batch_size: int, as_json: bool) -> None:
    """Package BUNDLE for a model registry or server: --format mlflow or triton, written to --out.

    The bundle is loaded with aeruntime first (hashes, graph checks). mlflow: `mlflow.pyfunc.load_model(OUT)`
    scores with aeruntime (no pickle). triton: OUT is a model repository for Triton or a KServe
    InferenceService (OUT/NAME/config.pbtxt, OUT/NAME/1/model.onnx).
    """
    from ..packaging import package_bundle

    pkg = package_bundle(bundle, fmt, out, name=name, max_batch_size=max_batch_size)
    hint = (
        f"load it with: mlflow.pyfunc.load_model({out!r})"
        if fmt == "mlflow"
        else f"serve it with: tritonserver --model-repository {out}"
    )
    echo_result(as_json, pkg.to_dict(), f"wrote {fmt} package {pkg.name} -> {out} ({len(pkg.files)} files)", hint)
