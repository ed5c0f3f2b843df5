"""``aeruntime``: score and inspect bundles from the command line (no torch).

``python -m aeruntime`` and ``python -m aeruntime.cli`` run the same commands.
"""

from __future__ import annotations

from typing import Any

import click

from .clibase import AeGroup, echo_json, header_option, json_option, option_group, providers_option, threads_option
from .fs.outputs import FILE_RULE
from .serve.cli import serve_command
from .spark.cli import spark as spark_group
from .verify import verify as verify_command


def _stream_options(out_help: str, batch_help: str = "Rows per onnxruntime call; memory stays flat.") -> Any:
    """Options of every streaming command (score, encode, decode, reconstruct): one definition."""
    return option_group(
        click.argument("bundle", type=click.Path(file_okay=False, exists=True)),
        click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help=f"{out_help} ({FILE_RULE})."),
        threads_option(),
        providers_option(),
        click.option("--batch-size", type=click.IntRange(min=1), default=65536, show_default=True, help=batch_help),
        click.option(
            "--label-column", default=None, help="CSV/Parquet input: a label column to skip (an error for .npy/.npz)."
        ),
        click.option(
            "--id-column",
            "id_columns",
            multiple=True,
            help="CSV/Parquet input: a column copied to the (table) output; repeatable.",
        ),
        header_option(),
    )


@click.group(cls=AeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="aeruntime")
def main(debug: bool) -> None:
    """Run aeexport bundles: anomaly scores and labels, on CPU or CUDA."""


@main.command()
@_stream_options(
    "Write scores and labels to .npy (structured), .npz, .csv or .parquet; default: CSV on stdout",
    "Rows scored per onnxruntime call.",
)
@click.argument("input", type=click.Path(dir_okay=False, exists=True))
@click.option("--threshold", type=float, default=None, help="Override the bundle's calibrated threshold.")
@click.option(
    "--time-column",
    default=None,
    help="Series bundles, CSV/Parquet input: a time column whose stamps must strictly increase (default: the "
    "bundle's recorded time column, when the file has it); irregular gaps give a warning.",
)
@click.option(
    "--fpr",
    type=float,
    default=None,
    help="Label the rows whose p-value is <= FPR: the threshold at that false-positive rate of the calibration "
    "scores (bundles whose scorer outputs p_value).",
)
@click.option(
    "--fdr",
    type=float,
    default=None,
    help="Label each chunk of --batch-size rows by Benjamini-Hochberg at this false-discovery rate (bundles "
    "whose scorer outputs p_value).",
)
def score(
    bundle: str,
    input: str,
    out: str | None,
    providers: str,
    threshold: float | None,
    fpr: float | None,
    fdr: float | None,
    batch_size: int,
    label_column: str | None,
    threads: int | None,
    id_columns: tuple[str, ...] = (),
    time_column: str | None = None,
) -> None:
    """Score INPUT (.npy, .npz, .csv, .parquet) with BUNDLE: higher = more anomalous; label 1 = anomaly.

    A bundle whose scorer outputs p_value adds a p_value column: the share of held-out normal rows
    scoring at least as high (conformal); flagging p_value <= 0.01 flags about 1% of normal rows.

    The input is read and the output written in chunks of --batch-size rows, so memory
    stays flat however large INPUT is; a progress bar shows on a terminal.
    """
    from .jobs import run_job
    from .model import load
    from .tables.sinks import check_output_path

    check_output_path(out, id_columns, inputs=(input, bundle))  # fail before any work is done
    model = load(bundle, providers=providers, threshold=threshold, threads=threads)
    if model.series is not None:  # a series bundle: one row per time step (aeruntime.jobs.series)
        from .errors import InvalidInputError
        from .jobs.series import score_series_file as run_series

        if fpr is not None or fdr is not None:
            raise InvalidInputError(
                "--fpr/--fdr label single rows by their p-values; a series bundle labels time steps by its "
                "threshold and alarm rule: drop --fpr/--fdr (or pass --threshold)."
            )

        opts = {"label_column": label_column, "id_columns": id_columns, "time_column": time_column}
        result = run_series(model, input, out, batch_size=batch_size, **opts)
        if result.extra.get("gap_warning"):
            click.echo(result.extra["gap_warning"], err=True)
    else:
        if time_column is not None:
            from .errors import InvalidInputError

            raise InvalidInputError(
                f"--time-column {time_column!r} applies to series bundles; {bundle} scores single rows: "
                "drop --time-column (or pass it as --id-column to copy it to the output)."
            )
        if fpr is not None and fdr is None and model.calibration_size is not None:
            click.echo(model.operating_point(fpr).line(), err=True)  # the threshold and its FPR interval
        result = run_job(
            "score",
            model,
            input,
            out,
            batch_size=batch_size,
            label_column=label_column,
            id_columns=id_columns,
            fpr=fpr,
            fdr=fdr,
        )
    _report_job(input, result)
    if out is not None:
        n = result.rows
        click.echo(
            f"scored {n} rows -> {out} (threshold {result.threshold:.6g}, "
            f"{result.anomalies} anomalies, {result.anomalies / n:.1%})",
            err=True,
        )


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@json_option()
def info(bundle: str, as_json: bool) -> None:
    """Describe BUNDLE: kind, shapes, score, threshold, providers."""
    from .model import load

    summary = load(bundle, providers="cpu").info()
    if as_json:
        echo_json(summary)
        return
    width = max(map(len, summary))
    for key, value in summary.items():
        click.echo(f"{key:<{width}}  {_plain(value)}")


def _plain(value: object) -> str:
    """A value as text without Python reprs: lists comma-joined, dicts as ``key value`` pairs."""
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items()) if value else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@main.command()
@json_option()
def doctor(as_json: bool) -> None:
    """Show the onnxruntime build, available vs usable providers, and whether CUDA/cuDNN load."""
    from .doctor import doctor_report, format_doctor

    report = doctor_report()
    if as_json:
        echo_json(report)
    else:
        click.echo(format_doctor(report))


def _report_job(input: str, result: object) -> None:
    """Tell on stderr which table columns were matched by name and which were ignored."""
    ignored = getattr(result, "ignored", [])
    if ignored:
        shown = ", ".join(ignored[:10]) + (f" and {len(ignored) - 10} more" if len(ignored) > 10 else "")
        click.echo(f"note: {input}: ignored {len(ignored)} column(s) the model does not use: {shown}", err=True)


def _job_command(
    name: str, help_text: str, reads: str, codes_choices: list[str] | None = None, codes_default: str = "float32"
) -> None:
    def codes_option(f: object) -> object:
        if codes_choices is None:
            return f
        return click.option(
            "--codes",
            type=click.Choice(codes_choices),
            default=codes_default,
            show_default=True,
            help="Precision of the latent codes (int8: per-dimension affine, parameters in the manifest).",
        )(f)

    @main.command(name=name, help=help_text)
    @_stream_options("Write .npy, .npz, .csv or .parquet; default: CSV on stdout")
    @click.argument("input", metavar=reads, type=click.Path(dir_okay=False, exists=True))
    @codes_option
    def command(
        bundle: str,
        input: str,
        out: str | None,
        threads: int | None,
        providers: str,
        batch_size: int,
        label_column: str | None,
        id_columns: tuple[str, ...],
        codes: str = "float32",
    ) -> None:
        from .jobs import run_job
        from .model import load
        from .tables.sinks import check_output_path

        check_output_path(out, id_columns, inputs=(input, bundle))
        model = load(bundle, providers=providers, threads=threads)
        result = run_job(
            name,
            model,
            input,
            out,
            batch_size=batch_size,
            label_column=label_column,
            id_columns=id_columns,
            codes=codes,
        )
        _report_job(input, result)
        if out is not None:
            click.echo(
                f"{name}d {result.rows} rows -> {out}"
                if name != "reconstruct"
                else f"reconstructed {result.rows} rows -> {out}",
                err=True,
            )


_job_command(
    "encode",
    "Encode INPUT's rows into latent codes.\n\nINPUT: .npy, .npz, .csv or .parquet. For "
    "dimensionality reduction, or compression with --codes float16 / int8. Streams in chunks of "
    "--batch-size rows; memory stays flat.",
    "INPUT",
    ["float32", "float16", "int8"],
    "float32",
)
_job_command(
    "decode",
    "Decode latent CODES into rows.\n\nCODES as `aeruntime encode` writes them: int8 and float16 "
    "codes are detected in .npy/.parquet (pass --codes int8 for CSV). Output in raw feature units.",
    "CODES",
    ["auto", "float32", "float16", "int8"],
    "auto",
)
_job_command(
    "reconstruct",
    "Reconstruct INPUT's rows: decode(encode(rows)).\n\nOutput in raw feature units, streamed like `score`.",
    "INPUT",
)

main.add_command(spark_group)
main.add_command(serve_command)
main.add_command(verify_command)


if __name__ == "__main__":  # pragma: no cover
    main()
