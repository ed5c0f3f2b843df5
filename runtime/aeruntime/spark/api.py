"""The public calls: :func:`score`, :func:`encode` and :func:`reconstruct` (checked on the driver, run as tasks)."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, check_choice
from .columns import HIDDEN, check_new_columns, feature_expr, keep_columns, layout, quote, resolve_features
from .plan import BundleSpec, Plan, UdfPlan, file_sha256
from .report import ScoreReport

__all__ = ["ENGINES", "ON_INVALID", "OUTPUTS", "encode", "reconstruct", "score"]

#: what a row with a null, NaN or infinite feature gives
ON_INVALID = {
    "fail": "the task fails with an InvalidInputError naming the column and an example row",
    "null": "the row's outputs are null; ScoreReport.invalid_rows counts them",
}
#: how encode/reconstruct return their vectors
OUTPUTS = {
    "array": "one array<float> column NAME",
    "columns": "one float column per element, NAME_0 .. NAME_{k-1}",
    "vector": "one pyspark.ml.linalg vector column NAME (for Spark ML pipelines)",
}
#: how score runs its tasks (encode/reconstruct always use "mapInArrow")
ENGINES = {
    "arrow_udf": "an iterator arrow_udf over the packed features: only they (and up to 3 context columns for error "
    "messages) cross to Python, only score/label come back; pass-through columns stay in the JVM (pyspark >= 4.1)",
    "mapInArrow": "DataFrame.mapInArrow: every kept column crosses to Python and back with the features",
}
_HIDDEN_OUT = "__aeruntime_out"


@dataclass(frozen=True)
class _Job:
    """One score/encode/reconstruct call's settings, as the caller gave them."""

    op: str  # "score" | "encode" | "reconstruct"
    out_fields: Callable[[Any, Any], list[Any]]  # (model, feature columns or None) -> appended StructFields
    output: str = "array"  # key of OUTPUTS
    threshold: float | None = None
    engine: str = "mapInArrow"  # key of ENGINES
    batch_size: int | None = None
    keep: Sequence[str] | None = None
    on_invalid: str = "fail"  # key of ON_INVALID
    threads: int | None = None
    providers: Any = "auto"
    ship: bool = False
    report: ScoreReport | None = None
    fpr: float | None = None  # decision scorer: label = p_value <= fpr
    fdr: float | None = None  # decision scorer: Benjamini-Hochberg per chunk of batch_size rows
    key: str | None = None  # series bundle: the column naming the series (the device)
    time: str | None = None  # series bundle: the column ordering the steps of a series


# ---------------------------------------------------------------------------- driver side
def _conf(spark: Any, key: str, default: str) -> str:
    try:
        value = spark.conf.get(key, None)
    except Exception:  # noqa: BLE001  (Spark Connect may refuse some keys)
        value = None
    if value is None:
        value = spark.sparkContext.getConf().get(key, default)
    return str(value)


def _engine(job: _Job) -> str:
    """The engine the job runs with (``arrow_udf`` falls back to ``mapInArrow`` before pyspark 4.1)."""
    from pyspark.sql import functions as F

    check_choice("on_invalid", job.on_invalid, sorted(ON_INVALID))
    check_choice("output", job.output, sorted(OUTPUTS))
    check_choice("engine", job.engine, sorted(ENGINES))
    if job.engine == "arrow_udf" and not hasattr(F, "arrow_udf"):  # pyspark < 4.1
        return "mapInArrow"
    return job.engine


def _batch_size(spark: Any, batch_size: int | None) -> int:
    """Rows per onnxruntime call: default and at most ``spark.sql.execution.arrow.maxRecordsPerBatch``."""
    max_records = int(_conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "10000"))
    if batch_size is None:
        return max_records if max_records > 0 else 10000
    if int(batch_size) < 1:
        raise InvalidInputError(f"batch_size must be a positive number of rows, got {batch_size!r}.")
    if 0 < max_records < int(batch_size):
        raise InvalidInputError(
            f"batch_size={batch_size} is larger than spark.sql.execution.arrow.maxRecordsPerBatch={max_records}, "
            "the most rows one Arrow batch holds; pass a smaller batch_size or raise that setting, e.g. "
            f"spark.conf.set('spark.sql.execution.arrow.maxRecordsPerBatch', {batch_size})."
        )
    return int(batch_size)


def _decisions(model: Any, job: _Job) -> int:
    """The calibration scores behind the p_value column (0: a score-only bundle); options checked first."""
    from ..decisions import check_operating_point, require_decisions

    if job.key is not None or job.time is not None:
        raise InvalidInputError(
            f"key/time order the time steps of a series bundle, but {str(model.path)!r} scores single rows of "
            f"shape {tuple(model.input_shape)}; drop key= and time= (--key/--time), or pass a series bundle."
        )
    what = check_operating_point(job.fpr, job.fdr)
    if job.op != "score":
        return 0
    if what is not None:
        require_decisions(model.calibration_size, what)
    return int(model.calibration_size or 0)


def _bundle_spec(spark: Any, path: Path, manifest: dict[str, Any], job: _Job) -> BundleSpec:
    """How the tasks find the bundle: at ``path``, or shipped with the job (``ship=True``)."""
    threads = job.threads
    if threads is None:
        threads = max(1, int(_conf(spark, "spark.task.cpus", "1")))
    shipped = None
    if job.ship:
        path = path.resolve()
        try:
            spark.sparkContext.addFile(str(path), recursive=True)
        except Exception as exc:
            if "already" not in str(exc).lower():
                raise
        shipped = path.name
    return BundleSpec(
        path=str(path),
        shipped=shipped,
        bundle_id=str(manifest["bundle_id"]),
        manifest_sha256=file_sha256(path / "manifest.json"),
        threads=int(threads),
        providers=job.providers,
    )


def _prepare(df: Any, bundle: str | os.PathLike[str], features: Any, job: _Job) -> Any:
    """Check everything that can be checked without data, then the lazy DataFrame of the job."""
    import aeruntime

    engine = _engine(job)
    path = Path(bundle)
    spark = df.sparkSession
    model = aeruntime.load(path, providers="cpu", threshold=job.threshold, threads=1, verify=True)
    if model.series is not None:  # a series bundle: per-key series in time order (aeruntime.spark.series)
        from .series import series_frame

        return series_frame(df, model, features, job, _bundle_spec(spark, path, model.manifest, job))
    calibration = _decisions(model, job)
    cols, array_input = resolve_features(df, model, features)
    keep_cols = keep_columns(df, job.keep)
    fields = {f.name: f for f in df.schema.fields}
    new_fields = job.out_fields(model, cols if not array_input else None)
    check_new_columns(new_fields, keep_cols)
    exprs, names, feat_idx, packed = layout(keep_cols, cols, array_input, fields)
    batch_size = _batch_size(spark, job.batch_size)
    spec = _bundle_spec(spark, path, model.manifest, job)
    op = job.op
    plan = Plan(
        spec=spec,
        op=op,
        keep=tuple(range(len(keep_cols))),
        features=feat_idx,
        array_input=array_input or packed,
        packed=packed,
        labels=tuple(cols),
        context=tuple(i for i, c in enumerate(keep_cols) if c not in cols)[:3],
        names=tuple(names),
        out_names=tuple(f.name for f in new_fields),
        row_shape=tuple(model.input_shape),
        out_width=0 if op == "score" else math.prod(model.latent_shape if op == "encode" else model.input_shape),
        output="columns" if job.output == "columns" else "array",
        batch_size=batch_size,
        threshold=float(model.threshold),
        on_invalid=job.on_invalid,
        report=job.report,
        calibration=calibration,
        fpr=job.fpr,
        fdr=job.fdr,
    )
    if engine == "arrow_udf":
        return _udf_result(df, plan, keep_cols, cols, fields, new_fields, array_input)
    return _map_result(df.select(*exprs), plan, [fields[c] for c in keep_cols], new_fields, job.output)


def _map_result(df: Any, plan: Plan, kept: list[Any], new_fields: list[Any], output: str) -> Any:
    """``engine="mapInArrow"``: the selected columns cross to Python, the kept ones come back with the outputs."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    result = df.mapInArrow(plan, StructType(kept + list(new_fields)))
    if output == "vector":
        from pyspark.ml.functions import array_to_vector

        (vec,) = new_fields
        result = result.withColumn(vec.name, array_to_vector(F.col(quote(vec.name))))
    return result


def _udf_result(
    df: Any, plan: Plan, keep_cols: list[str], cols: list[str], fields: dict, new_fields: list, array_input: bool
) -> Any:
    """``engine="arrow_udf"``: the keep columns stay in the JVM, the UDF sees the features and the context columns."""
    from pyspark.sql import functions as F
    from pyspark.sql.functions import ArrowUDFType
    from pyspark.sql.types import StructType

    context = [keep_cols[i] for i in plan.context]
    # packed and cast by the JVM (one array<float> column), or the array/vector column;
    # measured: 64 separate UDF arguments instead of one packed array cost the same (500k x 64)
    args = [feature_expr(cols, array_input, fields)]
    udf_plan = replace(
        plan,
        keep=(),
        features=(0,),
        array_input=True,
        packed=not array_input,
        context=tuple(range(1, 1 + len(context))),
        names=(HIDDEN, *context),
    )
    with warnings.catch_warnings():  # "prefer type hints": a callable object's hints are not read
        warnings.simplefilter("ignore", UserWarning)
        fn = F.arrow_udf(UdfPlan(udf_plan), StructType(list(new_fields)), ArrowUDFType.SCALAR_ITER)
    out = df.select(
        *[F.col(quote(c)) for c in keep_cols], fn(*args, *[F.col(quote(c)) for c in context]).alias(_HIDDEN_OUT)
    )
    return out.select(
        *[F.col(quote(c)) for c in keep_cols], *[F.col(_HIDDEN_OUT)[f.name].alias(f.name) for f in new_fields]
    )


# ---------------------------------------------------------------------------- the public calls
def _vector_fields(name: str, width: int, output: str) -> list[Any]:
    from pyspark.sql.types import ArrayType, FloatType, StructField

    if output == "columns":
        return [StructField(f"{name}_{k}", FloatType(), True) for k in range(width)]
    return [StructField(name, ArrayType(FloatType(), False), True)]


def score(
    df: Any,
    bundle: str | os.PathLike[str],
    features: str | Sequence[str] | None = None,
    *,
    batch_size: int | None = None,
    threshold: float | None = None,
    keep: Sequence[str] | None = None,
    on_invalid: str = "fail",
    score_col: str = "score",
    label_col: str = "label",
    threads: int | None = None,
    providers: Any = "auto",
    ship: bool = False,
    report: ScoreReport | None = None,
    engine: str = "mapInArrow",
    fpr: float | None = None,
    fdr: float | None = None,
    key: str | None = None,
    time: str | None = None,
) -> Any:
    """Append anomaly scores (**higher = more anomalous**) and labels (1 = anomaly) to a DataFrame.

    Lazy like any transformation: nothing runs until an action (``write``,
    ``count``, ...). Schema problems raise here, before any task runs.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
    bundle : path
        Bundle directory, readable at this path on the driver and (unless
        ``ship=True``) on every executor.
    features : list of str, str or None
        A list of numeric columns (one per input element, in the bundle's
        order), or the name of one ``array<number>`` / ML vector column holding
        ``prod(input_shape)`` values per row (reshaped to ``input_shape``, e.g.
        ``(1, 8, 8)`` for conv bundles). ``None``: the bundle's
        ``input.feature_names`` by name when it has them; otherwise the only
        array/vector column, or all numeric columns when they are exactly as many
        as the model's input. When the bundle has feature names, a list must name
        exactly those columns (matched by name, in any order).
    batch_size : int, optional
        Rows per onnxruntime call; default and maximum
        ``spark.sql.execution.arrow.maxRecordsPerBatch`` (10,000 unless set).
    threshold : float, optional
        Overrides the bundle's calibrated threshold for the labels.
    keep : list of str, optional
        Columns carried through to the output, in this order (default: all of
        ``df``'s columns; ``[]`` for only the scores).
    on_invalid : {"fail", "null"}, default "fail"
        A row with a null, NaN or infinite feature fails the task with an
        ``InvalidInputError`` naming the column and the row (``"fail"``), or gets
        a null score and label, counted in ``report.invalid_rows`` (``"null"``).
    score_col, label_col : str
        Names of the appended columns (``float`` and ``int``).
    threads : int, optional
        onnxruntime intra-op threads per task; default ``spark.task.cpus`` (1).
    providers : default "auto"
        Executors' onnxruntime providers (see :func:`aeruntime.load`).
    ship : bool, default False
        Ship the bundle with the job (``SparkContext.addFile(bundle, recursive=True)``)
        instead of reading ``bundle`` at the same path on every executor.
    report : ScoreReport, optional
        Accumulators filled in by the tasks: rows, invalid rows, anomalies, model loads.
    engine : {"mapInArrow", "arrow_udf"}, default "mapInArrow"
        How the tasks run (see ``ENGINES``). ``"mapInArrow"`` sends every kept
        column through Python and back. ``"arrow_udf"`` (pyspark >= 4.1; else
        ``"mapInArrow"`` is used) sends only the features (packed into one
        ``array<float>`` by the JVM) and up to 3 context columns to Python and
        only score/label back, the pass-through columns staying in the JVM. Both
        give the same rows, counts and errors, but measured on Spark 4.3
        (``benchmarks/results/spark.md``) ``"arrow_udf"`` is *slower*, even with
        every column kept: Spark's ``ArrowEvalPython`` buffers each input row
        in the JVM and joins the UDF's output back row by row, which costs
        more than shipping the columns through ``mapInArrow``. Another
        difference: with ``"arrow_udf"`` an action that reads no output column
        (``count()``) prunes the model away (no rows scored, no counts).
    fpr, fdr : float in (0, 1), optional (bundles whose scorer outputs ``p_value``)
        The operating point of the labels, as ``Model.predict``: ``fpr`` labels the rows
        whose p-value is at most ``fpr`` (the threshold at that false-positive rate of the
        calibration scores); ``fdr`` runs Benjamini-Hochberg over **each chunk of
        ``batch_size`` rows of a partition** (an Arrow batch, split by ``batch_size``; the
        same unit as ``aeruntime score --fdr`` over ``--batch-size`` rows): within each such
        chunk the expected share of normal rows among the labelled ones is at most ``fdr``.
        The chunks are fixed by the partition's rows and their order, so a retried task gives
        the same labels; repartition first for another grouping.
    key, time : str, optional (series bundles)
        A series bundle (``manifest.series``) scores time steps: ``time`` (required) is the
        column that orders the steps (numeric, date or timestamp), ``key`` (optional) the
        column naming the series (a device): rows are grouped by key (one shuffle,
        ``repartition(key)``), ordered by time within each key (``sortWithinPartitions``)
        and scored by :mod:`aeruntime.series` with windows that never cross keys; without
        ``key`` the whole DataFrame is one series (one task). One output row per input row:
        ``score`` (the window ending at the row; NaN for the first W-1 rows of each key,
        as docs/bundle-format.md section 11), ``label`` (0 during the warm-up), ``p_value``
        when the scorer outputs it (the window's conformal p-value, NaN during the warm-up), ``warmup``
        (1 for the first W-1 rows) and ``alarm`` (the manifest's persistence rule, state
        carried within a key). A time that repeats within a key, a null time, and a key
        with fewer than W rows fail the task with an ``InvalidInputError`` naming the key.
        Output rows come grouped by key, in time order (not in the input's order).

    Returns
    -------
    pyspark.sql.DataFrame
        ``keep`` columns, then ``score_col`` (float, null for invalid rows) and
        ``label_col`` (int 0/1), row order within each partition kept; a bundle whose
        scorer outputs ``p_value`` adds ``p_value`` (float, the conformal p-value).
    """
    from pyspark.sql.types import FloatType, IntegerType, StructField

    def fields(model: Any, cols: Any) -> list[Any]:
        out = [StructField(score_col, FloatType(), True), StructField(label_col, IntegerType(), True)]
        if model.calibration_size is not None:  # a series bundle: per step, NaN in the warm-up
            out.append(StructField("p_value", FloatType(), True))
        return out

    rows = {"batch_size": batch_size, "keep": keep, "on_invalid": on_invalid}
    tasks = {"threads": threads, "providers": providers, "ship": ship, "report": report}
    points = {"fpr": fpr, "fdr": fdr, "key": key, "time": time}
    return _prepare(
        df, bundle, features, _Job("score", fields, threshold=threshold, engine=engine, **rows, **tasks, **points)
    )


def _vector_op(op: str, shape_attr: str, default_name: str, doc: str) -> Any:
    """``encode`` / ``reconstruct``: append ``prod(model.<shape_attr>)`` values per row (one signature)."""

    def run(
        df: Any,
        bundle: str | os.PathLike[str],
        features: str | Sequence[str] | None = None,
        *,
        output: str = "array",
        name: str = default_name,
        batch_size: int | None = None,
        keep: Sequence[str] | None = None,
        on_invalid: str = "fail",
        threads: int | None = None,
        providers: Any = "auto",
        ship: bool = False,
        report: ScoreReport | None = None,
    ) -> Any:
        def fields(model: Any, cols: Any) -> list[Any]:
            return _vector_fields(name, math.prod(getattr(model, shape_attr)), output)

        rows = {"batch_size": batch_size, "keep": keep, "on_invalid": on_invalid}
        tasks = {"threads": threads, "providers": providers, "ship": ship, "report": report}
        return _prepare(df, bundle, features, _Job(op, fields, output, **rows, **tasks))

    run.__name__ = run.__qualname__ = op
    run.__doc__ = doc
    return run


encode = _vector_op(
    "encode",
    "latent_shape",
    "latent",
    """Append latent codes (``Model.encode``; VAE: the posterior mean) for feature extraction.

Parameters are those of :func:`score`, plus:

output : {"array", "columns", "vector"}, default "array"
    One ``array<float>`` column ``name``, one float column per latent
    dimension (``name_0`` ...), or an ML vector column for ``pyspark.ml``.
name : str, default "latent"

Returns
-------
pyspark.sql.DataFrame
    ``keep`` columns, then the ``prod(latent_shape)`` latent values per row
    (null for invalid rows with ``on_invalid="null"``).
""",
)
reconstruct = _vector_op(
    "reconstruct",
    "input_shape",
    "reconstruction",
    """Append reconstructions (``Model.reconstruct``, raw feature units, flattened row-major).

Parameters and return value as in :func:`encode`, with ``prod(input_shape)``
values per row, default column name ``"reconstruction"``.
""",
)
