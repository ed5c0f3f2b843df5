"""Train from a Spark DataFrame: a seeded uniform sample of at most N rows, collected as Arrow.

>>> from aeexport import data, run_pipeline
>>> s = data.sample(df, 2_000_000, seed=0, label="is_fraud")         # doctest: +SKIP
>>> run_pipeline(s.dataset(), "run")                                  # doctest: +SKIP

How it samples (the rows never pass through pandas or ``collect()`` of Rows):

* Checked on the schema alone, before any job runs: ``max_rows`` and ``seed``, the feature columns
  (exist, numeric by :func:`aeruntime.spark.check_numeric_columns`, the runtime's rule), the label.
* One job counts the rows (``rows_seen``); with a label, the rows of each label value
  (``groupBy(label).count()``), which sets each class's quota by the reservoir's rule
  (:func:`aeexport.data.quotas`: ``max_rows`` shared in proportion, largest remainders).
* Every row draws a key ``rand(seed)`` on the executors; the sample is the rows with the smallest
  keys (per class when stratified): ``orderBy(key).limit(q)``, which Spark plans as
  ``TakeOrderedAndProject`` (a top-q per partition, then one task merges those: at most
  partitions x q rows move, never a sort of the whole DataFrame; memory q rows per task). That is a uniform sample without replacement of the rows (of each
  class). One scan per label value, so at most :data:`MAX_CLASSES` values.
* The sample is collected as Arrow (``DataFrame.toArrow()``, pyspark >= 4; ``_collect_as_arrow()``
  before) and ordered by key.

Determinism: Spark seeds ``rand(seed)`` per partition (``seed`` + the partition's index), so the same
seed gives the same rows for the same DataFrame with the same partitioning, as ``DataFrame.sample``
does; another seed, or another partitioning, gives another sample.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from aeruntime.errors import InvalidInputError
from aeruntime.spark import check_numeric_columns, numeric_columns

from ._data import Dataset
from ._reservoir import SampleInfo, quotas

__all__ = ["MAX_CLASSES", "SparkSample", "sample"]

#: most label values a stratified sample takes (one scan of the DataFrame each)
MAX_CLASSES = 100
#: ``SampleInfo.method`` of a Spark sample
METHOD = "rand(seed) keys, the smallest per label value (TakeOrderedAndProject), uniform without replacement"
#: the key column (dropped from the table)
_KEY = "__aeexport_key"


@dataclass(frozen=True)
class SparkSample:
    """A sample of a DataFrame: ``table`` (``info.rows_kept`` rows: the feature columns in order, then the
    label), the ``features`` and ``label`` names, the numeric columns ``ignored`` (not features) and
    the provenance ``info`` (``source="spark"``)."""

    table: Any  # pyarrow.Table
    features: list[str]
    label: str | None
    info: SampleInfo
    ignored: list[str] = field(default_factory=list)

    def dataset(self) -> Dataset:
        """The rows to train on (:func:`aeexport.run_pipeline`): features by name, provenance in the manifest's
        ``training.sample`` and the run summary's ``rows.sample``."""
        return Dataset.from_arrow(self.table, label_column=self.label, name="spark", sample=self.info.as_dict())


def sample(
    df: Any, max_rows: int, *, seed: int = 0, features: list[str] | None = None, label: str | None = None
) -> SparkSample:
    """A seeded uniform sample of at most ``max_rows`` rows of ``df``, drawn on the executors, as Arrow.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
    max_rows : int
        Rows kept: ``min(max_rows, rows of df)``.
    seed : int
        Seeds the keys (``rand(seed)``); same seed and partitioning, same rows.
    features : list of str, optional
        The numeric feature columns, in the order the model takes them (kept by name: the bundle records
        them and ``aeruntime.spark.score`` matches them by name). Default: every numeric column of ``df``
        but ``label``, in the DataFrame's order (an id column too: pass ``features`` to leave it out).
    label : str, optional
        A numeric label column (0/1 with 1 = anomaly, or classes) or a boolean one (True = anomaly): the
        sample is stratified by it, each label value keeping its share of ``max_rows``; it travels with
        the rows as the labels.

    Raises
    ------
    InvalidInputError
        Before any job: ``max_rows`` not a positive integer, ``seed`` not an integer, a missing or
        non-numeric column, the label among the features. After the count: fewer than 2 rows, null
        labels, more than :data:`MAX_CLASSES` label values.
    """
    from pyspark.sql import functions as F

    max_rows, seed = _check_int("max_rows", max_rows, minimum=1), _check_int("seed", seed)
    cols, ignored = _columns(df, features, label)
    taken = cols if label is None else [*cols, label]
    keyed = df.select(*[F.col(_quote(c)) for c in taken], F.rand(seed).alias(_KEY))
    seen = {None: df.count()} if label is None else _class_counts(df, label)
    rows_seen = sum(seen.values())
    if rows_seen < 2:
        raise InvalidInputError(f"the DataFrame has {rows_seen} rows; expected at least 2 rows to sample from.")
    parts = [
        (keyed if c is None else keyed.filter(F.col(_quote(label)) == F.lit(c))).orderBy(_KEY).limit(q)
        for c, q in sorted(quotas(seen, max_rows).items(), key=lambda kv: str(kv[0]))
        if q > 0
    ]
    table = _collect_arrow(reduce(lambda a, b: a.unionAll(b), parts))
    table = table.sort_by(_KEY).drop_columns([_KEY])
    info = SampleInfo(rows_seen, table.num_rows, seed, label is not None, max_rows, source="spark", method=METHOD)
    return SparkSample(table, cols, label, info, ignored)


def _check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an int (numpy integers too), or a typed error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (minimum is not None and value < minimum):
        want = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise InvalidInputError(f"{name} must be {want}, got {value!r}.")
    return int(value)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _columns(df: Any, features: list[str] | None, label: str | None) -> tuple[list[str], list[str]]:
    """(feature columns, numeric columns left out), checked on the schema alone."""
    types = {f.name: f.dataType.typeName() for f in df.schema.fields}
    if label is not None and types.get(label) != "boolean":  # a boolean label is True = anomaly
        check_numeric_columns(df, [label], what="label column")
    numeric = numeric_columns(df)
    given = [c for c in numeric if c != label] if features is None else features
    features = list(given) if isinstance(given, (list, tuple)) else None
    if features is None or not all(isinstance(c, str) for c in features):
        raise InvalidInputError(f"features must be a list of column names, got {given!r}; e.g. features=['a', 'b'].")
    dup = sorted({c for c in features if features.count(c) > 1})
    if dup:
        raise InvalidInputError(f"features names the columns {dup} more than once; name every feature once.")
    if not features:
        raise InvalidInputError(
            f"no feature columns: the DataFrame's numeric columns are {numeric}; pass features=[...] "
            "or cast the feature columns to numbers."
        )
    check_numeric_columns(df, features, reserved=[label] if label is not None else ())
    return features, [c for c in numeric if c not in features and c != label]


def _class_counts(df: Any, label: str) -> dict[Any, int]:
    """Rows per label value (one job); null labels and more than :data:`MAX_CLASSES` values are refused."""
    rows = df.groupBy(label).count().limit(MAX_CLASSES + 1).collect()
    counts = {r[0]: int(r[1]) for r in rows}
    if len(counts) > MAX_CLASSES:
        raise InvalidInputError(
            f"label column {label!r} has more than {MAX_CLASSES} distinct values; a stratified sample "
            "takes one scan per value: pass a label of a few classes (0/1 = anomaly), or label=None."
        )
    if None in counts:
        raise InvalidInputError(
            f"label column {label!r} is null in {counts[None]} rows; expected a label in every row: "
            f"drop or fill them first (df.na.drop(subset=[{label!r}]))."
        )
    return counts


def _collect_arrow(df: Any) -> Any:
    """``df``'s rows as one pyarrow.Table: ``toArrow()`` (pyspark >= 4.0), else ``_collect_as_arrow()``."""
    if hasattr(df, "toArrow"):
        return df.toArrow()
    import pyarrow as pa

    return pa.Table.from_batches(df._collect_as_arrow())
