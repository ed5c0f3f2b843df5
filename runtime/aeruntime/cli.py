"""``aeruntime``: score and inspect bundles from the command line (no torch)."""

from __future__ import annotations

import sys

import click
import numpy as np

from .clibase import AeGroup, echo_json

_PROVIDERS = ["auto", "cpu", "cuda"]


@click.group(cls=AeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="aeruntime")
def main(debug: bool) -> None:
    """Run aeexport bundles: anomaly scores and labels, on CPU or CUDA."""


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.argument("input", type=click.Path(dir_okay=False, exists=True))
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Write scores and labels to .npy (structured), .npz or .csv; default: CSV on stdout.")
@click.option("--providers", type=click.Choice(_PROVIDERS), default="auto", show_default=True)
@click.option("--threshold", type=float, default=None, help="Override the bundle's calibrated threshold.")
@click.option("--batch-size", type=click.IntRange(min=1), default=65536, show_default=True,
              help="Rows scored per onnxruntime call.")
@click.option("--label-column", default=None, help="CSV input: a label column to drop before scoring.")
def score(bundle: str, input: str, out: str | None, providers: str, threshold: float | None,
          batch_size: int, label_column: str | None) -> None:
    """Score INPUT (.npy, .npz, .csv) with BUNDLE: higher = more anomalous; label 1 = anomaly."""
    from .io import check_output_path, read_table, write_scores
    from .model import load

    check_output_path(out)  # fail before any work is done
    model = load(bundle, providers=providers, threshold=threshold)
    X, _ = read_table(input, label_column=label_column, mmap=True)
    n = len(X)
    scores = np.empty(n, dtype=np.float32)
    for start in range(0, n, batch_size):
        scores[start : start + batch_size] = model.score(X[start : start + batch_size])
    if n == 0:
        model.score(X)  # raises the typed empty-input error
    labels = (scores > model.threshold).astype(np.int8)
    text = write_scores(out, scores, labels)
    if text is not None:
        sys.stdout.write(text)
    else:
        click.echo(
            f"scored {n} rows -> {out} (threshold {model.threshold:.6g}, "
            f"{int(labels.sum())} anomalies, {labels.mean():.1%})",
            err=True,
        )


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def info(bundle: str, as_json: bool) -> None:
    """Describe BUNDLE: kind, shapes, score, threshold, providers."""
    from .model import load

    summary = load(bundle, providers="cpu").info()
    if as_json:
        echo_json(summary)
        return
    width = max(map(len, summary))
    for key, value in summary.items():
        click.echo(f"{key:<{width}}  {value}")


if __name__ == "__main__":  # pragma: no cover
    main()
