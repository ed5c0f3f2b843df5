"""``aeruntime spark score``: score a Parquet or CSV table on Apache Spark (needs ``aeruntime[spark]`` and Java).

Runs as is on a laptop (``--master local[*]``, the default outside spark-submit)
and on a cluster: under ``spark-submit`` the master and every setting come from
spark-submit, e.g.::

    spark-submit --master yarn --archives env.tar.gz#env \\
        --conf spark.pyspark.python=./env/bin/python \\
        "$(python -m aeruntime.spark.submit --script)" score hdfs:///models/b hdfs:///in --out hdfs:///out

(``python -m aeruntime.spark.submit --script`` prints the path of ``aeruntime/spark/submit.py``,
the script that runs :func:`main` and that spark-submit takes as its Python application.)
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import click

from aeruntime.clibase import AeGroup
from aeruntime.errors import AeError, InvalidInputError
from aeruntime.fs.outputs import DIR_RULE
from aeruntime.spark.quiet import cli_error, quiet_builder, quiet_session

__all__ = ["main", "spark"]

#: input/output formats by file suffix (a directory of part files takes its format from --format)
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def _format(path: str, given: str) -> str:
    if given != "auto":
        return given
    fmt = _FORMATS.get(Path(path.rstrip("/")).suffix.lower())
    if fmt is None and os.path.isdir(path):
        names = [p.suffix.lower() for p in Path(path).iterdir() if not p.name.startswith(("_", "."))]
        fmt = next((_FORMATS[s] for s in names if s in _FORMATS), None)
    if fmt is None:
        raise InvalidInputError(
            f"cannot tell the format of {path!r} from its name; expected a .parquet or .csv path "
            "(a file or a directory of part files). Pass --format parquet or --format csv."
        )
    return fmt


def _is_local(path: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path) is None or path.startswith("file://")


def _worker_error(exc: Exception) -> AeError | None:
    """The aeruntime error a Spark task raised, re-raised on the driver without the JVM stack trace."""
    text = str(exc)
    for cls_name in ("InvalidInputError", "IntegrityError", "BundleNotFoundError"):
        m = re.search(rf"aeruntime\.errors\.{cls_name}: (.+)", text)
        if m:
            from aeruntime import errors

            return getattr(errors, cls_name)(m.group(1).strip())
    return None


def _session(master: str | None, app: str, verbose: bool = False) -> tuple[Any, bool]:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # the JVM started this Python (spark-submit)
    if not under_submit and (master is None or master.startswith("local")):
        # Local workers run this very interpreter (with aeruntime installed) unless told otherwise.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app)
    if master is not None:
        builder = builder.master(master)
    elif not under_submit:
        builder = builder.master("local[*]")
    if not verbose and not under_submit:
        builder = quiet_builder(builder)
    return builder.getOrCreate(), True


@click.group("spark", context_settings={"help_option_names": ["-h", "--help"]})
def spark() -> None:
    """Run bundles on Apache Spark (pip install 'aeruntime[spark]'; needs Java 17+)."""


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [c.strip() for c in value.split(",") if c.strip()]


@spark.command("score")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.argument("input")
@click.option(
    "--out",
    "out",
    required=True,
    help=f"Output table (a directory of part files), Parquet or CSV; local: {DIR_RULE.format('a table')}.",
)
@click.option(
    "--features",
    default=None,
    help="Comma-separated feature columns, or one array/vector column; default: the bundle's "
    "feature names, else all numeric columns.",
)
@click.option("--keep", default=None, help="Comma-separated columns carried to the output (default: all).")
@click.option("--master", default=None, help="Spark master, e.g. local[*]; default: spark-submit's, else local[*].")
@click.option(
    "--format",
    "in_format",
    type=click.Choice(["auto", "parquet", "csv"]),
    default="auto",
    show_default=True,
    help="Input format (auto: from the suffix).",
)
@click.option(
    "--out-format",
    type=click.Choice(["auto", "parquet", "csv"]),
    default="auto",
    show_default=True,
    help="Output format (auto: from the suffix of --out, else Parquet).",
)
@click.option("--threshold", type=float, default=None, help="Override the bundle's calibrated threshold.")
@click.option(
    "--fpr",
    type=float,
    default=None,
    help="Label the rows whose p-value is <= FPR (bundles whose scorer outputs p_value).",
)
@click.option(
    "--fdr",
    type=float,
    default=None,
    help="Label each chunk of --batch-size rows of a partition by Benjamini-Hochberg at this false-discovery "
    "rate (bundles whose scorer outputs p_value).",
)
@click.option("--key", default=None, help="Series bundles: the column naming each series (a device).")
@click.option("--time", "time_col", default=None, help="Series bundles: the column ordering the steps (required).")
@click.option("--verbose", is_flag=True, help="Keep Spark's own log output (default: errors only).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Rows per Arrow batch and onnxruntime call (sets spark.sql.execution.arrow.maxRecordsPerBatch).",
)
@click.option(
    "--on-invalid",
    type=click.Choice(["fail", "null"]),
    default="fail",
    show_default=True,
    help="Rows with null/NaN/Inf features: fail the job, or give them a null score.",
)
@click.option(
    "--ship",
    is_flag=True,
    help="Ship BUNDLE with the job (SparkContext.addFile) instead of reading it at the same path on every executor.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Remote --out (hdfs://, s3a://...), which cannot be inspected: replace it if it exists. "
    "A local --out does not need it.",
)
def score_cmd(
    bundle: str,
    input: str,
    out: str,
    features: str | None,
    keep: str | None,
    master: str | None,
    in_format: str,
    out_format: str,
    threshold: float | None,
    fpr: float | None,
    fdr: float | None,
    key: str | None,
    time_col: str | None,
    batch_size: int | None,
    on_invalid: str,
    ship: bool,
    overwrite: bool,
    verbose: bool = False,
) -> None:
    """Score INPUT (Parquet or CSV) with BUNDLE on Spark: higher = more anomalous; label 1 = anomaly.

    Writes OUT with the input's columns (or --keep) plus `score` and `label` (and `p_value` for a
    bundle whose scorer outputs it). A series bundle scores each --key's rows in --time order:
    one row per input row with `score` (NaN for the first W-1 rows of a key), `label`, `p_value`
    (when the scorer outputs it; NaN in the warm-up), `warmup` and `alarm`, windows never crossing keys. A local OUT
    is written beside itself and renamed when complete. A local OUT must be new, empty or
    a table written by this command (marker _aeruntime.json, replaced); a remote one is
    replaced only with --overwrite.
    """
    from aeruntime import spark as aespark

    fmt_in = _format(input, in_format)
    fmt_out = out_format if out_format != "auto" else _FORMATS.get(Path(out.rstrip("/")).suffix.lower(), "parquet")
    target = _local_target(out, overwrite, (input, bundle))
    _require_pyspark()
    session, owned = _session(master, "aeruntime spark score", verbose)
    if not verbose:
        quiet_session(session)
    try:
        if batch_size is not None:
            session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_size))
        reader = session.read
        df = reader.parquet(input) if fmt_in == "parquet" else reader.csv(input, header=True, inferSchema=True)
        feats: Any = _split(features)
        if feats is not None and len(feats) == 1:
            feats = feats[0]
        report = aespark.ScoreReport(session)
        options = {"batch_size": batch_size, "threshold": threshold, "keep": _split(keep), "on_invalid": on_invalid}
        options |= {"fpr": fpr, "fdr": fdr, "key": key, "time": time_col}
        try:
            scored = aespark.score(df, bundle, feats, ship=ship, report=report, **options)
        except InvalidInputError as exc:
            raise cli_error(exc) from None
        _write(scored, out, fmt_out, overwrite, target)
        click.echo(_summary(report, out), err=True)
    finally:
        if owned:
            session.stop()


def _local_target(out: str, overwrite: bool, inputs: tuple[str, ...] = ()) -> Path | None:
    """The local directory ``--out`` names, checked by the overwrite rule
    (:func:`aeruntime.fs.check_output_dir`: new, empty or a table of ours), or None for a
    remote URL (replaced only with ``--overwrite``, which a local path does not need)."""
    if not _is_local(out):
        return None
    from aeruntime.fs import check_output_dir

    target = Path(out.removeprefix("file://"))
    check_output_dir(target, "spark", inputs=[i.removeprefix("file://") for i in inputs])
    if not target.parent.is_dir():
        raise InvalidInputError(f"--out {out}: directory {target.parent} does not exist; create it first.")
    return target


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise InvalidInputError(
            "aeruntime spark needs PySpark: pip install 'aeruntime[spark]' (and a Java 17+ runtime)."
        ) from None


def _save(scored: Any, dest: str, fmt: str, mode: str) -> None:
    writer = scored.write.mode(mode)
    writer.parquet(dest) if fmt == "parquet" else writer.csv(dest, header=True)


def _write(scored: Any, out: str, fmt: str, overwrite: bool, target: Path | None) -> None:
    """Run the job, writing ``out``; a local ``target`` is published atomically (``fs.atomic_directory``).

    Spark writes the part files into a temporary directory beside ``target``, which then
    replaces it in one rename; a failed job leaves ``target`` as it was and no temporary behind.
    """
    from aeruntime.fs import atomic_directory
    from aeruntime.fs.outputs import SPARK_MARKER, spark_marker

    try:
        if target is None:
            _save(scored, out, fmt, "overwrite" if overwrite else "errorifexists")
        else:
            with atomic_directory(target, kind="spark") as tmp:
                _save(scored, str(tmp), fmt, "overwrite")  # Spark replaces the empty temporary directory
                files = [p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if not p.is_dir()]
                (tmp / SPARK_MARKER).write_bytes(spark_marker(tmp, files))  # published with the parts
    except Exception as exc:
        err = _worker_error(exc)
        if err is not None:
            raise err from None
        raise


def _summary(report: Any, out: str) -> str:
    n = report.rows
    msg = f"scored {n} rows -> {out} ({report.anomalies} anomalies"
    msg += f", {report.anomalies / n:.1%})" if n else ")"
    if report.invalid_rows:
        msg += f"; {report.invalid_rows} rows with null/NaN/Inf features got a null score"
    return msg


def main() -> None:  # pragma: no cover - the spark-submit entry point (aeruntime/spark/submit.py)
    """``aeruntime-spark score ...``: the ``spark`` group on its own, with ``--debug``."""

    @click.group(cls=AeGroup, commands=spark.commands, help=spark.help)
    @click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
    def cli(debug: bool) -> None:
        pass

    cli(prog_name="aeruntime-spark")
