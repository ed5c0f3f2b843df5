"""Every input check of the runtime (scikit-learn's ``utils/validation.py``): rows, batches, columns.

- the one row rule: shape, dtype, NaN/Inf and the float32 range, with messages naming row and column
  (:func:`check_rows`, :func:`check_chunk`, :func:`check_finite`, :func:`check_scores`);
- the API's batch check (:func:`as_batch`): whatever the user passed, as a float32 batch;
- the one columns-by-name rule (:func:`match_columns`, :func:`check_unique`, :func:`listing`).

Every place that takes rows for a model goes through here (sklearn routes every
method through one ``_validate_data``): :func:`as_batch` (the
API), the table readers (:mod:`aeruntime.tables`, chunk by chunk, with the row
offset of the chunk in the file), and aeexport's ``verify``, ``compare-pca`` and
data loading. One wording per failure:

- dtype: ``X has dtype <U1 (strings), but the model expects real numbers (float32). ...``;
- width: ``X has 10 features, but the model expects 64. Pass an array of shape (n_rows, 64) ...``;
- rank: ``X has shape (64,), but the model expects (n_rows, 64). For a single row use X.reshape(1, 64).``;
- rows: ``X has 0 rows (shape (0, 64)), but the model expects at least one row of shape (64,). ...``;
- NaN/Inf, a whole array (counted): ``X contains 1 NaN and 0 infinite values, first at row 2, column 5;
  the model expects finite numbers (no NaN or infinite values). Impute or drop those rows first.``;
- NaN/Inf, a chunk of a stream (not counted: the count would be the chunk's):
  ``data.npy: row 1500, column 3 holds a NaN; the model expects finite numbers ...``;
- a value beyond the float32 range, in every format (CSV, Parquet, ``.npy``, ``.npz``,
  arrays through the API; :func:`value_error`): ``data.csv: line 3 (row 1), column 6
  holds 1e+39, a value beyond the float32 range (about ±3.4e38); the model expects
  values within the float32 range ...``;
- a score that overflows although the row is finite (:func:`check_scores`, wherever
  scores are produced: ``Model.score``, hence the streaming job and Spark's tasks):
  ``X: row 3 has finite values, but its score overflows to inf (1 row in all): ...``.

A column is named ``column 'px5'`` when the caller knows the feature names,
``column 5`` otherwise, ``element (0, 3, 4)`` for rows of higher rank. Spark's
batches use :func:`first_non_finite` and :func:`where` with their row offset.
"""

from __future__ import annotations

from ._columns import LISTED, check_unique, duplicates, listing, match_columns
from ._rows import (
    F32_MAX,
    FINITE_FIX,
    MODERATE,
    RANGE_FIX,
    RANGE_NOTE,
    as_batch,
    as_rows,
    check_chunk,
    check_finite,
    check_rows,
    check_scores,
    column_label,
    first_non_finite,
    non_finite_error,
    shape_rows,
    shape_str,
    value_error,
    where,
    width_error,
)

__all__ = [
    "F32_MAX",
    "FINITE_FIX",
    "LISTED",
    "MODERATE",
    "RANGE_FIX",
    "RANGE_NOTE",
    "as_batch",
    "as_rows",
    "check_chunk",
    "check_finite",
    "check_rows",
    "check_scores",
    "check_unique",
    "column_label",
    "duplicates",
    "first_non_finite",
    "listing",
    "match_columns",
    "non_finite_error",
    "shape_rows",
    "shape_str",
    "value_error",
    "where",
    "width_error",
]
