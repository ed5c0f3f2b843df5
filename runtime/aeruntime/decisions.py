"""Decisions from scores: conformal p-values, false-positive-rate and false-discovery-rate labels.

The numpy reference of what a decision scorer graph computes (``aeexport.decision_head``),
and the operating points a caller picks at run time. Scores are higher = more anomalous.

- :func:`conformal_p_values`: ``p(s) = (1 + #{c >= s}) / (n + 1)`` against the ``n`` sorted
  calibration scores ``c`` of held-out normal rows (Bates, Candes, Lei, Romano, Sesia,
  "Testing for outliers with conformal p-values", Annals of Statistics 2023). For a normal
  row exchangeable with the calibration rows, ``P(p <= a) <= a`` for every ``a``: flagging
  ``p <= a`` keeps the false-positive rate at most ``a``. The resolution is ``1 / (n + 1)``.
- :func:`fpr_labels`: ``p <= fpr``, exactly (from the integer rank behind each p-value),
  which is ``score > c_(n - m + 1)`` with ``m = floor(fpr * (n + 1))``: the threshold at
  that false-positive rate of the calibration scores.
- :func:`operating_point`: what ``fpr`` means for one bundle: the rank ``m``, the calibration score
  that is the threshold, and the order-statistic interval of the false-positive rate on unseen
  normal rows (Beta(m, n + 1 - m): which rows were held out moves it; the manifest's
  ``expected_false_positive_rate_interval`` is the same law for the calibrated threshold).
- :func:`benjamini_hochberg`: labels of a batch with its false-discovery rate controlled at
  ``q`` (Benjamini & Hochberg 1995; valid for conformal p-values, Bates et al. 2023).
- :func:`graph_threshold`: the float32 a graph compares with, so that
  ``score > graph_threshold(t)`` equals ``score > t`` for every float32 score.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .errors import InvalidInputError, ManifestError

__all__ = [
    "run_decisions",
    "DECISION_OUTPUTS",
    "benjamini_hochberg",
    "check_operating_point",
    "check_rate",
    "choose_labels",
    "decision_calibration",
    "conformal_p_values",
    "fpr_labels",
    "graph_threshold",
    "FPR_INTERVAL_LEVEL",
    "OperatingPoint",
    "beta_quantile",
    "calibration_scores",
    "fpr_rank",
    "operating_point",
    "p_value_ranks",
    "require_decisions",
    "threshold_input",
]

#: the scorer outputs of a decision scorer, in graph order
DECISION_OUTPUTS = ("score", "label", "p_value")


def check_rate(value: float, what: str) -> float:
    """``value`` as a float in (0, 1), else an :class:`InvalidInputError` naming ``what``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not 0.0 < v < 1.0:
        raise InvalidInputError(f"{what} must be a number in (0, 1), got {value!r}; e.g. 0.01.")
    return v


def graph_threshold(threshold: float) -> np.float32:
    """The largest float32 <= ``threshold``: ``s > result`` equals ``s > threshold`` for float32 ``s``."""
    t = np.float32(threshold)
    return np.nextafter(t, np.float32(-np.inf)) if float(t) > float(threshold) else t


def conformal_p_values(scores: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    """``(1 + #{c >= s}) / (n + 1)`` of each score (n_rows,) against ``calibration`` (n,), float32."""
    cal = np.sort(np.asarray(calibration, np.float32).reshape(-1))
    s = np.asarray(scores, np.float32).reshape(-1)
    at_least = cal.size - np.searchsorted(cal, s, side="left")  # #{c >= s}
    # float32 division of exact integers, as the graph's Div: the same rounding, bit for bit
    return (1 + at_least).astype(np.float32) / np.float32(cal.size + 1)


def p_value_ranks(p_values: np.ndarray, n: int) -> np.ndarray:
    """``1 + #{c >= s}`` (int64, (n_rows,)) behind float32 p-values of ``n`` calibration scores."""
    return np.rint(np.asarray(p_values, np.float64) * (n + 1)).astype(np.int64)


def fpr_rank(fpr: float, n: int) -> int:
    """``m = floor(fpr (n + 1))``: ``p <= fpr`` flags the rows with ``1 + #{c >= s} <= m``.

    Raises :class:`InvalidInputError` when ``fpr < 1 / (n + 1)``: no row could be flagged.
    """
    fpr = check_rate(fpr, "fpr")
    m = int(np.floor(fpr * (n + 1) + 1e-9))
    if m < 1:
        raise InvalidInputError(
            f"fpr {fpr:g} is below the p-value resolution 1/(n+1) = {1 / (n + 1):.3g} of this bundle's {n} "
            f"calibration scores: no row could be flagged. Use fpr >= {1 / (n + 1):.3g}, or re-export with more "
            "held-out rows."
        )
    return m


def fpr_labels(p_values: np.ndarray, n: int, fpr: float) -> np.ndarray:
    """1 where ``p <= fpr`` (the rows above the calibration scores' threshold at that rate), int8 (n_rows,).

    Raises :class:`InvalidInputError` when ``fpr < 1 / (n + 1)``: no row could be flagged.
    """
    return (p_value_ranks(p_values, n) <= fpr_rank(fpr, n)).astype(np.int8)


#: probability that the false-positive rate on unseen normal rows lies in the interval of an operating point
#: (the manifest's ``expected_false_positive_rate_interval`` uses the same level)
FPR_INTERVAL_LEVEL = 0.9


def beta_quantile(q: float, a: int, b: int) -> float:
    """The ``q`` quantile of Beta(a, b) for integers a, b >= 1 (no scipy: the runtime does not need it).

    For integer parameters ``P(Beta(a, b) <= x) = P(Binomial(a + b - 1, x) >= a)``, summed in log space
    and inverted by bisection to about 1e-12.
    """
    n = a + b - 1
    j = np.arange(a, n + 1)
    log_choose = np.array([math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in j])

    def cdf(x: float) -> float:
        terms = log_choose + j * math.log(x) + (n - j) * math.log1p(-x)
        top = float(terms.max())
        return math.exp(top) * float(np.exp(terms - top).sum())

    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if 0.0 < mid < 1.0 and cdf(mid) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


class OperatingPoint(NamedTuple):
    """What ``predict(x, fpr=...)`` does on one bundle (:func:`operating_point`)."""

    fpr: float  # the rate asked for
    calibration_scores: int  # n
    rank: int  # m = floor(fpr (n + 1)): rows with 1 + #{c >= s} <= m are flagged
    expected_fpr: float  # m / (n + 1) <= fpr: the rate over every possible held-out set
    low: float  # the false-positive rate on unseen normal rows lies in [low, high] with probability `level`
    high: float
    level: float
    threshold: float | None  # the m-th largest calibration score: flagged = score > threshold (None: not readable)

    def line(self) -> str:
        """One line for a person: the operating point, its threshold and its interval."""
        thr = "score > " + ("?" if self.threshold is None else f"{self.threshold:.6g}")
        return (
            f"fpr {self.fpr:g}: label 1 where {thr} (the calibration score ranked {self.rank} from the top of "
            f"{self.calibration_scores}); "
            f"expected false-positive rate {self.expected_fpr:.4g}, {self.level:.0%} interval "
            f"[{self.low:.4g}, {self.high:.4g}] (which rows were held out moves it)"
        )


def operating_point(
    fpr: float, n: int, calibration: np.ndarray | None = None, level: float = FPR_INTERVAL_LEVEL
) -> OperatingPoint:
    """The operating point ``p <= fpr`` of a decision scorer with ``n`` calibration scores.

    Given the held-out set, the false-positive rate on unseen normal rows is the normal distribution's
    share above the m-th largest calibration score: Beta(m, n + 1 - m) distributed (mean m / (n + 1)),
    exactly, for continuous scores; its ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles bound it.
    ``calibration``: the stored scores (n,) (:func:`calibration_scores`), for the threshold.
    """
    m = fpr_rank(fpr, n)
    threshold = None
    if calibration is not None and np.asarray(calibration).size == n:
        threshold = float(np.sort(np.asarray(calibration, np.float32).reshape(-1))[n - m])
    return OperatingPoint(
        fpr=float(fpr),
        calibration_scores=int(n),
        rank=m,
        expected_fpr=m / (n + 1),
        low=beta_quantile((1 - level) / 2, m, n + 1 - m),
        high=beta_quantile((1 + level) / 2, m, n + 1 - m),
        level=float(level),
        threshold=threshold,
    )


def calibration_scores(manifest: dict[str, Any], graph: bytes) -> np.ndarray | None:
    """The sorted calibration scores (n,) stored in a decision scorer's graph bytes (``.onnx``, or ``.ort`` read
    with onnxruntime's flatbuffer classes); None when the scorer has none or they cannot be read here."""
    from .format.onnxscan import ProtoError
    from .format.ortscan import OrtReaderMissing, is_ort_format, read_ort_initializer
    from .format.proto import read_initializer

    if decision_calibration(manifest) is None:
        return None
    p_value = _object(_object(manifest, "decisions", "decisions"), "p_value", "decisions.p_value")
    name = str(p_value.get("initializer", "aeexport_calibration_scores"))
    try:
        table = read_ort_initializer(graph, name) if is_ort_format(graph) else read_initializer(graph, name)
    except (OrtReaderMissing, ProtoError):  # the graph was checked at load; its threshold line says "?"
        return None
    if table is None:
        return None
    cal = table.reshape(-1)
    return np.sort(cal[np.isfinite(cal)])


def benjamini_hochberg(p_values: np.ndarray, q: float) -> np.ndarray:
    """Benjamini-Hochberg at level ``q`` over one batch's p-values (n_rows,): 1 = discovery, int8.

    The largest ``k`` with ``p_(k) <= k q / m`` (sorted ascending, ``m`` rows); the ``k``
    smallest p-values are discoveries. The expected share of normal rows among them is at most ``q``.
    """
    q = check_rate(q, "fdr")
    p = np.asarray(p_values, np.float64).reshape(-1)
    m = p.size
    out = np.zeros(m, np.int8)
    if m == 0:
        return out
    order = np.argsort(p, kind="stable")
    below = np.nonzero(p[order] <= q * np.arange(1, m + 1) / m)[0]
    if below.size:
        out[order[: below[-1] + 1]] = 1
    return out


def _object(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """``parent[key]`` (an empty object when absent), or a :class:`ManifestError` when it is not an object."""
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise ManifestError(
            f"manifest.json: {where} must be an object, got {type(value).__name__}; the manifest was edited or "
            f"damaged: re-export the bundle or restore its manifest.json."
        )
    return value


def decision_calibration(manifest: dict[str, Any]) -> int | None:
    """The number of calibration scores behind a decision scorer's p-values; None for a score-only bundle."""
    scorer = manifest.get("graphs", {}).get("scorer", {})
    if tuple(scorer.get("outputs", ())) != DECISION_OUTPUTS:
        return None
    section = _object(manifest, "decisions", "decisions")
    n = _object(section, "p_value", "decisions.p_value").get("calibration_scores")
    return int(n) if isinstance(n, int) and n > 0 else None


def threshold_input(manifest: dict[str, Any]) -> str:
    """The name of the decision scorer's optional threshold input."""
    section = _object(manifest, "decisions", "decisions")
    return str(_object(section, "threshold_input", "decisions.threshold_input").get("name", "threshold"))


def require_decisions(n: int | None, what: str) -> int:
    """``n``, or an :class:`InvalidInputError` saying that an old (score-only) bundle cannot give ``what``."""
    if n is None:
        raise InvalidInputError(
            f"{what} needs a bundle whose scorer outputs p_value (exported by aeexport with decisions); this "
            "bundle's scorer outputs score only. Re-export it with a current aeexport, or use the threshold."
        )
    return n


def check_operating_point(fpr: float | None, fdr: float | None) -> str | None:
    """Check an operating point before any work: ``"fpr"``, ``"fdr"`` or None (the threshold)."""
    if fpr is not None and fdr is not None:
        raise InvalidInputError(
            f"pass fpr ({fpr!r}) or fdr ({fdr!r}), not both: fpr sets one threshold for every row, fdr labels "
            "a batch with its false-discovery rate controlled."
        )
    if fpr is not None:
        check_rate(fpr, "fpr")
        return "fpr"
    if fdr is not None:
        check_rate(fdr, "fdr")
        return "fdr"
    return None


def choose_labels(
    label: np.ndarray, p_values: np.ndarray, n: int, fpr: float | None = None, fdr: float | None = None
) -> np.ndarray:
    """Labels (int8, (n_rows,)) at the operating point asked for: ``fpr`` (:func:`fpr_labels`), ``fdr``
    (:func:`benjamini_hochberg` over these rows) or neither (the graph's ``label``, score > threshold)."""
    check_operating_point(fpr, fdr)
    if fpr is not None:
        return fpr_labels(p_values, n, fpr)
    if fdr is not None:
        return benjamini_hochberg(p_values, fdr)
    return np.asarray(label).astype(np.int8)


def run_decisions(
    session: Any, inp: str, x: np.ndarray, feeds: dict[str, np.ndarray], chunk_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``score``, ``label``, ``p_value`` ((n,) each) of the decision scorer ``session`` on ``x`` (n, *shape),
    one call per ``chunk_rows`` rows, ``feeds`` (the threshold input) fed with each."""
    names = list(DECISION_OUTPUTS)
    parts = [session.run(names, {inp: x[i : i + chunk_rows], **feeds}) for i in range(0, len(x), chunk_rows)]
    return tuple(np.concatenate([part[k] for part in parts]) if parts else np.empty(0) for k in range(3))  # type: ignore[return-value]
