"""``aeexport evaluate`` on a series bundle: per-step and event-level figures of the deployed graphs.

The series is scored by :func:`aeruntime.series.score_series` (row t: the window ending at t); the
first W-1 rows are warm-up (no score): they are **excluded from every metric and counted**
(``warmup_rows``). When the data holds the training part before the evaluated one (an ``.npz`` with
``X_train`` beside ``X_test``, the layout of ``../shared/datasets/series``), its last W-1 rows are
prepended as context (``context_rows``, never evaluated), so every test step is scored: warm-up 0,
as on a device that ran through the training period. On the scored rows:

- per-step AUC-PR (average precision) and AUC-ROC (scikit-learn), VUS-PR (TSB-AD's own code,
  ``TSB_AD.evaluation.basic_metrics.generate_curve``, version ``opt``, 250 thresholds, sliding
  window = the bundle's W);
- event level, on the alarms of the bundle's rule (labels ``score > threshold``, then the
  manifest's persistence rule, :mod:`aeruntime.series.alarm`): anomalous ranges (maximal runs of
  label 1) caught (an alarm inside the range), mean / median delay in steps from a caught range's
  first step to its first alarm, false alarms (alarms on normal steps) per 10,000 normal steps.

Data: a table (CSV/Parquet) of the bundle's columns with a per-step label column
(``--label-column``), or an ``.npz`` holding ``X_test`` / ``y_test`` (optionally ``X_train``, the
steps before them: the layout of ``../shared/datasets/series``) or ``X`` / ``y``. :data:`SERIES_METRICS` is the table printed, one
entry per figure.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.errors import AeError, InvalidInputError

__all__ = [
    "SERIES_METRICS",
    "event_figures",
    "evaluate_series",
    "format_series_report",
    "require_tsbad",
    "series_figures",
    "series_test_figures",
    "vus_pr",
]

#: the TSB-AD release whose metric code ``evaluate`` calls
TSB_AD_INSTALL = 'pip install --no-deps "tsb-ad>=1.5"'


def require_tsbad() -> None:
    """Raise :class:`AeError` naming the install when TSB-AD's metric code (VUS-PR) is missing."""
    try:
        import TSB_AD.evaluation.basic_metrics  # noqa: F401
    except ImportError:
        raise AeError(
            f"VUS-PR needs TSB-AD's metric code, which is not installed; install it with {TSB_AD_INSTALL}."
        ) from None


def vus_pr(labels: np.ndarray, scores: np.ndarray, sliding_window: int) -> float:
    """VUS-PR of per-step ``scores`` (n,) against 0/1 ``labels`` (n,): TSB-AD's own code, imported here."""
    require_tsbad()
    from TSB_AD.evaluation.basic_metrics import generate_curve

    y = np.asarray(labels).astype(int).reshape(-1)
    return float(generate_curve(y, np.asarray(scores, np.float64).reshape(-1), int(sliding_window), "opt", 250)[7])


def anomalous_ranges(labels: np.ndarray) -> list[tuple[int, int]]:
    """The maximal runs of 1 in ``labels`` (n,) as ``(start, end)`` pairs, ``end`` exclusive."""
    y = np.concatenate([[0], np.asarray(labels).astype(np.int8).reshape(-1), [0]])
    edges = np.flatnonzero(np.diff(y))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def event_figures(labels: np.ndarray, alarms: np.ndarray) -> dict[str, Any]:
    """Event-level figures of per-step ``alarms`` (n,) against per-step ``labels`` (n,), both 0/1.

    A range (maximal run of label 1) is caught when an alarm falls inside it; its delay is the
    steps from its first step to its first alarm. False alarms: alarms on steps labelled 0, per
    10,000 such steps. Delays are None when no range is caught.
    """
    y = np.asarray(labels).astype(bool).reshape(-1)
    a = np.asarray(alarms).astype(bool).reshape(-1)
    ranges = anomalous_ranges(y)
    delays = []
    for start, end in ranges:
        hits = np.flatnonzero(a[start:end])
        if hits.size:
            delays.append(int(hits[0]))
    normal = int((~y).sum())
    false = int((a & ~y).sum())
    return {
        "ranges": len(ranges),
        "ranges_caught": len(delays),
        "delay_mean": float(np.mean(delays)) if delays else None,
        "delay_median": float(np.median(delays)) if delays else None,
        "false_alarms": false,
        "normal_steps": normal,
        "false_alarms_per_10k": 1e4 * false / normal if normal else None,
    }


def load_series(data: str | Path, model: Any, label_column: str | None, header: bool | None) -> tuple:
    """Rows (n, C) float32 and 0/1 labels (n,) of a labelled series file for ``model``, and the context
    (k, C) float32: the last k <= W-1 training rows before them (an ``.npz`` with ``X_train`` beside
    ``X_test``), else (0, C)."""
    from aeruntime.tables import read_table

    from ..data import as_binary_labels

    path = Path(data)
    columns = model.input_shape[1]
    train = None
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as z:
            keys = ("X_test", "y_test") if "X_test" in z.files else ("X", "y")
            if not all(k in z.files for k in keys):
                raise InvalidInputError(
                    f"{data}: expected arrays X_test and y_test (or X and y), found {sorted(z.files)}; "
                    "save the series with np.savez(path, X_test=rows, y_test=labels)."
                )
            X, y = z[keys[0]], z[keys[1]]
            if keys[0] == "X_test" and "X_train" in z.files:
                train = z["X_train"]
    else:
        if label_column is None:
            raise InvalidInputError(
                f"{data}: evaluating a series needs a per-step label column (1 = anomalous step); "
                "pass --label-column NAME."
            )
        X, y = read_table(path, label_column=label_column, feature_names=model.feature_names, header=header)
    X = _series_rows(X, model, f"{data}", "the series")
    context = np.empty((0, columns), np.float32) if train is None else _context(train, model, f"{data}: X_train")
    return X, as_binary_labels(y, len(X), f"{data}: labels"), context


def _series_rows(X: Any, model: Any, where: str, what: str) -> np.ndarray:
    """``X`` as float32 (steps, C) for ``model``, or a one-line error."""
    X = np.asarray(X, dtype=np.float32)
    columns = model.input_shape[1]
    if X.ndim != 2 or X.shape[1] != columns:
        raise InvalidInputError(
            f"{where}: {what} has shape {X.shape}, expected (steps, {columns}): the bundle's windows are "
            f"{model.input_shape[0]} steps of {columns} columns; pass a series of those columns."
        )
    return X


def _context(train: Any, model: Any, where: str) -> np.ndarray:
    """The last W-1 rows (k, C) of the training part ``train`` (NaN/Inf refused, naming the row)."""
    from aeruntime.validation import check_finite

    rows = _series_rows(train, model, where, "the training part")
    first = max(len(rows) - (int(model.input_shape[0]) - 1), 0)
    context = np.ascontiguousarray(rows[first:])
    check_finite(context, where, start=first)
    return context


def _fmt(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


#: figure -> (label in the table, text of the report's value)
SERIES_METRICS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "steps": (
        "steps",
        lambda r: (
            f"{r['steps']} ({r['warmup_rows']} warm-up rows excluded, {r['scored']} scored)"
            + (
                f"; the last {r['context_rows']} training rows before them prepended as context"
                if r.get("context_rows")
                else ""
            )
        ),
    ),
    "anomalous_steps": ("anomalous", lambda r: f"{r['anomalous_steps']} steps ({r['anomaly_share']:.2%})"),
    "auc_pr": ("AUC-PR", lambda r: f"{r['auc_pr']:.4f}"),
    "auc_roc": ("AUC-ROC", lambda r: f"{r['auc_roc']:.4f}"),
    "vus_pr": ("VUS-PR", lambda r: f"{r['vus_pr']:.4f} (TSB-AD, sliding window {r['sliding_window']})"),
    "threshold": ("threshold", lambda r: f"{r['threshold']:.6g}, alarm rule {r['alarm_rule']}"),
    "ranges": ("ranges", lambda r: f"{r['ranges_caught']} of {r['ranges']} anomalous ranges caught"),
    "delay": (
        "delay",
        lambda r: f"mean {_fmt(r['delay_mean'], '.1f')}, median {_fmt(r['delay_median'], '.1f')} steps to first alarm",
    ),
    "false_alarms": (
        "false alm",
        lambda r: (
            f"{_fmt(r['false_alarms_per_10k'], '.1f')} per 10,000 normal steps "
            f"({r['false_alarms']} of {r['normal_steps']})"
        ),
    ),
}


def evaluate_series(
    model: Any, data: str | Path, *, label_column: str | None = None, header: bool | None = None
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Per-step and event figures of a loaded series ``model`` on labelled ``data`` (see the module).

    Returns ``(report, scores (n,), labels (n,))``: scores NaN on the warm-up rows (none when the
    training part's last W-1 rows were prepended as context).
    """
    from aeruntime.series import score_series

    X, y, context = load_series(data, model, label_column, header)
    window = int(model.input_shape[0])
    if len(context) + len(X) < window:
        before = f" (and {len(context)} training steps before them)" if len(context) else ""
        raise InvalidInputError(
            f"{data}: the series has {len(X)} steps{before}, fewer than the bundle's window of {window}; "
            f"expected at least {window} steps."
        )
    scores = score_series(model, np.concatenate([context, X]) if len(context) else X)
    report = {"data": str(data), "context_rows": len(context), **series_figures(model, scores, y, str(data))}
    return report, scores[len(context) :], y


def series_figures(model: Any, scores: np.ndarray, labels: np.ndarray, where: str) -> dict[str, Any]:
    """The figures of the module for per-step ``scores`` (k + n,) of a series ``model`` (NaN: warm-up)
    against 0/1 ``labels`` (n,) of its last n steps: the first k steps are context (scored, their
    alarms carried into the rule's state, never evaluated). ``where`` names the data in errors."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from aeruntime.series import AlarmRule

    window, k = int(model.input_shape[0]), len(scores) - len(labels)
    scored = ~np.isnan(scores)
    rule = model.manifest["series"]["alarm"]
    alarms = AlarmRule.from_manifest(model.manifest["series"]).apply(
        np.where(scored, scores > model.threshold, 0).astype(np.int8)
    )[k:][scored[k:]]
    s, y = scores[k:][scored[k:]].astype(np.float64), np.asarray(labels)[scored[k:]]
    if y.size == 0 or y.min() == y.max():
        raise InvalidInputError(
            f"{where}: after the {int((~scored[k:]).sum())} warm-up steps all {y.size} labels are "
            f"{int(y[0]) if y.size else 'absent'}; AUC-PR, AUC-ROC and VUS-PR need both normal (0) and "
            "anomalous (1) steps."
        )
    return {
        "steps": int(len(labels)),
        "warmup_rows": int((~scored[k:]).sum()),
        "scored": int(scored[k:].sum()),
        "anomalous_steps": int(y.sum()),
        "anomaly_share": float(y.mean()),
        "auc_pr": float(average_precision_score(y, s)),
        "auc_roc": float(roc_auc_score(y, s)),
        "vus_pr": vus_pr(y, s, window),
        "sliding_window": window,
        "threshold": float(model.threshold),
        "alarm_rule": f"k={rule['k']} of n={rule['n']}, hold-off {rule['hold_off']}",
        **event_figures(y, alarms),
    }


def series_test_figures(model: Any, tail: Any) -> tuple[dict[str, Any], np.ndarray]:
    """What ``aeexport run`` reports on the test part of a series (``tail``: an
    :class:`aeexport.data.SeriesTail`, its W-1 context steps first) scored by the exported ``model``:
    ``(figures, scores (n,))``, one score per test step. ``figures``: the steps, the share flagged
    (``score > threshold``) and, with per-step labels of both kinds, :func:`series_figures` under
    ``"series_test"``."""
    from aeruntime.series import score_series

    full = score_series(model, tail.rows)
    scores = full[tail.context :]
    flagged = np.where(np.isnan(scores), False, scores > model.threshold)
    figures: dict[str, Any] = {
        "test_steps": int(tail.steps),
        "test_context_rows": int(tail.context),
        "test_warmup_rows": int(np.isnan(scores).sum()),
        "test_anomaly_rate": float(flagged.mean()),
    }
    if tail.labels is not None:
        figures["test_true_anomaly_share"] = float(tail.labels.mean())
        y = tail.labels[~np.isnan(scores)]
        if y.size and y.min() != y.max():
            figures["series_test"] = series_figures(model, full, tail.labels, "the test part")
    return figures, scores


def format_series_report(report: dict[str, Any]) -> str:
    """The report as an aligned two-column table, one line per :data:`SERIES_METRICS` entry."""
    lines = [f"{'data':<10} {report['data']}"]
    lines += [f"{label:<10} {text(report)}" for label, text in SERIES_METRICS.values()]
    return "\n".join(lines)
