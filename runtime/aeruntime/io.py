"""Reading input tables and writing score outputs (.npy, .npz, .csv).

Shared by both command lines and by aeexport's data loading, so every tool reads
files the same way. Nothing here unpickles: ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from ._atomic import atomic_write_bytes
from .errors import BundleNotFoundError, InvalidInputError

__all__ = ["read_table", "write_scores", "check_output_path", "INPUT_SUFFIXES", "OUTPUT_SUFFIXES"]

INPUT_SUFFIXES = (".npy", ".npz", ".csv")
OUTPUT_SUFFIXES = (".npy", ".npz", ".csv")


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def label_index(path: Path, header: list[str] | None, label_column: str) -> int:
    """Column index of ``label_column`` in a CSV header, or a typed error listing the columns."""
    if header is None or label_column not in header:
        raise InvalidInputError(
            f"{path}: label column {label_column!r} not found; the columns are "
            f"{header if header else '(no header row)'}. Pass one of those names."
        )
    return header.index(label_column)


def _read_csv(path: Path, label_column: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    with open(path, newline="", encoding="utf-8") as fh:
        try:
            rows = list(csv.reader(fh))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"{path}: not a readable CSV file ({exc}).") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise InvalidInputError(f"{path}: the CSV file is empty; expected a header and numeric rows.")
    header: list[str] | None = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    width = len(header) if header else len(rows[0]) if rows else 0
    for i, r in enumerate(rows):
        if len(r) != width:
            raise InvalidInputError(
                f"{path}: line {i + 1 + (header is not None)} has {len(r)} fields, but the "
                f"{'header' if header else 'first line'} has {width}. Fix the malformed line."
            )
    y = None
    if label_column is not None:
        j = label_index(path, header, label_column)
        y_raw = [r[j] for r in rows]
        rows = [r[:j] + r[j + 1 :] for r in rows]
        try:
            y = np.asarray([float(v) for v in y_raw])
        except ValueError:
            raise InvalidInputError(f"{path}: label column {label_column!r} holds non-numeric values.") from None
    try:
        X = np.asarray([[float(c) for c in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise InvalidInputError(
            f"{path}: expected numeric values in every column, got {exc}. "
            "Drop or encode non-numeric columns first."
        ) from None
    if X.size == 0:
        X = X.reshape(0, width - (y is not None))
    return X, y


def read_table(
    path: str | os.PathLike[str], label_column: str | None = None, *, mmap: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read features and optional labels from ``.npy``, ``.npz`` or ``.csv``.

    Parameters
    ----------
    path : path-like
        ``.npy`` (an array of rows), ``.npz`` (``X`` and optional ``y``), or ``.csv``
        (optional header; numeric columns).
    label_column : str, optional
        CSV only: name of the column holding labels (removed from the features).
    mmap : bool
        Memory-map ``.npy`` files instead of reading them.

    Returns
    -------
    X : ndarray of shape (n_rows, ...)
    y : ndarray of shape (n_rows,) or None
    """
    path = Path(path)
    if not path.is_file():
        raise BundleNotFoundError(f"input file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None), None
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                if "X" not in data:
                    raise InvalidInputError(
                        f"{path}: an .npz input must hold an array named 'X' (and optionally 'y'); "
                        f"found {sorted(data.files)}. Save with np.savez(path, X=X, y=y)."
                    )
                return data["X"], (data["y"] if "y" in data else None)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(
            f"{path}: cannot read it as {suffix} ({exc}); the file may be truncated, or hold "
            "pickled objects, which are never loaded. Save plain numeric arrays with np.save."
        ) from None
    if suffix == ".csv":
        return _read_csv(path, label_column)
    raise InvalidInputError(
        f"{path}: unsupported input type {suffix!r}; expected one of {', '.join(INPUT_SUFFIXES)}."
    )


def check_output_path(path: str | os.PathLike[str] | None) -> None:
    """Raise :class:`InvalidInputError` unless ``path`` is None or has a supported suffix."""
    if path is not None and Path(path).suffix.lower() not in OUTPUT_SUFFIXES:
        raise InvalidInputError(
            f"--out {str(path)!r}: unsupported output type {Path(path).suffix!r}; "
            f"expected one of {', '.join(OUTPUT_SUFFIXES)}."
        )


def write_scores(path: str | os.PathLike[str] | None, scores: np.ndarray, labels: np.ndarray) -> str | None:
    """Write scores and labels atomically to ``.npy`` (structured), ``.npz`` or ``.csv``.

    With ``path=None`` the CSV text is returned instead (for stdout).
    """
    if path is None:
        return _csv_text(scores, labels)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = _csv_text(scores, labels).encode()
    elif suffix in (".npy", ".npz"):
        buf = io.BytesIO()
        if suffix == ".npy":
            rec = np.empty(len(scores), dtype=[("score", "<f4"), ("label", "i1")])
            rec["score"], rec["label"] = scores, labels
            np.save(buf, rec, allow_pickle=False)
        else:
            np.savez(buf, score=scores, label=labels)
        data = buf.getvalue()
    else:
        check_output_path(path)
    atomic_write_bytes(path, data)
    return None


def _csv_text(scores: np.ndarray, labels: np.ndarray) -> str:
    lines = ["score,label"]
    lines += [f"{s:.9g},{int(lab)}" for s, lab in zip(scores.tolist(), labels.tolist())]
    return "\n".join(lines) + "\n"
