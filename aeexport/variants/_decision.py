"""Decision-level parity of a reduced-precision variant against its fp32 parent.

Element-wise tolerances (``parity.py``) are the wrong yardstick for int8 or fp16
graphs: their scores differ by design. What a user needs to know is whether the
variant takes the same *decisions*. For scores ``s_p`` (parent) and ``s_v``
(variant) on the same rows (higher = more anomalous) the report gives:

- score relative error ``|s_v - s_p| / |s_p|``: median (gated) and max (reported);
- Spearman rank correlation of the two score vectors (``scipy.stats.spearmanr``);
- the variant's own threshold, recalibrated so its false-positive rate holds
  (quantile matching, see :func:`recalibrate_threshold`);
- label agreement: parent labels at the parent threshold vs variant labels at the
  variant threshold;
- with labels: ROC-AUC of both (``sklearn.metrics.roc_auc_score``) and the drop.

Each check is compared with a :class:`DecisionTolerance` chosen per variant kind
(see ``docs/variants.md`` for the reasoning behind the numbers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..export import score_stats, verdict

__all__ = ["DecisionTolerance", "decision_report", "recalibrate_threshold", "format_decision_table"]


@dataclass(frozen=True)
class DecisionTolerance:
    """Limits a variant must meet against its parent (all on the same rows)."""

    spearman_min: float = 0.99  # rank correlation of scores, >=
    label_agreement_min: float = 0.97  # share of rows with the same label, >=
    median_rel_err_max: float = 0.05  # median |s_v - s_p| / |s_p|, <=
    roc_auc_drop_max: float = 0.02  # parent AUC - variant AUC, <= (labelled data only)


def recalibrate_threshold(
    parent_scores: np.ndarray, variant_scores: np.ndarray, parent_threshold: float, normal: np.ndarray | None = None
) -> dict[str, Any]:
    """The variant's threshold, placed so its false-positive rate equals the parent's.

    Quantile matching: ``q`` = share of normal rows whose parent score is <= the
    parent threshold (for the held-out rows the parent was calibrated on this is
    its percentile, 95 by default); the variant threshold is the ``q``-quantile
    of the variant's scores on the same rows (interpolated between the order
    statistics around it), so the same share of normal rows is flagged. If the parent threshold lies outside the range of these scores
    (``q`` is 0 or 1, e.g. on synthetic rows far from the data) the quantile
    says nothing, and the threshold is scaled by the median score ratio instead.

    Parameters
    ----------
    parent_scores, variant_scores : ndarray of shape (n_rows,)
    parent_threshold : float
    normal : bool ndarray of shape (n_rows,), optional
        Rows known to be normal (label 0); default: all rows.
    """
    sp = np.asarray(parent_scores, np.float64)
    sv = np.asarray(variant_scores, np.float64)
    if normal is not None and normal.any():
        sp, sv = sp[normal], sv[normal]
    q = float(np.mean(sp <= parent_threshold))
    if 0.0 < q < 1.0:
        # Map the threshold through the sorted scores: between the parent's order
        # statistics k and k+1 around it, linearly onto the variant's k and k+1.
        # Exactly as many normal rows fall above the result as above the parent's
        # threshold, and identical scores give back the identical threshold.
        ps, vs = np.sort(sp), np.sort(sv)
        k = int(np.searchsorted(ps, parent_threshold, side="right")) - 1
        lo_p, hi_p, lo_v, hi_v = ps[k], ps[k + 1], vs[k], vs[k + 1]
        frac = 0.0 if hi_p == lo_p else (parent_threshold - lo_p) / (hi_p - lo_p)
        value = float(lo_v + frac * (hi_v - lo_v))
        if value >= hi_v:  # keep row k+1 above the threshold
            value = float(np.nextafter(hi_v, -np.inf)) if hi_v > lo_v else float(lo_v)
        method = "quantile_matched"
    else:
        ratio = float(np.median(sv / np.where(sp == 0, np.nan, sp)))
        value = float(parent_threshold * (ratio if np.isfinite(ratio) else 1.0))
        method = "median_ratio"
    return {
        "value": value,
        "method": method,
        "params": {"parent_threshold": float(parent_threshold), "parent_quantile": q, "rows": int(sp.size)},
        "stats": score_stats(sv),
    }


def _check(name: str, value: float | None, limit: float, op: str) -> dict[str, Any]:
    if value is None or not np.isfinite(value):
        ok = False
    else:
        ok = bool(value >= limit) if op == ">=" else bool(value <= limit)
    return {"check": name, "value": value, "limit": f"{op} {limit:g}", "ok": ok}


def decision_report(
    parent_scores: np.ndarray,
    variant_scores: np.ndarray,
    *,
    parent_threshold: float,
    variant_threshold: float,
    tol: DecisionTolerance,
    y: np.ndarray | None = None,
) -> dict[str, Any]:
    """Compare two score vectors (n_rows,) at their thresholds; return the report dict.

    Parameters
    ----------
    parent_scores, variant_scores : ndarray of shape (n_rows,)
        Higher = more anomalous.
    y : ndarray of shape (n_rows,), optional
        1 = anomaly, 0 = normal; enables ROC-AUC and per-class false-positive rates.

    Returns
    -------
    dict with ``metrics``, ``checks`` (each with value, limit, ok), ``tolerance``, ``ok``.
    """
    from scipy.stats import spearmanr

    sp = np.asarray(parent_scores, np.float64)
    sv = np.asarray(variant_scores, np.float64)
    abs_err = np.abs(sv - sp)
    rel = abs_err / np.maximum(np.abs(sp), np.finfo(np.float32).tiny)
    rho = float(spearmanr(sp, sv).statistic) if sp.size > 1 else float("nan")
    lp = sp > parent_threshold
    lv = sv > variant_threshold
    metrics: dict[str, Any] = {
        "rows": int(sp.size),
        "score_rel_err_median": float(np.median(rel)),
        "score_rel_err_max": float(rel.max()),
        "score_abs_err_max": float(abs_err.max()),
        "spearman": rho,
        "label_agreement": float(np.mean(lp == lv)),
        "label_agreement_at_parent_threshold": float(np.mean(lp == (sv > parent_threshold))),
        "flagged_parent": float(lp.mean()),
        "flagged_variant": float(lv.mean()),
    }
    checks = [
        _check("score_rel_err_median", metrics["score_rel_err_median"], tol.median_rel_err_max, "<="),
        _check("spearman", rho, tol.spearman_min, ">="),
        _check("label_agreement", metrics["label_agreement"], tol.label_agreement_min, ">="),
    ]
    if y is not None and _labelled(metrics, y, sp, sv, lp, lv):
        checks.append(_check("roc_auc_drop", metrics["roc_auc_drop"], tol.roc_auc_drop_max, "<="))
    return {
        "kind": "decision",
        "tolerance": asdict(tol),
        "metrics": metrics,
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
        # keys shared with the fp32 parity report, read by `aeexport inspect` and aeruntime info
        "max_abs": metrics["score_abs_err_max"],
        "max_rel": metrics["score_rel_err_max"],
    }


def _labelled(
    metrics: dict[str, Any], y: np.ndarray, sp: np.ndarray, sv: np.ndarray, lp: np.ndarray, lv: np.ndarray
) -> bool:
    """Add ROC-AUC and false-positive rates of parent and variant to ``metrics`` when ``y`` (1 = anomaly)
    holds both classes; False (nothing added) otherwise. ``lp``/``lv``: rows flagged by each."""
    from sklearn.metrics import roc_auc_score

    yb = np.asarray(y).astype(bool)
    if not yb.any() or yb.all():
        return False
    metrics["roc_auc_parent"] = float(roc_auc_score(yb, sp))
    metrics["roc_auc_variant"] = float(roc_auc_score(yb, sv))
    metrics["roc_auc_drop"] = metrics["roc_auc_parent"] - metrics["roc_auc_variant"]
    metrics["false_positive_rate_parent"] = float(lp[~yb].mean())
    metrics["false_positive_rate_variant"] = float(lv[~yb].mean())
    return True


def _value(v: float | None) -> str:
    return str(v) if v is None else format(v, ">12.6g")


def format_decision_table(report: dict[str, Any]) -> str:
    """The decision-level report as a fixed-width text table."""
    m = report["metrics"]
    title = f"decision-level parity vs parent on {m['rows']} rows ({report.get('data', {}).get('source', '?')})"
    row = "{:<24} {:>12} {:>10}  {}"
    lines = [title, row.format("check", "value", "limit", "result")]
    lines += [row.format(c["check"], _value(c["value"]), c["limit"], verdict(c["ok"])) for c in report["checks"]]
    extra = [
        k
        for k in (
            "score_rel_err_max",
            "label_agreement_at_parent_threshold",
            "roc_auc_parent",
            "roc_auc_variant",
            "false_positive_rate_parent",
            "false_positive_rate_variant",
        )
        if k in m
    ]
    for k in extra:
        lines.append(f"{k:<36} {m[k]:.6g}")
    golden = report.get("golden") or []
    if golden:
        bad = [r["check"] for r in golden if not r["ok"]]
        lines.append(f"golden vectors: {'ok' if not bad else 'FAIL ' + ', '.join(bad)} ({len(golden)} outputs)")
    lines.append(f"overall: {verdict(report['ok'])}")
    return "\n".join(lines)
