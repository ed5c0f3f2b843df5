"""The decision head: ``label`` and ``p_value`` outputs composed onto an exported scorer graph.

After the torch export, :func:`add_decision_head` appends nodes to the scorer graph
(``onnx.helper``), so every runtime that loads ``scorer.onnx`` gets, besides
``score`` (batch,) float32:

- ``label`` (batch,) **bool**: ``score > threshold``. ``threshold`` is an optional graph
  input, a float32 scalar (shape ``[]``), whose default is an initializer of the same
  name holding the calibrated threshold (rounded down to float32,
  :func:`aeruntime.decisions.graph_threshold`, so the label equals ``score > threshold``
  in float64); a runtime feeds another value without re-exporting. bool is one byte
  in C (``ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL``) and a ``Uint8Array`` in onnxruntime-node/web.
- ``p_value`` (batch,) float32: ``(1 + #{c >= score}) / (n + 1)`` against the ``n``
  sorted held-out calibration scores ``c`` stored as the initializer
  :data:`CALIBRATION` (:func:`aeruntime.decisions.conformal_p_values` is the reference).

The count is an unrolled binary search, exact and O(k) per row (never a broadcast of
every row against every calibration score): the scores are stored padded with +inf to
``2**k - 1`` values; with ``q`` the probe position, each step is ``b = Less(Gather(cal, q),
score)``, ``q += Where(b, +h, -h)`` for the halving ``h``, and the last step gives
``#{c < score} = q + b``; ``p_value = Gather(P, #{c < score})`` from the table
``P[i] = (n + 1 - i) / (n + 1)``. Operators: Gather, Less, Where, Cast, Add, Greater
(see :data:`aeruntime.format.ops.ALLOWED_OPS`). At most :data:`MAX_CALIBRATION` scores
are stored; more held-out rows are represented by evenly spaced order statistics, and the
p-value resolution is ``1 / (n + 1)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from aeruntime.decisions import DECISION_OUTPUTS, conformal_p_values, graph_threshold

__all__ = [
    "CALIBRATION",
    "MAX_CALIBRATION",
    "THRESHOLD_INPUT",
    "add_decision_head",
    "calibration_table",
    "decision_reference",
    "decision_section",
    "has_decision_head",
    "read_calibration",
    "score_only",
]

#: most calibration scores stored in a graph (2**12 - 1: k = 12 search steps)
MAX_CALIBRATION = 4095
#: names in the graph: the optional threshold input and the sorted calibration scores
THRESHOLD_INPUT = "threshold"
CALIBRATION = "aeexport_calibration_scores"
_P_TABLE = "aeexport_p_value_table"
_PREFIX = "aeexport_decision_"


def calibration_table(scores: np.ndarray, max_n: int = MAX_CALIBRATION) -> np.ndarray:
    """The sorted float32 calibration scores (n,) stored in the graph, n <= ``max_n``.

    With more than ``max_n`` held-out scores, the order statistics at ranks
    ``ceil(j (N + 1) / (max_n + 1))``, j = 1..max_n (evenly spaced quantiles) are kept.
    """
    s = np.sort(np.asarray(scores, np.float32).reshape(-1))
    if s.size <= max_n:
        return s
    ranks = np.ceil(np.arange(1, max_n + 1) * (s.size + 1) / (max_n + 1)).astype(np.int64)
    return s[np.clip(ranks, 1, s.size) - 1]


def _const(name: str, value: Any, dtype: Any) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def _search_nodes(score: str, k: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """Nodes of the unrolled binary search: the name of ``#{c < score}`` (batch,) int32."""
    n = lambda s: f"{_PREFIX}{s}"  # noqa: E731
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    step, q = 1 << (k - 1), None
    for i in range(k):
        b = n(f"b{i}")
        if q is None:  # first probe: the constant middle position
            start = step - 1
            inits.append(_const(n("mid"), start, np.int32))
        nodes.append(helper.make_node("Gather", [CALIBRATION, q or n("mid")], [n(f"v{i}")]))
        nodes.append(helper.make_node("Less", [n(f"v{i}"), score], [b]))
        if step == 1:  # last step: #{c < score} = q + b
            nodes.append(helper.make_node("Cast", [b], [n("bi")], to=TensorProto.INT32))
            out = n("count")
            nodes.append(helper.make_node("Add", [q if q is not None else n("mid"), n("bi")], [out]))
            return nodes, inits, out
        h = step // 2
        up, down = n(f"up{i}"), n(f"down{i}")
        if q is None:  # Where over two constants: the second probe directly
            inits += [_const(up, start + h, np.int32), _const(down, start - h, np.int32)]
            q = n(f"q{i}")
            nodes.append(helper.make_node("Where", [b, up, down], [q]))
        else:
            inits += [_const(up, h, np.int32), _const(down, -h, np.int32)]
            nodes.append(helper.make_node("Where", [b, up, down], [n(f"d{i}")]))
            nodes.append(helper.make_node("Add", [q, n(f"d{i}")], [n(f"q{i}")]))
            q = n(f"q{i}")
        step = h
    raise AssertionError("unreachable")  # pragma: no cover


def add_decision_head(proto: onnx.ModelProto, calibration: np.ndarray, threshold: float) -> onnx.ModelProto:
    """A copy of the score-only scorer ``proto`` with ``label`` and ``p_value`` outputs and a ``threshold`` input.

    ``calibration``: sorted float32 scores (n,), 1 <= n <= :data:`MAX_CALIBRATION`
    (:func:`calibration_table`); ``threshold``: the calibrated threshold (float64).
    """
    cal = np.sort(np.asarray(calibration, np.float32).reshape(-1))
    if not 1 <= cal.size <= MAX_CALIBRATION or not np.isfinite(cal).all():
        raise ValueError(f"expected 1..{MAX_CALIBRATION} finite calibration scores, got {cal.size}")
    k = max(1, int(np.ceil(np.log2(cal.size + 1))))
    padded = np.full((1 << k) - 1, np.inf, np.float32)
    padded[: cal.size] = cal
    p_table = ((cal.size + 1 - np.arange(padded.size + 1)) / (cal.size + 1)).astype(np.float32)
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    g = out.graph
    score = g.output[0].name
    nodes, inits, count = _search_nodes(score, k)
    nodes += [
        helper.make_node("Gather", [_P_TABLE, count], ["p_value"]),
        helper.make_node("Greater", [score, THRESHOLD_INPUT], ["label"]),
    ]
    g.node.extend(nodes)
    g.initializer.extend(
        [
            numpy_helper.from_array(padded, CALIBRATION),
            numpy_helper.from_array(np.maximum(p_table, 0).astype(np.float32), _P_TABLE),
            numpy_helper.from_array(np.asarray(graph_threshold(threshold), np.float32), THRESHOLD_INPUT),
            *inits,
        ]
    )
    g.input.append(helper.make_tensor_value_info(THRESHOLD_INPUT, TensorProto.FLOAT, []))
    batch = g.output[0].type.tensor_type.shape.dim[0]
    for name, dtype in (("label", TensorProto.BOOL), ("p_value", TensorProto.FLOAT)):
        vi = helper.make_tensor_value_info(name, dtype, [None])
        vi.type.tensor_type.shape.dim[0].CopyFrom(batch)
        g.output.append(vi)
    if out.ir_version < 4:  # inputs with initializer defaults need IR >= 4
        out.ir_version = 4
    onnx.checker.check_model(out, full_check=True)
    return out


def has_decision_head(proto: onnx.ModelProto) -> bool:
    """Whether ``proto`` is a decision scorer (its outputs are :data:`DECISION_OUTPUTS`)."""
    return tuple(o.name for o in proto.graph.output) == DECISION_OUTPUTS


def read_calibration(proto: onnx.ModelProto) -> np.ndarray:
    """The stored calibration scores (n,) of a decision scorer, without the +inf padding."""
    for init in proto.graph.initializer:
        if init.name == CALIBRATION:
            cal = numpy_helper.to_array(init)
            return cal[np.isfinite(cal)]
    raise ValueError("the graph has no decision head")


def score_only(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The score-only scorer under a decision scorer's head (the head's nodes, initializers and I/O removed)."""
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    g = out.graph
    keep = [node for node in g.node if not any(o.startswith(_PREFIX) or o in DECISION_OUTPUTS[1:] for o in node.output)]
    del g.node[:]
    g.node.extend(keep)
    inits = [i for i in g.initializer if i.name not in (CALIBRATION, _P_TABLE, THRESHOLD_INPUT)]
    inits = [i for i in inits if not i.name.startswith(_PREFIX)]
    del g.initializer[:]
    g.initializer.extend(inits)
    for field, names in ((g.input, (THRESHOLD_INPUT,)), (g.output, DECISION_OUTPUTS[1:])):
        kept = [v for v in field if v.name not in names]
        del field[:]
        field.extend(kept)
    return out


def decision_reference(scores: np.ndarray, calibration: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """What the head computes from ``scores`` (n_rows,), in numpy: ``label`` (bool) and ``p_value`` (float32)."""
    s = np.asarray(scores, np.float32).reshape(-1)
    return {"label": s > graph_threshold(threshold), "p_value": conformal_p_values(s, calibration)}


def decision_section(calibration: np.ndarray, held_out: int) -> dict[str, Any]:
    """The manifest's ``decisions`` section of a decision scorer."""
    n = int(np.asarray(calibration).size)
    return {
        "outputs": list(DECISION_OUTPUTS),
        "label": {"output": "label", "dtype": "bool", "rule": "score > threshold"},
        "threshold_input": {"name": THRESHOLD_INPUT, "dtype": "float32", "shape": [], "default": "threshold.value"},
        "p_value": {
            "output": "p_value",
            "dtype": "float32",
            "rule": "(1 + #{calibration scores >= score}) / (n + 1)",
            "calibration_scores": n,
            "held_out_rows": int(held_out),
            "resolution": 1.0 / (n + 1),
            "initializer": CALIBRATION,
            "subsampled": bool(held_out > n),
        },
    }


def decision_golden(scorer: onnx.ModelProto) -> Any:
    """``(x, [("score", expected)]) -> the scorer's golden outputs``: ``label`` and ``p_value`` added from
    :func:`decision_reference` on the score the graph itself computes for ``x`` (a torch score one
    float32 step away would move a p-value at a tie with a stored calibration score)."""
    if not has_decision_head(scorer):
        return lambda x, outputs: outputs
    from .golden import cpu_session

    sess, cal, thr = cpu_session(scorer.SerializeToString()), read_calibration(scorer), _default_threshold(scorer)

    def outputs(x: np.ndarray, score: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
        ref = decision_reference(sess.run(["score"], {"x": x})[0], cal, thr)
        return [*score, ("label", ref["label"]), ("p_value", ref["p_value"])]

    return outputs


def _default_threshold(proto: onnx.ModelProto) -> float:
    for init in proto.graph.initializer:
        if init.name == THRESHOLD_INPUT:
            return float(numpy_helper.to_array(init))
    raise ValueError("the graph has no decision head")


def decision_parity(
    bundle_dir: Any, graphs: dict[str, dict[str, Any]], X: np.ndarray, batches: tuple[int, ...], seed: int = 0
) -> list[dict[str, Any]]:
    """Parity rows ``label`` / ``p_value``: the graph's outputs against :func:`decision_reference` on the
    graph's own scores, at each batch (rows of ``X`` (n, *input_shape), drawn with replacement when fewer);
    labels and p-values must be equal. Empty for a scorer without a decision head."""
    from pathlib import Path

    from .golden import Tolerance, compare, cpu_session

    info = graphs.get("scorer")
    if info is None or tuple(info["outputs"]) != DECISION_OUTPUTS:
        return []
    proto = onnx.load(Path(bundle_dir) / info["file"])
    sess, cal, thr = cpu_session(proto.SerializeToString()), read_calibration(proto), _default_threshold(proto)
    rng, exact = np.random.default_rng(seed), Tolerance(atol=0.0, rtol=0.0)  # labels, p-values: equal
    rows = []
    for b in batches:
        idx = np.arange(b) if b <= len(X) else rng.integers(0, len(X), size=b)
        score, label, p = sess.run(
            list(DECISION_OUTPUTS), {info["inputs"][0]: np.ascontiguousarray(X[idx], np.float32)}
        )
        ref = decision_reference(score, cal, thr)
        rows.append({"check": "decision:label", "batch": b, **compare(label, ref["label"], exact)})
        rows.append({"check": "decision:p_value", "batch": b, **compare(p, ref["p_value"], exact)})
    return rows


def variant_calibration(calibration: np.ndarray, parent_scores: np.ndarray, variant_scores: np.ndarray) -> np.ndarray:
    """The parent's calibration scores (n,) carried onto a variant's score scale: quantile matching
    between the parent's and the variant's scores of the same rows (``np.interp`` between their
    sorted values; beyond their range, scaled by the ratio at that end), the rule the variant's
    threshold follows (:func:`aeexport.decision.recalibrate_threshold`). Sorted float32 (n,)."""
    ps = np.sort(np.asarray(parent_scores, np.float64))
    vs = np.sort(np.asarray(variant_scores, np.float64))
    c = np.asarray(calibration, np.float64)
    out = np.interp(c, ps, vs)
    for outside, end in ((c > ps[-1], -1), (c < ps[0], 0)):
        if ps[end] != 0:  # not clamped: tail scores above the rows' range keep their spread
            out[outside] = c[outside] * (vs[end] / ps[end])
    return np.sort(out.astype(np.float32))
