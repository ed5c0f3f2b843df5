"""Datasets and the splits used for training, calibration and evaluation.

Data sources: ``"digits"`` (scikit-learn's bundled 8x8 digits, 1797 x 64, values
0-16), or a file: ``.npy`` (rows), ``.npz`` (``X`` and optional ``y``), ``.csv``
(optional header, optional label column) or ``.parquet`` (numeric columns, optional
label column). Files are read by :func:`aeruntime.tables.load_table` (Parquet by
pyarrow), never unpickled. Tables keep their column names
(:attr:`Dataset.feature_names`), which export writes into the bundle so readers
match columns by name. Rows already in memory as a ``pyarrow.Table`` (e.g. a Spark sample,
:mod:`aeexport.data`) become a dataset with :meth:`Dataset.from_arrow`, under the same checks.

Labels and the anomaly class follow one rule for ``aeexport train`` and
``aeexport run``: with labels, only normal rows are trained on. Labels are
either already 0/1 (1 = anomaly) or classes, of which ``anomaly_class`` is the
anomaly; on ``digits`` the anomaly class defaults to
:data:`DIGITS_ANOMALY_CLASS` (0), so digit 0 never reaches the training rows.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.errors import InvalidInputError
from aeruntime.tables import check_table_options, load_table
from aeruntime.validation import check_rows

from ._labels import binary_labels
from ._reservoir import Reservoir

__all__ = [
    "DIGITS_ANOMALY_CLASS",
    "Dataset",
    "FewRowsWarning",
    "LabelLikeColumnWarning",
    "MIN_CALIBRATION_ROWS",
    "Split",
    "anomaly_labels",
    "as_model_input",
    "check_label_column",
    "load_dataset",
    "make_split",
    "training_section",
    "warn_if_few_calibration_rows",
]

BUILTIN = ("digits",)

#: on digits, this class is held out of training and plays the unseen anomaly (train and run alike)
DIGITS_ANOMALY_CLASS = 0

#: inputs with named columns, where ``--label-column`` applies

#: column names that usually hold a label rather than a feature (matched case-insensitively)
_LABEL_LIKE = re.compile(
    r"^(label|labels|target|class|y|ground_?truth|gt|fraud|is_.+|anomal.*|outlier.*)$", re.IGNORECASE
)


#: rows read at a time when sampling (``--max-rows``)
SAMPLE_CHUNK = 1 << 16

#: fewer held-out rows than this make a calibrated threshold unstable (warned about)
MIN_CALIBRATION_ROWS = 50


class LabelLikeColumnWarning(UserWarning):
    """A feature column looks like a 0/1 label: it would be trained on as a feature."""


class FewRowsWarning(UserWarning):
    """The threshold is calibrated on so few held-out rows that it is unstable."""


def warn_if_few_calibration_rows(n_rows: int) -> bool:
    """Warn (and return True) when the threshold is calibrated on fewer than :data:`MIN_CALIBRATION_ROWS` rows."""
    if n_rows >= MIN_CALIBRATION_ROWS:
        return False
    warnings.warn(
        f"the threshold rests on only {n_rows} held-out rows (e.g. their 95th percentile is set by the "
        f"top {max(1, round(0.05 * n_rows))} score(s)), so it is unstable; train on more rows (at least "
        f"{MIN_CALIBRATION_ROWS} held out), raise --val-fraction, or give a fixed --threshold.",
        FewRowsWarning,
        stacklevel=2,
    )
    return True


@dataclass
class Dataset:
    X: np.ndarray  # (n_rows, *row_shape) raw values, float32
    y: np.ndarray | None  # (n_rows,) labels: classes or 1 = anomaly; None if unlabelled
    name: str  # "digits" or the file name
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) when rows are images (digits: (1, 8, 8))
    feature_names: list[str] | None = None  # column names of X in order (CSV header, Parquet); None for arrays
    sample: dict | None = None  # provenance of a --max-rows sample (reservoir.SampleInfo.as_dict); None: every row

    @classmethod
    def from_arrow(
        cls, table: Any, *, label_column: str | None = None, name: str = "arrow", sample: dict | None = None
    ) -> Dataset:
        """The rows of an in-memory ``pyarrow.Table`` (n_rows rows): what :func:`aeexport.run_pipeline` trains on
        instead of a file.

        Every column except ``label_column`` is a feature, kept **by name** in the table's order
        (:attr:`feature_names`, written into the bundle so that tables and Spark DataFrames are later
        matched to it by name). Features must be integer or float columns without nulls; they are cast
        once to float32 under the row rule (NaN/Inf and values beyond float32 are an
        :class:`~aeruntime.errors.InvalidInputError` naming row and column). The labels are numbers (0/1,
        or classes) or booleans (True = anomaly). ``name``: the dataset's name
        in the manifest and the run summary; ``sample``: the provenance of the rows when they are a
        sample (:meth:`aeexport.data.SampleInfo.as_dict`; :func:`aeexport.data.sample` sets it).
        """
        return _from_arrow(table, label_column, name, sample)


@dataclass
class Split:
    """The rows of a split. The training rows stay in ``X`` (the whole input, not copied):
    ``train_rows`` indexes them; :attr:`train` copies them out for small-data callers.

    :func:`aeexport.train.train_split` takes ``X`` over: once the training rows are scaled it sets
    ``X`` to None (:meth:`drop_rows`), so the input's memory is freed before the epochs when the
    split held its last reference. ``val`` and ``test`` are copies and stay.
    """

    X: np.ndarray | None  # (n_rows, *row_shape) every row of the input, float32 (possibly a memmap); None once dropped
    train_rows: np.ndarray  # (n_train,) indices into X of the rows the model is fitted on (normal rows)
    val: np.ndarray  # held-out normal rows: early stopping and threshold calibration
    test: np.ndarray | None  # held-out rows for the final evaluation (may hold anomalies)
    y_test: np.ndarray | None  # (n_test,) 1 = anomaly, 0 = normal
    n_rows: int = field(init=False)  # len(X) as split: still known after drop_rows

    def __post_init__(self) -> None:
        self.n_rows = 0 if self.X is None else len(self.X)

    @property
    def train(self) -> np.ndarray:
        """A copy of the training rows (n_train, *row_shape), in the order the model sees them."""
        return self.rows()[self.train_rows]

    @property
    def n_train(self) -> int:
        return len(self.train_rows)

    def rows(self) -> np.ndarray:
        """``X``, every row of the input (n_rows, *row_shape); an error once :meth:`drop_rows` has run."""
        if self.X is None:
            raise InvalidInputError(
                "this split's rows were handed to training and dropped (train_split frees them once scaled); "
                "read split.train before training, or train with train_model(split.X, split.val, "
                "rows=split.train_rows), which leaves the rows in place."
            )
        return self.X

    def drop_rows(self) -> None:
        """Forget ``X`` (every input row): called by :func:`aeexport.train.train_split` once the rows are scaled."""
        self.X = None


def check_label_column(path: str | Path, label_column: str | None) -> None:
    """Refuse ``label_column`` for inputs without named columns (.npy, .npz) instead of ignoring it."""
    check_table_options(path, label_column)


def load_dataset(
    source: str,
    label_column: str | None = None,
    *,
    header: bool | None = None,
    max_rows: int = 0,
    seed: int = 0,
) -> Dataset:
    """Load ``"digits"`` or a ``.npy``/``.npz``/``.csv``/``.parquet`` file.

    ``max_rows`` > 0: a seeded uniform sample of at most that many rows, drawn in one streaming pass
    (:mod:`aeexport.data`; stratified by label when there are labels), memory bounded by the sample;
    its provenance is :attr:`Dataset.sample`. 0: every row.

    ``header``: a CSV's first line is a header (True) or data (False); None decides
    (the runtime's rule, ``aeruntime.tables.header``; on the command line ``--header/--no-header``).
    Warns with :class:`LabelLikeColumnWarning` when a table has a 0/1 column named like a
    label (``label``, ``target``, ``is_*``, ``anomaly*``, ...) and no ``label_column`` was given.
    """
    if source == "digits":
        return _load_digits(label_column)
    path = Path(source)
    if not path.exists():
        raise InvalidInputError(
            f"dataset {source!r} is neither a built-in dataset {list(BUILTIN)} nor an existing file; "
            "pass 'digits' or a path to a .npy, .npz, .csv or .parquet file."
        )
    check_label_column(path, label_column)
    sample = None
    if max_rows > 0:
        X, y, names, sample = _sample_file(path, label_column, header, max_rows, seed)
    else:  # float32 chunk by chunk (no whole-file float64 copy); .npy memory-mapped, not read
        table = load_table(path, label_column=label_column, header=header, mmap=True, dtype=np.float32)
        X, y, names = table.X, table.y, table.feature_names
    return _checked(X, y, names, str(path), path.name, label_column, sample)


def _checked(
    X: Any,
    y: Any,
    names: list[str] | None,
    where: str,
    name: str,
    label_column: str | None,
    sample: dict | None,
    option: str = "--label-column ",
) -> Dataset:
    """The rows of a file or an Arrow table as a :class:`Dataset`, after the checks every input gets."""
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise InvalidInputError(f"{where}: features have dtype {X.dtype}; expected numbers.")
    if X.ndim < 2 or len(X) < 2:
        raise InvalidInputError(
            f"{where}: expected an array of shape (n_rows, n_features) with at least 2 rows, got {X.shape}."
        )
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(X):
            raise InvalidInputError(f"{where}: {len(y)} labels for {len(X)} rows; expected one label per row.")
    if names is not None and len(names) != X.shape[1]:
        names = None  # a header that does not describe the columns: stay positional
    # the one row rule: NaN/Inf and values beyond float32 (cast here), naming the first bad row and column
    X = check_rows(X, X.shape[1:], where, columns=names, dtype=np.float32)
    if names is not None and label_column is None:
        _warn_label_like(name, X, names, option)
    image_shape = tuple(X.shape[1:]) if X.ndim == 4 else None
    return Dataset(X, y, name, image_shape, names, sample)  # type: ignore[arg-type]


def _from_arrow(table: Any, label_column: str | None, name: str, sample: dict | None) -> Dataset:
    """:meth:`Dataset.from_arrow`: every column but ``label_column`` is a feature, by name, in the table's order."""
    import pyarrow as pa

    if not isinstance(table, pa.Table):
        raise InvalidInputError(
            f"{name}: expected a pyarrow.Table, got {type(table).__name__}; pass pyarrow.table(...), "
            "pyarrow.parquet.read_table(...) or the table of aeexport.data.sample(...)."
        )
    names = [str(c) for c in table.column_names]
    if len(set(names)) != len(names):
        raise InvalidInputError(
            f"{name}: the columns {sorted({c for c in names if names.count(c) > 1})} appear more than once; "
            "give every column its own name."
        )
    if label_column is not None and label_column not in names:
        raise InvalidInputError(
            f"{name}: label_column {label_column!r} is not a column of the table (columns: {names}); "
            "pass one of them, or label_column=None for unlabelled rows."
        )
    features = [c for c in names if c != label_column]
    if not features:
        raise InvalidInputError(f"{name}: the table has no feature columns besides the label {label_column!r}.")
    for c in names:
        t, nulls = table.schema.field(c).type, table.column(c).null_count
        what = "the label column" if c == label_column else "a feature (every column but the label is one)"
        boolean_label = c == label_column and pa.types.is_boolean(t)  # True = anomaly
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or boolean_label):
            raise InvalidInputError(
                f"{name}: column {c!r} has type {t}, but it is {what} and must hold numbers (integers or "
                "floats); cast it first, drop it, or name the label with label_column."
            )
        if nulls:
            raise InvalidInputError(
                f"{name}: column {c!r} ({what}) holds {nulls} null values; expected a number in every row: "
                "drop those rows or fill them first."
            )
    X = np.empty((table.num_rows, len(features)), np.float32)  # filled column by column: no float64 matrix
    for j, c in enumerate(features):
        col = table.column(c).to_numpy().reshape(-1, 1)
        X[:, j] = check_rows(col, (1,), name, columns=[c], dtype=np.float32, min_rows=0)[:, 0]
    y = None if label_column is None else table.column(label_column).to_numpy(zero_copy_only=False)
    if y is not None and y.dtype == bool:
        y = y.astype(np.int8)  # True = anomaly
    return _checked(X, y, features, name, name, label_column, sample, option="label_column=")


def _sample_file(
    path: Path, label_column: str | None, header: bool | None, max_rows: int, seed: int
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None, dict]:
    """A reservoir sample of ``path``'s rows, read in chunks (Parquet and CSV through pyarrow batches,
    ``.npy`` memory-mapped; an ``.npz`` is in memory anyway): (X (k, ...), y (k,) or None, names, provenance)."""
    from aeruntime.tables import open_source, read_npz

    if path.suffix.lower() == ".npz":
        X_all, y_all = read_npz(path)
        res = Reservoir(max_rows, seed, stratified=y_all is not None)
        for i in range(0, len(X_all), SAMPLE_CHUNK):
            res.add(X_all[i : i + SAMPLE_CHUNK], None if y_all is None else np.asarray(y_all[i : i + SAMPLE_CHUNK]))
        names = None
    else:
        src = open_source(path, SAMPLE_CHUNK, label_column=label_column, dtype=np.float32, header=header)
        res = Reservoir(max_rows, seed, stratified=label_column is not None)
        for chunk in src:
            res.add(np.array(chunk.x, dtype=np.float32), chunk.y)
        names = src.columns
    if res.rows_seen < 2:
        raise InvalidInputError(f"{path}: expected at least 2 rows to sample from, got {res.rows_seen}.")
    X, y, info = res.result()
    return X, y, names, info.as_dict()


def training_section(summary: dict[str, Any], ds: Dataset) -> dict[str, Any]:
    """The checkpoint's and manifest's ``training`` section: the training summary, plus the provenance of a
    ``--max-rows`` sample (rows seen, rows kept, seed, stratified) when the rows were sampled."""
    return {**summary, "sample": ds.sample} if ds.sample else summary


def _load_digits(label_column: str | None) -> Dataset:
    """scikit-learn's 8x8 digits (1797 x 64, classes 0-9); ``--label-column`` does not apply."""
    if label_column is not None:
        raise InvalidInputError(
            f"--label-column {label_column!r} does not apply to 'digits' (its labels are "
            "the digit classes); drop it, or pick the anomaly digit with --anomaly-class."
        )
    from sklearn.datasets import load_digits

    d = load_digits()
    return Dataset(d.data.astype(np.float32), d.target.astype(np.int64), "digits", (1, 8, 8))


def _warn_label_like(source: str, X: np.ndarray, names: list[str], option: str) -> None:
    for j, name in enumerate(names):
        if _LABEL_LIKE.match(name) and np.isin(np.unique(X[:, j]), (0, 1)).all():
            warnings.warn(
                f"{source}: column {name!r} holds only 0/1 and is named like a label, but it is being used "
                f"as a feature; if it marks anomalies, pass {option}{repr(name) if option.endswith('=') else name}.",
                LabelLikeColumnWarning,
                stacklevel=3,
            )


def anomaly_labels(ds: Dataset, anomaly_class: int | None = None) -> tuple[np.ndarray | None, int | None]:
    """0/1 labels (1 = anomaly) of ``ds`` and the anomaly class in effect: one rule for train and run.

    ``digits`` defaults to :data:`DIGITS_ANOMALY_CLASS`; files take labels that are already 0/1,
    or ``anomaly_class`` for labels with more classes. Unlabelled data gives ``(None, None)``.
    """
    if ds.y is None:
        if anomaly_class is not None:
            raise InvalidInputError(
                f"--anomaly-class {anomaly_class} needs labels, but {ds.name} has none; "
                "pass --label-column (CSV, Parquet) or store 'y' in the .npz."
            )
        return None, None
    if ds.name == "digits" and anomaly_class is None:
        anomaly_class = DIGITS_ANOMALY_CLASS
    return binary_labels(ds.y, anomaly_class), anomaly_class


def make_split(
    X: np.ndarray,
    y_anomaly: np.ndarray | None,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> Split:
    """Split rows into train / val / test.

    With labels (1 = anomaly) the model sees normal rows only (novelty detection):
    normal rows are split into train, val and test; every anomaly goes to test.
    Without labels all rows are split the same way.
    """
    rng = np.random.default_rng(seed)
    normal = np.flatnonzero(y_anomaly == 0) if y_anomaly is not None else np.arange(len(X))
    normal = rng.permutation(normal)
    n = len(normal)
    n_test = math.floor(n * test_fraction)
    n_val = max(1, math.floor(n * val_fraction))
    if n - n_test - n_val < 2:
        raise InvalidInputError(
            f"only {n} normal rows: too few to hold out {n_val} validation and {n_test} test rows "
            "and still train; provide more rows or lower --val-fraction."
        )
    test_idx = normal[:n_test]
    val_idx = normal[n_test : n_test + n_val]
    train_idx = normal[n_test + n_val :]
    test = y_test = None
    if y_anomaly is not None:
        anomalies = np.flatnonzero(y_anomaly == 1)
        test_idx = np.concatenate([test_idx, anomalies])
    if len(test_idx):
        test = X[test_idx]
        y_test = y_anomaly[test_idx] if y_anomaly is not None else None
    return Split(X, train_idx, X[val_idx], test, y_test)


def as_model_input(X: np.ndarray, input_rank: int, image_shape: tuple[int, ...] | None) -> np.ndarray:
    """View rows the way a model kind expects them: flat rows (rank 1) or (C, H, W) images."""
    if input_rank == 1:
        return X.reshape(len(X), -1)
    if X.ndim == 1 + input_rank:
        return X
    if image_shape is None or math.prod(image_shape) != math.prod(X.shape[1:]):
        raise InvalidInputError(
            f"this model kind expects images of rank {input_rank} (C, H, W), but the data has rows of "
            f"shape {X.shape[1:]} and no known image shape; save the data as an array of shape (n, C, H, W)."
        )
    return X.reshape(len(X), *image_shape)
