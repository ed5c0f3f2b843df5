"""``aeruntime``: score and inspect bundles from the command line (no torch)."""

from __future__ import annotations

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
@click.option("--threads", type=click.IntRange(min=1), default=None, help="onnxruntime intra-op threads.")
@click.option("--providers", type=click.Choice(_PROVIDERS), default="auto", show_default=True)
@click.option("--threshold", type=float, default=None, help="Override the bundle's calibrated threshold.")
@click.option("--batch-size", type=click.IntRange(min=1), default=65536, show_default=True,
              help="Rows scored per onnxruntime call.")
@click.option("--label-column", default=None, help="CSV input: a label column to drop before scoring.")
def score(bundle: str, input: str, out: str | None, providers: str, threshold: float | None,
          batch_size: int, label_column: str | None, threads: int | None) -> None:
    """Score INPUT (.npy, .npz, .csv, .parquet) with BUNDLE: higher = more anomalous; label 1 = anomaly.

    The input is read and the output written in chunks of --batch-size rows, so memory
    stays flat however large INPUT is; a progress bar shows on a terminal.
    """
    from .io import check_output_path
    from .model import load
    from .errors import InvalidInputError
    from .stream import open_sink, open_source, progress

    check_output_path(out)  # fail before any work is done
    model = load(bundle, providers=providers, threshold=threshold, threads=threads)
    source = open_source(input, batch_size, label_column=label_column, row_shape=model.input_shape)
    thr = model.threshold
    with open_sink(out) as sink, progress(source.total, source.unit) as bar:
        for chunk, step in source:
            if len(chunk):
                try:
                    scores = model.score(chunk)
                except InvalidInputError as exc:  # say where in the file the bad chunk starts
                    raise InvalidInputError(f"{input}, chunk starting at row {sink.rows}: {exc}") from None
                sink.write(scores, (scores > thr).astype(np.int8))
            bar.update(step)
        if sink.rows == 0:
            model.score(np.empty((0, *model.input_shape), np.float32))  # raises the typed empty-input error
    if out is not None:
        n = sink.rows
        click.echo(
            f"scored {n} rows -> {out} (threshold {thr:.6g}, "
            f"{sink.anomalies} anomalies, {sink.anomalies / n:.1%})",
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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def doctor(as_json: bool) -> None:
    """Show the onnxruntime build, available vs usable providers, and whether CUDA/cuDNN load."""
    from .doctor import doctor_report, format_doctor

    report = doctor_report()
    if as_json:
        echo_json(report)
    else:
        click.echo(format_doctor(report))


# --- spark (issue 12): `aeruntime spark score ...`, implemented in spark_cli.py ---
from .spark_cli import spark as _spark_group  # noqa: E402

main.add_command(_spark_group)
# --- end spark ---


if __name__ == "__main__":  # pragma: no cover
    main()
