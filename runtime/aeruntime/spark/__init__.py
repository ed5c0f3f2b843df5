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

Layout
------
``api``      :func:`score`, :func:`encode`, :func:`reconstruct`: the driver-side checks and the lazy DataFrame
``columns``  which columns a job reads (feature columns by name and type, ``keep``) and how they travel;
             its schema checks :func:`numeric_columns` and :func:`check_numeric_columns` are public (aeexport's
             Spark sample uses them: one rule for which columns are numbers)
``plan``     the task code: the model once per Python worker, Arrow batches in and out, the row check
``series``   series bundles: rows grouped by ``key``, ordered by ``time``, windows never crossing keys
``report``   :class:`ScoreReport`, the accumulators the tasks fill in
``cli``      ``aeruntime spark score`` (``aeruntime/spark/submit.py`` is its spark-submit script)
"""

from __future__ import annotations

from .api import ENGINES, ON_INVALID, OUTPUTS, encode, reconstruct, score
from .columns import check_numeric_columns, numeric_columns
from .report import ScoreReport

__all__ = [
    "ENGINES",
    "ON_INVALID",
    "OUTPUTS",
    "ScoreReport",
    "check_numeric_columns",
    "encode",
    "numeric_columns",
    "reconstruct",
    "score",
]
