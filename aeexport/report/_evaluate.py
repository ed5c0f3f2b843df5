"""Evaluate a deployed bundle on labelled data: ROC-AUC, average precision and
precision / recall / F1 at the stored threshold, with an optional figure.

Scores come from :mod:`aeruntime` (the exported ONNX graphs), never from torch,
so the figures describe exactly what is deployed. Labels: 1 = anomaly,
0 = normal; scores: higher = more anomalous; a row is flagged when
``score > threshold``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.errors import InvalidInputError
from aeruntime.fs import atomic_write_bytes, check_output_file
from aeruntime.tables import read_table

from ..data import as_binary_labels, binary_labels, is_binary

__all__ = [
    "describe_threshold",
    "evaluate_bundle",
    "evaluate_scores",
    "format_report",
    "load_labelled",
    "plot_evaluation",
    "recall_at_fpr",
    "suggest_threshold",
]

#: false-positive rates the ``aeexport run`` summary gives the best recall at
RECALL_AT_FPR = (0.01, 0.05, 0.10)

#: the parameter name each threshold method shows in text ("percentile 95", "target FPR 0.05")
_PARAM_TEXT = {"percentile": "percentile", "contamination": "contamination", "fpr": "target FPR", "value": "fixed"}


def describe_threshold(method: str | None, params: dict[str, Any] | None = None) -> str:
    """How a threshold was chosen, as words: ``"percentile 95"``, ``"target FPR 0.05"``, ``"f1"``, ``"fixed"``."""
    params = params or {}
    if method in ("fixed", "override"):
        return "fixed" if method == "fixed" else "override"
    parts = [f"{_PARAM_TEXT.get(k, k)} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in params.items()]
    if method in ("percentile", "contamination", "target_fpr") and parts:
        return ", ".join(parts)
    return " ".join([str(method or "")] + ([f"({', '.join(parts)})"] if parts else [])).strip()


def suggest_threshold(scores: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The threshold at the ROC curve's best trade-off (Youden's J = recall - FPR is highest).

    Returns ``{"threshold", "recall", "false_positive_rate"}``, measured with ``score > threshold``
    (the runtime's rule) on the given rows; the threshold lies midway between two distinct scores, so
    it survives printing with 6 significant digits.
    """
    from sklearn.metrics import roc_curve

    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(y).reshape(-1)
    fpr, tpr, thr = roc_curve(labels, s)  # flags score >= thr
    best = int(np.argmax(tpr - fpr))
    t = float(thr[best])
    below = s[s < t]
    value = float((below.max() + t) / 2.0) if below.size and np.isfinite(t) else float(s.max())
    pred = s > value
    return {
        "threshold": value,
        "recall": float(pred[labels == 1].mean()),
        "false_positive_rate": float(pred[labels == 0].mean()),
    }


def recall_at_fpr(scores: np.ndarray, y: np.ndarray, rates: tuple[float, ...] = RECALL_AT_FPR) -> dict[str, float]:
    """The highest recall any threshold reaches at a false-positive rate of at most each of ``rates``,
    on these labelled rows (sklearn's ROC curve): ``{"0.01": recall, ...}``, keys as ``f"{rate:g}"``.

    A property of the ranking, not of the stored threshold: the threshold that reaches it is set
    on these labels.
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(
        np.asarray(y).reshape(-1), np.asarray(scores, dtype=np.float64).reshape(-1), drop_intermediate=False
    )
    return {f"{r:g}": float(tpr[fpr <= r + 1e-12].max()) for r in rates}


def evaluate_scores(scores: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, Any]:
    """Detection metrics of ``scores`` (n,) against labels ``y`` (n,) (1 = anomaly).

    Returns ROC-AUC and average precision (threshold-free, from sklearn.metrics) and
    precision, recall, F1, false-positive rate and the confusion counts at ``threshold``.
    """
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = as_binary_labels(y, s.size)
    if labels.min() == labels.max():
        raise InvalidInputError(
            f"evaluation needs both normal (0) and anomalous (1) rows, but all {labels.size} labels are "
            f"{int(labels[0])}; ROC-AUC and average precision are undefined. Add rows of the other class."
        )
    pred = (s > threshold).astype(np.int8)
    tp = int(((pred == 1) & (labels == 1)).sum())
    fp = int(((pred == 1) & (labels == 0)).sum())
    tn = int(((pred == 0) & (labels == 0)).sum())
    fn = int(((pred == 0) & (labels == 1)).sum())
    return {
        "rows": int(s.size),
        "anomalies": int(labels.sum()),
        "anomaly_share": float(labels.mean()),
        "roc_auc": float(roc_auc_score(labels, s)),
        "average_precision": float(average_precision_score(labels, s)),
        "threshold": float(threshold),
        "precision": float(precision_score(labels, pred, zero_division=0)),
        "recall": float(recall_score(labels, pred, zero_division=0)),
        "f1": float(f1_score(labels, pred, zero_division=0)),
        "false_positive_rate": fp / max(fp + tn, 1),
        "flagged_share": float(pred.mean()),
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


def load_labelled(
    data: str | Path,
    input_shape: tuple[int, ...],
    label_column: str | None = None,
    anomaly_class: int | None = None,
    header: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (n, *input_shape) and 0/1 labels (n,) from an .npz (``X``, ``y``) or a CSV label column.

    Labels are 0/1 (1 = anomaly), or classes of which ``anomaly_class`` is the anomaly; ``header``: a
    CSV's first line is a header (True), data (False) or decided by the runtime's rule (None).
    """
    from ..data import check_label_column

    check_label_column(data, label_column)
    X, y = read_table(data, label_column=label_column, header=header)
    if y is None:
        how = (
            "pass --label-column NAME"
            if Path(data).suffix.lower() == ".csv"
            else "save it with np.savez(path, X=X, y=y)"
        )
        raise InvalidInputError(
            f"{data}: evaluation needs labels (1 = anomaly, 0 = normal) but none were found; {how}."
        )
    X = np.asarray(X)
    n_in = math.prod(input_shape)
    if X.ndim < 2 or math.prod(X.shape[1:]) != n_in:
        got = X.shape[1] if X.ndim == 2 else X.shape[1:]
        raise InvalidInputError(
            f"{data}: rows have {got} features (data shape {X.shape}), but the bundle expects {n_in} "
            f"(input shape {tuple(input_shape)}); evaluate with data of the same columns the model was trained on."
        )
    if anomaly_class is not None:
        y = binary_labels(np.asarray(y).reshape(-1), anomaly_class)
    try:
        y = as_binary_labels(y, len(X), f"{data}: labels")
    except InvalidInputError as exc:
        classes = np.asarray(y).dtype.kind in "fiub" and not is_binary(y)
        if not classes:
            raise
        raise InvalidInputError(
            f"{exc} On the command line: pass --anomaly-class C to treat class C as the anomalies."
        ) from None
    return X.reshape(len(X), *input_shape), y


def evaluate_bundle(
    bundle: str | Path,
    data: str | Path,
    *,
    label_column: str | None = None,
    threshold: float | None = None,
    providers: Any = "auto",
    anomaly_class: int | None = None,
    header: bool | None = None,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Score labelled ``data`` with the deployed ``bundle`` (aeruntime) and measure detection.

    Returns ``(report, scores (n,), labels (n,))``; ``threshold`` overrides the stored one;
    ``anomaly_class`` maps class labels to 1 = anomaly; ``header``: as for :func:`load_labelled`.
    """
    import aeruntime

    model = aeruntime.load(bundle, providers=providers, threshold=threshold)
    if model.series is not None:  # per-step and event figures (aeexport.report._series)
        from ._series import evaluate_series

        report, scores, y = evaluate_series(model, data, label_column=label_column, header=header)
        report.update({"bundle": str(bundle), "series": True, "score": model.manifest["score"].get("name")})
        return report, scores, y
    X, y = load_labelled(data, model.input_shape, label_column, anomaly_class, header)
    scores = model.score(X)
    report = evaluate_scores(scores, y, model.threshold)
    thr = model.manifest["threshold"]
    report.update(
        {
            "bundle": str(bundle),
            "data": str(data),
            "score": model.manifest["score"].get("name"),
            "threshold_method": "override" if threshold is not None else thr.get("method"),
            "threshold_params": {} if threshold is not None else thr.get("params", {}),
        }
    )
    return report, scores, y


def format_report(r: dict[str, Any]) -> str:
    """The report as an aligned two-column table."""
    c = r["confusion"]
    rows = [
        ("data", f"{r.get('data', '')}: {r['rows']} rows, {r['anomalies']} anomalies ({r['anomaly_share']:.2%})"),
        ("score", f"{r.get('score', '')} (higher = more anomalous)"),
        ("ROC-AUC", f"{r['roc_auc']:.4f}"),
        ("avg prec", f"{r['average_precision']:.4f}"),
        (
            "threshold",
            f"{r['threshold']:.6g} ({describe_threshold(r.get('threshold_method'), r.get('threshold_params'))})",
        ),
        ("precision", f"{r['precision']:.4f}"),
        ("recall", f"{r['recall']:.4f}"),
        ("F1", f"{r['f1']:.4f}"),
        ("FPR", f"{r['false_positive_rate']:.4f}"),
        ("confusion", f"tp {c['tp']}  fp {c['fp']}  tn {c['tn']}  fn {c['fn']}"),
    ]
    return "\n".join(f"{k:<10} {v}" for k, v in rows)


def plot_evaluation(
    scores: np.ndarray, y: np.ndarray, threshold: float, path: str | Path, title: str = "", inputs: Iterable[Any] = ()
) -> Path:
    """Write a PNG: score histograms of normal vs anomalous rows with the threshold, and the ROC curve.

    The PNG is written atomically (:func:`aeruntime.fs.atomic_write_bytes`) under the output rule:
    ``path`` must not be one of ``inputs`` nor a directory.
    """
    try:
        import matplotlib
    except ImportError:
        from aeruntime.errors import AeError

        raise AeError(
            "--plot needs matplotlib, which is not installed; install it with "
            "pip install 'aeexport[plot]' (or pip install matplotlib), or drop --plot."
        ) from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    shown = str(path)
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InvalidInputError(f"--plot {str(path)!r}: expected a .png file name.")
    check_output_file(shown, option="--plot", inputs=inputs)
    s = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(y)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    positive = bool((s > 0).all())
    if positive and s.max() / max(s.min(), 1e-300) > 100:  # heavy tails: log-spaced bins
        bins = np.logspace(np.log10(s.min()), np.log10(s.max()), 50)
        ax1.set_xscale("log")
    else:
        bins = np.linspace(s.min(), s.max(), 50)
    for value, name, color in ((0, "normal", "tab:blue"), (1, "anomalous", "tab:red")):
        rows = labels == value
        ax1.hist(s[rows], bins=bins, alpha=0.6, density=True, color=color, label=f"{name} (n={int(rows.sum())})")
    ax1.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}")
    ax1.set_xlabel("anomaly score (higher = more anomalous)")
    ax1.set_ylabel("density")
    ax1.set_title("score distribution")
    ax1.legend(fontsize=8)
    fpr, tpr, _ = roc_curve(labels, s)
    auc = roc_auc_score(labels, s)
    pred = s > threshold
    op_fpr = float(pred[labels == 0].mean())
    op_tpr = float(pred[labels == 1].mean())
    ax2.plot(fpr, tpr, color="tab:red", label=f"ROC (AUC {auc:.3f})")
    ax2.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax2.scatter([op_fpr], [op_tpr], color="black", zorder=3, label=f"threshold (FPR {op_fpr:.2f}, TPR {op_tpr:.2f})")
    ax2.set_xlabel("false-positive rate")
    ax2.set_ylabel("true-positive rate")
    ax2.set_title("ROC curve")
    ax2.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())  # a full disk leaves the old PNG, never half a new one
    return path
