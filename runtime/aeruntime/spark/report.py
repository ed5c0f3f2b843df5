"""``ScoreReport``: the counts a Spark job reports back to the driver (accumulators)."""

from __future__ import annotations

from typing import Any

__all__ = ["ScoreReport"]


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

    # .................................................................. task side
    def add_task(self, loaded: bool, path: str, threads: int, worker: str) -> None:
        """A task started on ``worker`` (``host:pid``); ``loaded``: it loaded the model, from ``path``."""
        self._loads.add(int(loaded))
        if loaded:
            self._paths.add({path})
        self._threads.add({threads})
        self._workers.add({worker})

    def add_batch(self, rows: int, invalid: int, anomalies: int) -> None:
        """A task processed one Arrow batch of ``rows`` rows."""
        self._rows.add(rows)
        self._invalid.add(invalid)
        self._anomalies.add(anomalies)
        self._batches.add(1)

    # .................................................................. driver side
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
