"""Score, encode and reconstruct bundles on Apache Spark DataFrames (``pip install aeruntime[spark]``).

>>> from aeruntime import spark as aespark
>>> scored = aespark.score(df, "models/digits-dense", features=[f"px{i}" for i in range(64)])  # doctest: +SKIP
>>> scored.write.parquet("scored.parquet")                                                     # doctest: +SKIP

How it runs
-----------
* Everything that can be checked without data is checked on the driver, when
  :func:`score` is called and before any task runs: the bundle loads (integrity
  check included), the feature columns exist, are numeric (or one array / ML
  vector column) and are as many as the model's input, the threshold is valid.
  Errors are :class:`~aeruntime.errors.InvalidInputError` with aeruntime's usual
  message (what was expected, what was received, how to fix it).
* The work is one ``DataFrame.mapInArrow``: Arrow record batches (at most
  ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows) become one float32
  matrix each, scored by onnxruntime in one call per ``batch_size`` rows. No
  row-at-a-time Python, no pandas conversion. Row order within a partition is
  kept, and pass-through columns (ids) travel with their rows.
* ``score(..., engine="arrow_udf")`` (pyspark >= 4.1) runs the same code in an
  iterator ``arrow_udf`` instead: only the packed features (and up to 3 context
  columns for error messages) cross to Python, only score/label come back. Same
  guarantees, but measured slower than ``mapInArrow`` on Spark 4.3, so it is not
  the default (``benchmarks/results/spark.md``). encode/reconstruct always use
  ``mapInArrow``: their outputs are as wide as the inputs, nothing to save.
* The model is loaded **once per Python worker** (Spark reuses workers across
  tasks, ``spark.python.worker.reuse``), cached at module level under the
  bundle's ``bundle_id`` and the sha256 of its ``manifest.json``; that first load
  verifies every file's sha256, and a bundle on an executor that is not the one
  the driver read is an :class:`~aeruntime.errors.IntegrityError`.
* onnxruntime uses ``spark.task.cpus`` intra-op threads per task (default 1), so
  an executor with ``spark.executor.cores`` = C runs C single-threaded sessions
  and is not oversubscribed.
* Scoring is a pure function of (bundle, rows): a retried or speculative task
  gives the same bytes, so a lost executor loses nothing.

The bundle reaches executors either by a path every executor can read (a shared
file system, or the same path baked into every node's image) or shipped with the
job: ``ship=True`` calls ``SparkContext.addFile(bundle, recursive=True)`` and the
workers read their copy from ``SparkFiles``. See ``docs/scale-out.md``.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IntegrityError, InvalidInputError

__all__ = ["ENGINES", "ON_INVALID", "OUTPUTS", "ScoreReport", "encode", "reconstruct", "score"]

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
#: Spark SQL type names accepted as numeric feature columns (cast once to float32)
_NUMERIC = ("byte", "short", "integer", "long", "float", "double")
_HIDDEN = "__aeruntime_x"
_HIDDEN_OUT = "__aeruntime_out"
#: how score runs its tasks (encode/reconstruct always use "mapInArrow")
ENGINES = {
    "arrow_udf": "an iterator arrow_udf over the packed features: only they (and up to 3 context columns for error "
    "messages) cross to Python, only score/label come back; pass-through columns stay in the JVM (pyspark >= 4.1)",
    "mapInArrow": "DataFrame.mapInArrow: every kept column crosses to Python and back with the features",
}


# ---------------------------------------------------------------------------- worker side
_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_LOCK = threading.Lock()
_LOADS = 0  # models this process has loaded (the once-per-worker promise is counted here)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class _BundleSpec:
    """How a worker finds and checks the bundle (pickled with every task)."""

    path: str  # the bundle directory as the driver sees it (read as is when not shipped)
    shipped: str | None  # SparkFiles name when shipped with addFile, else None
    bundle_id: str  # manifest["bundle_id"] as read on the driver
    manifest_sha256: str  # sha256 of manifest.json as read on the driver
    threads: int  # onnxruntime intra-op threads per task
    providers: Any  # aeruntime.load(providers=...)

    def resolve(self) -> Path:
        if self.shipped is None:
            return Path(self.path)
        from pyspark import SparkFiles

        return Path(SparkFiles.get(self.shipped))


def _worker_model(spec: _BundleSpec) -> tuple[Any, bool]:
    """The cached model of this process (loaded and verified on first use); True if loaded now."""
    global _LOADS
    path = spec.resolve()
    key = (spec.bundle_id, spec.manifest_sha256, str(path), spec.threads, repr(spec.providers))
    model = _CACHE.get(key)
    if model is not None:
        return model, False
    with _CACHE_LOCK:
        model = _CACHE.get(key)
        if model is not None:
            return model, False
        import aeruntime

        manifest = path / "manifest.json"
        if not manifest.is_file():
            raise IntegrityError(
                f"the bundle is not readable on executor {socket.gethostname()} at {path} (no manifest.json); "
                "put it on storage every executor can read, or pass ship=True (SparkContext.addFile)."
            )
        got = _sha256(manifest)
        if got != spec.manifest_sha256:
            raise IntegrityError(
                f"the bundle at {path} on executor {socket.gethostname()} is not the one the driver read "
                f"(manifest.json sha256 {got[:12]}..., driver {spec.manifest_sha256[:12]}...); "
                "ship the same bundle to every executor (ship=True) or update the shared copy."
            )
        model = aeruntime.load(path, providers=spec.providers, threads=spec.threads, verify=True)
        if model.manifest["bundle_id"] != spec.bundle_id:  # pragma: no cover - the sha256 check catches it first
            raise IntegrityError(f"bundle id {model.manifest['bundle_id']} at {path}, expected {spec.bundle_id}")
        _CACHE[key] = model
        _LOADS += 1
        return model, True


def _as_f32(values: Any) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32)


@dataclass
class _Plan:
    """Everything one task needs, decided on the driver; ``__call__`` is the mapInArrow function."""

    spec: _BundleSpec
    op: str  # "score" | "encode" | "reconstruct"
    keep: tuple[int, ...]  # Arrow column indexes passed through, in output order
    features: tuple[int, ...]  # Arrow column indexes of the features (one index for an array column)
    array_input: bool  # True: features[0] is an array<number> column
    packed: bool  # True: that array was packed on the JVM from the numeric columns ``labels``
    labels: tuple[str, ...]  # feature column names, for messages
    context: tuple[int, ...]  # indexes of pass-through columns shown in the example row of an error
    names: tuple[str, ...]  # names of every input column (Arrow order)
    out_names: tuple[str, ...]  # names of the appended output columns
    row_shape: tuple[int, ...]  # model.input_shape
    out_width: int  # encode: latent size, reconstruct: input size; 0 for score
    output: str  # "array" | "columns" (a vector is made from the array on the JVM side)
    batch_size: int  # rows per onnxruntime call
    threshold: float  # label = score > threshold
    on_invalid: str  # key of ON_INVALID
    report: ScoreReport | None

    # .................................................................. batches -> batches
    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        model, loaded = _worker_model(self.spec)
        rep = self.report
        if rep is not None:
            rep._loads.add(int(loaded))
            if loaded:
                rep._paths.add({str(model.path)})
            rep._threads.add({self.spec.threads})
            rep._workers.add({f"{socket.gethostname()}:{os.getpid()}"})
        offset = 0
        for batch in batches:
            out, n_bad, n_anom = self._batch(model, batch, offset)
            offset += batch.num_rows
            if rep is not None:
                rep._rows.add(batch.num_rows)
                rep._invalid.add(n_bad)
                rep._anomalies.add(n_anom)
                rep._batches.add(1)
            yield out

    def _matrix(self, batch: Any, offset: int) -> np.ndarray:
        """(n, d) float32; null, NaN and Inf features are NaN/Inf here."""
        n, d = batch.num_rows, math.prod(self.row_shape)
        if not self.array_input:
            # Contiguous column writes, then one transposing copy: 5x faster than filling x[:, j]
            # (strided) or np.column_stack. Nulls arrive as NaN (to_numpy of a column with nulls).
            xt = np.empty((d, n), np.float32)
            for j, i in enumerate(self.features):
                xt[j] = batch.column(i).to_numpy(zero_copy_only=False)
            return np.ascontiguousarray(xt.T)
        import pyarrow.compute as pc

        col = batch.column(self.features[0])
        lengths = pc.fill_null(pc.list_value_length(col), d).to_numpy(zero_copy_only=False)
        wrong = np.flatnonzero(lengths != d)
        if len(wrong):
            r = int(wrong[0])
            raise InvalidInputError(
                f"column {self.labels[0]!r} holds an array of {int(lengths[r])} values at {self._where(batch, r, offset)}"
                f", but the model expects {d} ({len(wrong)} such rows in this batch); every row must hold exactly "
                f"{d} values in the bundle's feature order."
            )
        if col.null_count == 0:
            return _as_f32(col.flatten()).reshape(n, d)
        x = np.full((n, d), np.nan, np.float32)
        valid = ~col.is_null().to_numpy(zero_copy_only=False)
        x[valid] = _as_f32(col.flatten()).reshape(-1, d)
        return x

    def _where(self, batch: Any, r: int, offset: int) -> str:
        from pyspark import TaskContext

        tc = TaskContext.get()
        part = f" of partition {tc.partitionId()}" if tc is not None else ""
        ctx = ", ".join(f"{self.names[i]}={_short(batch.column(i)[r].as_py())}" for i in self.context)
        return f"row {offset + r}{part}" + (f" ({ctx})" if ctx else "")

    def _raise_bad(self, batch: Any, x: np.ndarray, bad: np.ndarray, offset: int) -> None:
        r = int(np.flatnonzero(bad)[0])
        j = int(np.flatnonzero(~np.isfinite(x[r]))[0])
        if self.packed:
            is_null = batch.column(self.features[0])[r].values[j].as_py() is None
            what = f"column {self.labels[j]!r} is " + ("null" if is_null else str(x[r, j]))
        elif self.array_input:
            col = batch.column(self.features[0])
            what = f"column {self.labels[0]!r} " + (
                "is null" if not col[r].is_valid else f"holds {x[r, j]} at index {j}"
            )
            if col[r].is_valid and col[r].values[j].as_py() is None:
                what = f"column {self.labels[0]!r} holds null at index {j}"
        else:
            is_null = not batch.column(self.features[j])[r].is_valid
            what = f"column {self.labels[j]!r} is " + ("null" if is_null else str(x[r, j]))
        raise InvalidInputError(
            f"{what} at {self._where(batch, r, offset)} ({int(bad.sum())} rows with null, NaN or infinite "
            "features in this batch); the model expects finite numbers. Drop or impute those rows first "
            "(e.g. df.na.drop(subset=features)), or pass on_invalid='null' to give them null outputs."
        )

    def _run(self, model: Any, x: np.ndarray) -> np.ndarray:
        fn = {"score": model.score, "encode": model.encode, "reconstruct": model.reconstruct}[self.op]
        n, step = len(x), self.batch_size
        if n <= step:
            return fn(x)
        return np.concatenate([fn(x[i : i + step]) for i in range(0, n, step)])

    def _batch(self, model: Any, batch: Any, offset: int) -> tuple[Any, int, int]:
        import pyarrow as pa

        n = batch.num_rows
        x = self._matrix(batch, offset)
        bad: np.ndarray | None = None
        if n:
            with np.errstate(all="ignore"):  # one pass: a row sum is finite unless the row is not (or overflows)
                suspect = ~np.isfinite(np.add.reduce(x, axis=1))
            if suspect.any():
                suspect[suspect] = ~np.isfinite(x[suspect]).all(axis=1)
                if suspect.any():
                    if self.on_invalid == "fail":
                        self._raise_bad(batch, x, suspect, offset)
                    bad = suspect
        good = x if bad is None else x[~bad]
        width = self.out_width or 1
        if len(good):
            res = self._run(model, good.reshape(-1, *self.row_shape)).reshape(len(good), -1)
        else:
            res = np.zeros((0, width), np.float32)
        if bad is not None:
            full = np.zeros((n, width), np.float32)
            full[~bad] = res
            res = full
        mask = bad  # numpy mask for pa.array (True = null)
        arrays = [batch.column(i) for i in self.keep]
        n_anom = 0
        if self.op == "score":
            s = res[:, 0]
            lab = (s > self.threshold).astype(np.int32)
            if bad is not None:
                lab[bad] = 0
            n_anom = int(lab.sum())
            arrays += [pa.array(s, type=pa.float32(), mask=mask), pa.array(lab, type=pa.int32(), mask=mask)]
        elif self.output == "columns":
            arrays += [pa.array(res[:, k], type=pa.float32(), mask=mask) for k in range(width)]
        else:
            offsets = pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32))
            values = pa.array(res.reshape(-1), type=pa.float32())
            arrays.append(pa.ListArray.from_arrays(offsets, values, mask=None if bad is None else pa.array(bad)))
        names = [self.names[i] for i in self.keep] + list(self.out_names)
        return pa.RecordBatch.from_arrays(arrays, names=names), int(0 if bad is None else bad.sum()), n_anom


@dataclass
class _UdfPlan:
    """An iterator ``arrow_udf`` over the packed features (+ context columns): only they cross to Python.

    Wraps a :class:`_Plan` laid out as features at column 0 and the context columns after it,
    with nothing passed through, and returns its score/label batches as one struct array.
    """

    plan: _Plan

    def __call__(self, arrays: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        names = list(self.plan.names)

        def batches() -> Iterator[Any]:
            for a in arrays:
                cols = list(a) if isinstance(a, tuple) else [a]
                yield pa.RecordBatch.from_arrays(cols, names=names)

        for out in self.plan(batches()):
            yield pa.StructArray.from_arrays(out.columns, names=list(self.plan.out_names))


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


# ---------------------------------------------------------------------------- report (accumulators)
class _SetParam:
    """A pyspark ``AccumulatorParam`` for sets (duck-typed: importing this module must not import pyspark)."""

    def zero(self, value: Any) -> set:
        return set()

    def addInPlace(self, a: set, b: set) -> set:
        a |= b
        return a


class ScoreReport:
    """Counts a job reports back to the driver (Spark accumulators), read after an action ran.

    Pass one to :func:`score`, :func:`encode` or :func:`reconstruct` (``report=``),
    run an action (``write``, ``count``, ...), then read the attributes. Like all
    accumulators updated inside a transformation, a stage that Spark recomputes
    (an uncached DataFrame used by two actions) counts twice; failed task attempts
    do not count.

    Attributes
    ----------
    rows : int
        Rows that went through the model's task code.
    invalid_rows : int
        Rows with a null, NaN or infinite feature that got null outputs (``on_invalid="null"``).
    anomalies : int
        Rows labelled 1 (score only).
    batches : int
        Arrow record batches processed.
    model_loads : int
        Times a Python worker loaded (and verified) the bundle; at most one per worker process.
    workers : set of str
        ``host:pid`` of every Python worker process that ran a task.
    bundle_paths : set of str
        Where the workers that loaded the model read the bundle (a ``SparkFiles`` copy with ``ship=True``).
    threads : set of int
        onnxruntime intra-op threads the tasks' models were loaded with (``spark.task.cpus`` unless ``threads=``).
    """

    def __init__(self, spark: Any) -> None:
        sc = spark.sparkContext
        self._rows = sc.accumulator(0)
        self._invalid = sc.accumulator(0)
        self._anomalies = sc.accumulator(0)
        self._batches = sc.accumulator(0)
        self._loads = sc.accumulator(0)
        self._workers = sc.accumulator(set(), _SetParam())
        self._paths = sc.accumulator(set(), _SetParam())
        self._threads = sc.accumulator(set(), _SetParam())

    rows = property(lambda self: int(self._rows.value))
    invalid_rows = property(lambda self: int(self._invalid.value))
    anomalies = property(lambda self: int(self._anomalies.value))
    batches = property(lambda self: int(self._batches.value))
    model_loads = property(lambda self: int(self._loads.value))
    workers = property(lambda self: set(self._workers.value))
    bundle_paths = property(lambda self: set(self._paths.value))
    threads = property(lambda self: set(self._threads.value))

    def as_dict(self) -> dict[str, Any]:
        """The counts as a JSON-serializable dict."""
        return {
            "rows": self.rows,
            "invalid_rows": self.invalid_rows,
            "anomalies": self.anomalies,
            "batches": self.batches,
            "model_loads": self.model_loads,
            "workers": sorted(self.workers),
            "bundle_paths": sorted(self.bundle_paths),
            "threads": sorted(self.threads),
        }

    def __repr__(self) -> str:
        return f"ScoreReport({self.as_dict()})"


# ---------------------------------------------------------------------------- driver side
def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _type_name(dt: Any) -> str:
    return dt.simpleString()


def _is_vector(dt: Any) -> bool:
    try:
        from pyspark.ml.linalg import VectorUDT
    except ImportError:  # pragma: no cover - pyspark.ml needs numpy, which aeruntime has
        return False
    return isinstance(dt, VectorUDT)


def _is_numeric(dt: Any) -> bool:
    return dt.typeName() in _NUMERIC


def _listing(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _resolve_features(df: Any, model: Any, features: Any) -> tuple[list[str], bool]:
    """(feature columns in the model's order, True if one array/vector column)."""
    fields = {f.name: f.dataType for f in df.schema.fields}
    d = math.prod(model.input_shape)
    names = model.manifest["input"].get("feature_names")
    if features is None:
        if names:
            features = list(names)
        else:
            vectors = [c for c, t in fields.items() if _is_vector(t) or t.typeName() == "array"]
            numeric = [c for c, t in fields.items() if _is_numeric(t)]
            if len(vectors) == 1 and len(numeric) != d:
                features = vectors[0]
            elif len(numeric) == d:
                features = numeric
            else:
                raise InvalidInputError(
                    f"features=None: the bundle records no feature names, and the DataFrame has {len(numeric)} "
                    f"numeric columns ({_listing(numeric)}) and {len(vectors)} array/vector columns, but the model "
                    f"expects {d} features (input shape {tuple(model.input_shape)}). Pass features=[...] with the "
                    "columns in the bundle's feature order, or features='col' for one array/vector column."
                )
    if isinstance(features, str):
        missing = [features] if features not in fields else []
        if not missing and _is_numeric(fields[features]):
            features = [features]
        else:
            if missing:
                raise InvalidInputError(
                    f"feature column {features!r} is not in the DataFrame (columns: {_listing(list(fields))}); "
                    "pass the name of an array or vector column, or a list of numeric columns."
                )
            t = fields[features]
            if _is_vector(t):
                return [features], True
            if t.typeName() != "array" or not _is_numeric(t.elementType):
                raise InvalidInputError(
                    f"feature column {features!r} has type {_type_name(t)}, but the model expects an array of "
                    f"numbers (array<float>, array<double>) or an ML vector holding {d} values, or a list of "
                    f"numeric columns. Convert it, e.g. F.col({features!r}).cast('array<float>')."
                )
            return [features], True
    features = [str(c) for c in features]
    if len(set(features)) != len(features):
        dup = sorted({c for c in features if features.count(c) > 1})
        raise InvalidInputError(f"features names columns more than once ({_listing(dup)}); name each column once.")
    if names:
        if set(features) != set(names):
            lost = [c for c in names if c not in features]
            extra = [c for c in features if c not in names]
            raise InvalidInputError(
                f"the bundle was trained on named features and matches columns by name, but features differs: "
                f"missing {_listing(lost) or 'none'}, not in the bundle {_listing(extra) or 'none'}. Pass "
                "features=None to use the bundle's names, or rename the DataFrame's columns to them."
            )
        features = list(names)  # by name, in the bundle's order
    missing = [c for c in features if c not in fields]
    if missing:
        raise InvalidInputError(
            f"the DataFrame has no column {_listing(missing)} ({len(missing)} of {len(features)} feature columns "
            f"missing); its columns are {_listing(list(fields))}. Select or rename the columns the model expects."
        )
    wrong = [c for c in features if not _is_numeric(fields[c])]
    if wrong:
        c = wrong[0]
        raise InvalidInputError(
            f"feature column {c!r} has type {_type_name(fields[c])}, but the model expects numeric columns "
            f"({', '.join(_NUMERIC)}; cast once to float32){f' ({len(wrong)} such columns)' if len(wrong) > 1 else ''}. "
            f"Cast it first, e.g. df.withColumn({c!r}, F.col({c!r}).cast('double'))."
        )
    if len(features) != d:
        raise InvalidInputError(
            f"features has {len(features)} columns, but the model expects {d} (input shape "
            f"{tuple(model.input_shape)}). Pass the {d} columns in the bundle's feature order."
        )
    return features, False


def _conf(spark: Any, key: str, default: str) -> str:
    try:
        value = spark.conf.get(key, None)
    except Exception:  # noqa: BLE001  (Spark Connect may refuse some keys)
        value = None
    if value is None:
        value = spark.sparkContext.getConf().get(key, default)
    return str(value)


def _prepare(
    df: Any,
    bundle: str | os.PathLike[str],
    features: Any,
    *,
    op: str,
    batch_size: int | None,
    threshold: float | None,
    keep: Sequence[str] | None,
    on_invalid: str,
    out_fields: Any,
    output: str,
    threads: int | None,
    providers: Any,
    ship: bool,
    report: ScoreReport | None,
    engine: str = "mapInArrow",
) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    import aeruntime

    if on_invalid not in ON_INVALID:
        raise InvalidInputError(f"on_invalid must be one of {sorted(ON_INVALID)}, got {on_invalid!r}.")
    if output not in OUTPUTS:
        raise InvalidInputError(f"output must be one of {sorted(OUTPUTS)}, got {output!r}.")
    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {sorted(ENGINES)}, got {engine!r}.")
    if engine == "arrow_udf" and not hasattr(F, "arrow_udf"):  # pyspark < 4.1
        engine = "mapInArrow"
    path = Path(bundle)
    spark = df.sparkSession
    model = aeruntime.load(path, providers="cpu", threshold=threshold, threads=1, verify=True)
    manifest = model.manifest
    cols, array_input = _resolve_features(df, model, features)

    all_cols = list(df.columns)
    keep_cols = all_cols if keep is None else [str(c) for c in keep]
    absent = [c for c in keep_cols if c not in all_cols]
    if absent:
        raise InvalidInputError(
            f"keep names {_listing(absent)}, not in the DataFrame (columns: {_listing(all_cols)}); "
            "pass columns of the DataFrame to carry through, or keep=[]."
        )
    fields = {f.name: f for f in df.schema.fields}
    new_fields = out_fields(model, cols if not array_input else None)
    clash = [f.name for f in new_fields if f.name in keep_cols]
    if clash:
        raise InvalidInputError(
            f"the output column {_listing(clash)} is already in the DataFrame; drop or rename it, leave it out "
            "of keep, or choose another output name."
        )

    exprs = [F.col(_quote(c)) for c in keep_cols]
    names = list(keep_cols)
    packed = False
    if array_input:
        (c,) = cols
        if _is_vector(fields[c].dataType):
            from pyspark.ml.functions import vector_to_array

            exprs.append(vector_to_array(F.col(_quote(c)), "float32").alias(_HIDDEN))
            names.append(_HIDDEN)
            feat_idx = (len(names) - 1,)
        elif c in keep_cols:
            feat_idx = (keep_cols.index(c),)
        else:
            exprs.append(F.col(_quote(c)))
            names.append(c)
            feat_idx = (len(names) - 1,)
    elif not all(c in keep_cols for c in cols):
        # Features that do not travel back anyway cross to Python as one array<float> (packed and
        # cast by the JVM): measured ~30% cheaper than as 64 separate columns.
        exprs.append(F.array(*[F.col(_quote(c)).cast("float") for c in cols]).alias(_HIDDEN))
        names.append(_HIDDEN)
        feat_idx = (len(names) - 1,)
        packed = True
    else:  # every feature column is passed through: read them where they are, send nothing twice
        feat_idx = tuple(keep_cols.index(c) for c in cols)

    max_records = int(_conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "10000"))
    if batch_size is None:
        batch_size = max_records if max_records > 0 else 10000
    elif int(batch_size) < 1:
        raise InvalidInputError(f"batch_size must be a positive number of rows, got {batch_size!r}.")
    elif 0 < max_records < int(batch_size):
        raise InvalidInputError(
            f"batch_size={batch_size} is larger than spark.sql.execution.arrow.maxRecordsPerBatch={max_records}, "
            "the most rows one Arrow batch holds; pass a smaller batch_size or raise that setting, e.g. "
            f"spark.conf.set('spark.sql.execution.arrow.maxRecordsPerBatch', {batch_size})."
        )
    if threads is None:
        threads = max(1, int(_conf(spark, "spark.task.cpus", "1")))

    shipped = None
    if ship:
        path = path.resolve()
        try:
            spark.sparkContext.addFile(str(path), recursive=True)
        except Exception as exc:
            if "already" not in str(exc).lower():
                raise
        shipped = path.name
    spec = _BundleSpec(
        path=str(path),
        shipped=shipped,
        bundle_id=str(manifest["bundle_id"]),
        manifest_sha256=_sha256(path / "manifest.json"),
        threads=int(threads),
        providers=providers,
    )
    context = tuple(i for i, c in enumerate(keep_cols) if c not in cols)[:3]
    out_width = 0 if op == "score" else math.prod(model.latent_shape if op == "encode" else model.input_shape)
    plan = _Plan(
        spec=spec,
        op=op,
        keep=tuple(range(len(keep_cols))),
        features=feat_idx,
        array_input=array_input or packed,
        packed=packed,
        labels=tuple(cols),
        context=context,
        names=tuple(names),
        out_names=tuple(f.name for f in new_fields),
        row_shape=tuple(model.input_shape),
        out_width=out_width,
        output="columns" if output == "columns" else "array",
        batch_size=int(batch_size),
        threshold=float(model.threshold),
        on_invalid=on_invalid,
        report=report,
    )
    if engine == "arrow_udf":
        return _udf_result(df, plan, keep_cols, cols, fields, new_fields, array_input)
    schema = StructType([fields[c] for c in keep_cols] + list(new_fields))
    result = df.select(*exprs).mapInArrow(plan, schema)
    if output == "vector":
        from pyspark.ml.functions import array_to_vector

        (vec,) = new_fields
        result = result.withColumn(vec.name, array_to_vector(F.col(_quote(vec.name))))
    return result


def _udf_result(
    df: Any, plan: _Plan, keep_cols: list[str], cols: list[str], fields: dict, new_fields: list, array_input: bool
) -> Any:
    """``engine="arrow_udf"``: the keep columns stay in the JVM, the UDF sees the features and the context columns."""
    from dataclasses import replace

    from pyspark.sql import functions as F
    from pyspark.sql.functions import ArrowUDFType
    from pyspark.sql.types import StructType

    context = [keep_cols[i] for i in plan.context]
    if not array_input:  # packed and cast by the JVM: one array<float> column
        feat = F.array(*[F.col(_quote(c)).cast("float") for c in cols])
    elif _is_vector(fields[cols[0]].dataType):
        from pyspark.ml.functions import vector_to_array

        feat = vector_to_array(F.col(_quote(cols[0])), "float32")
    else:
        feat = F.col(_quote(cols[0]))
    # measured: 64 separate UDF arguments instead of one packed array cost the same (500k x 64)
    args = [feat]
    udf_plan = replace(
        plan,
        keep=(),
        features=(0,),
        array_input=True,
        packed=not array_input,
        context=tuple(range(1, 1 + len(context))),
        names=(_HIDDEN, *context),
    )
    with warnings.catch_warnings():  # "prefer type hints": a callable object's hints are not read
        warnings.simplefilter("ignore", UserWarning)
        fn = F.arrow_udf(_UdfPlan(udf_plan), StructType(list(new_fields)), ArrowUDFType.SCALAR_ITER)
    out = df.select(
        *[F.col(_quote(c)) for c in keep_cols], fn(*args, *[F.col(_quote(c)) for c in context]).alias(_HIDDEN_OUT)
    )
    return out.select(
        *[F.col(_quote(c)) for c in keep_cols], *[F.col(_HIDDEN_OUT)[f.name].alias(f.name) for f in new_fields]
    )


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

    Returns
    -------
    pyspark.sql.DataFrame
        ``keep`` columns, then ``score_col`` (float, null for invalid rows) and
        ``label_col`` (int 0/1), row order within each partition kept.
    """
    from pyspark.sql.types import FloatType, IntegerType, StructField

    def fields(model: Any, cols: Any) -> list[Any]:
        return [StructField(score_col, FloatType(), True), StructField(label_col, IntegerType(), True)]

    return _prepare(
        df,
        bundle,
        features,
        op="score",
        batch_size=batch_size,
        threshold=threshold,
        keep=keep,
        on_invalid=on_invalid,
        out_fields=fields,
        output="array",
        threads=threads,
        providers=providers,
        ship=ship,
        report=report,
        engine=engine,
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

        options = {"batch_size": batch_size, "keep": keep, "on_invalid": on_invalid, "threads": threads}
        return _prepare(
            df,
            bundle,
            features,
            op=op,
            threshold=None,
            out_fields=fields,
            output=output,
            providers=providers,
            ship=ship,
            report=report,
            **options,
        )

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
