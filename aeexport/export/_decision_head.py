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

The count is exact and costs about ``2 sqrt(n)`` compares per row (never a broadcast of every
row against every calibration score): the scores are stored as a ``(blocks, B)`` table,
``B = ceil(sqrt(n + 1))``, padded with +inf; one compare per block's last score gives the
block holding the first score ``>= s`` (``Less``, ``Cast``, ``ReduceSum``), a ``Gather`` of
that block's row and ``B`` compares give the rest; ``p_value = (n + 1 - #{c < s}) / (n + 1)``
(``Mul``, ``Add``, ``Sub``, ``Div`` in float32 on exact integers). Operators: Unsqueeze, Less,
Cast, ReduceSum, Gather, Mul, Add, Sub, Div, Greater (:data:`aeruntime.format.ops.ALLOWED_OPS`).
An unrolled binary search (O(log n) compares) was measured slower: onnxruntime's Gather costs
about 80 ns per index, paid once per step. At most :data:`MAX_CALIBRATION` scores are stored;
more held-out rows are represented by evenly spaced order statistics, and the p-value
resolution is ``1 / (n + 1)``.
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
    "decision_golden",
    "decision_parity",
    "decision_reference",
    "decision_section",
    "has_decision_head",
    "read_calibration",
    "score_only",
    "variant_calibration",
]

#: most calibration scores stored in a graph: 2**10 - 1, a p-value resolution of 1/1024 (10 ranks at p <= 0.01);
#: the head's cost per row grows with sqrt(n) (benchmarks/results/decisions.md, sections 1 and 1b: at batch 65,536 on
#: digits-dense, n = 4,095 cost 7-15 points more than n = 1,023). More held-out rows are kept as exact order
#: statistics of all of them.
MAX_CALIBRATION = 1023
#: the most a head accepts: the former cap, so variants of bundles exported with it keep their head
_MAX_HEAD = 4095
#: names in the graph: the optional threshold input and the sorted calibration scores
THRESHOLD_INPUT = "threshold"
CALIBRATION = "aeexport_calibration_scores"
_BOUNDS = "aeexport_calibration_block_ends"
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


def _count_nodes(score: str, n: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes of ``p_value`` (batch,) from ``#{c < score}``, counted in two levels: the block of ``B`` sorted
    scores holding the first ``c >= score`` (one compare per block's last score), then within that block."""
    name = lambda s: f"{_PREFIX}{s}"  # noqa: E731
    width = int(np.ceil(np.sqrt(n + 1)))  # B
    s2 = name("s2")
    inits = [
        _const(name("axis1"), [1], np.int64),
        _const(name("width"), float(width), np.float32),
        _const(name("n1"), float(n + 1), np.float32),
    ]
    nodes = [helper.make_node("Unsqueeze", [score, name("axis1")], [s2])]
    for level, table in enumerate((_BOUNDS, CALIBRATION)):
        values = table
        if level == 1:  # the block's B scores (batch, B)
            nodes.append(helper.make_node("Cast", [name("c0")], [name("block")], to=TensorProto.INT64))
            nodes.append(helper.make_node("Gather", [table, name("block")], [name("row")], axis=0))
            values = name("row")
        nodes += [
            helper.make_node("Less", [values, s2], [name(f"lt{level}")]),
            helper.make_node("Cast", [name(f"lt{level}")], [name(f"f{level}")], to=TensorProto.FLOAT),
            helper.make_node("ReduceSum", [name(f"f{level}"), name("axis1")], [name(f"c{level}")], keepdims=0),
        ]
    nodes += [
        helper.make_node("Mul", [name("c0"), name("width")], [name("below")]),
        helper.make_node("Add", [name("below"), name("c1")], [name("count")]),
        helper.make_node("Sub", [name("n1"), name("count")], [name("at_least")]),  # 1 + #{c >= score}
        helper.make_node("Div", [name("at_least"), name("n1")], ["p_value"]),
    ]
    return nodes, inits


def add_decision_head(proto: onnx.ModelProto, calibration: np.ndarray, threshold: float) -> onnx.ModelProto:
    """A copy of the score-only scorer ``proto`` with ``label`` and ``p_value`` outputs and a ``threshold`` input.

    ``calibration``: sorted float32 scores (n,), 1 <= n <= 4,095 (:data:`MAX_CALIBRATION` for a new export, the
    former cap 4,095 for variants of bundles exported with it)
    (:func:`calibration_table`); ``threshold``: the calibrated threshold (float64).
    """
    cal = np.sort(np.asarray(calibration, np.float32).reshape(-1))
    if not 1 <= cal.size <= _MAX_HEAD or not np.isfinite(cal).all():
        raise ValueError(f"expected 1..{_MAX_HEAD} finite calibration scores, got {cal.size}")
    width = int(np.ceil(np.sqrt(cal.size + 1)))
    blocks = -(-(cal.size + 1) // width)  # at least one +inf pad: every score finds its block
    table = np.full((blocks, width), np.inf, np.float32)
    table.reshape(-1)[: cal.size] = cal
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    g = out.graph
    score = g.output[0].name
    nodes, inits = _count_nodes(score, cal.size)
    nodes.append(helper.make_node("Greater", [score, THRESHOLD_INPUT], ["label"]))
    g.node.extend(nodes)
    g.initializer.extend(
        [
            numpy_helper.from_array(table, CALIBRATION),
            numpy_helper.from_array(np.ascontiguousarray(table[:, -1]), _BOUNDS),
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
            cal = numpy_helper.to_array(init).reshape(-1)
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
    inits = [i for i in g.initializer if i.name not in (CALIBRATION, _BOUNDS, THRESHOLD_INPUT)]
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
    from ._golden import cpu_session

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

    from ..settings import Tolerance
    from ._golden import compare, cpu_session

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
