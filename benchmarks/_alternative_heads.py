"""Two alternative decision heads, measured by ``bench_decisions.py --alternatives`` and not shipped.

**The broadcast head** (:func:`add_broadcast_head`) is the fewest nodes an exact head can have with
the allow-listed operators: one compare of every row against every stored score (``Unsqueeze``,
``Less``, ``Cast``, ``ReduceSum``, ``Sub``, ``Div``, and ``Greater`` for the label: 7 nodes). It bounds
what any head costs at batch 1, and is the trap the issue names at large batches (n compares a row).

**The grid head** (:func:`add_grid_head`). The shipped head (:func:`aeexport.export.add_decision_head`)
counts ``#{c < score}`` in two levels of ``B = ceil(sqrt(n + 1))`` compares each. This one finds the bucket of a uniform grid over the
calibration scores by arithmetic (no compare per block), then compares the row against the few
scores near that bucket:

- ``j = int(relu(where(t < T, t, T)))``, ``t = (score - c_min) * k`` (a NaN or a score past the grid
  lands in the overflow bucket ``T``);
- ``at_least = above[j] + #{r in rows[j] : score <= r}``, ``rows[j]`` (K,) the calibration scores of
  buckets ``j - 1 .. j + 1`` (NaN-padded: never counted), ``above[j] = 1 + #{c in buckets > j + 1}``;
- ``p_value = at_least / (n + 1)``.

Exact for every float32 score (a NaN gets ``1 / (n + 1)``, the numpy reference's value): the bucket is
monotone in the score, so every calibration score of a bucket below ``j - 1`` is below the score and
every one above ``j + 1`` above it. It needs ``Where`` and ``LessOrEqual``, which are not on
aeruntime's allow-list, and its table grows with the grid (``(T + 1) K`` floats).
"""

from __future__ import annotations

import numpy as np

__all__ = ["add_broadcast_head", "add_grid_head", "grid_table"]

_PREFIX = "grid_head_"
#: most floats in the candidate table (256 KiB)
MAX_TABLE = 65536


def _buckets(s: np.ndarray, lo: np.float32, k: np.float32, top: int) -> np.ndarray:
    """The graph's bucket of each float32 score, computed with the same float32 operations."""
    with np.errstate(invalid="ignore", over="ignore"):
        t = (np.asarray(s, np.float32) - lo) * k
        t = np.where(t < np.float32(top), t, np.float32(top))
    return np.maximum(t, np.float32(0)).astype(np.int64)


def _table(cal: np.ndarray, top: int, up: float) -> tuple[np.float32, np.float32, np.ndarray, np.ndarray]:
    n, lo = cal.size, cal[0]
    k = np.float32(top / (up - float(lo))) if up > lo else np.float32(1.0)
    cum = np.concatenate([[0], np.cumsum(np.bincount(_buckets(cal, lo, k, top), minlength=top + 1))])
    first = np.maximum(np.arange(top + 1) - 1, 0)
    last = np.minimum(np.arange(top + 1) + 1, top)
    starts, ends = cum[first], cum[last + 1]
    rows = np.full((top + 1, max(int((ends - starts).max()), 1)), np.nan, np.float32)
    for j, (a, z) in enumerate(zip(starts, ends)):
        rows[j, : z - a] = cal[a:z]
    return lo, k, rows, (1 + n - ends).astype(np.float32)


def grid_table(calibration: np.ndarray) -> tuple[np.float32, np.float32, np.ndarray, np.ndarray]:
    """``(c_min, k, rows (T + 1, K), above (T + 1,))`` of sorted float32 ``calibration``: the grid size
    T and its upper end (a quantile; the scores above it share the overflow bucket) that give the
    narrowest rows K within :data:`MAX_TABLE` floats (the narrowest of all when none fits: a clump of
    equal or close scores, or a heavy tail, widens every choice)."""
    cal = np.sort(np.asarray(calibration, np.float32).reshape(-1))
    tables = [
        _table(cal, top, float(np.quantile(cal, q)))
        for top in (256, 512, 1024, 2048, 4096, 8192)
        for q in (0.9, 0.97, 0.99, 0.995, 0.999, 1.0)
    ]
    fitting = [t for t in tables if t[2].size <= MAX_TABLE] or tables  # none fits: the narrowest
    return min(fitting, key=lambda t: (t[2].shape[1], t[2].size))


def _row_count(name, op: str, lhs: str, rhs: str, out: str) -> list:
    """Nodes of ``out`` (batch,): per row, how many of ``op(lhs, rhs)`` (a compare broadcast to (batch, K)) hold
    (``Cast`` to float, ``ReduceSum`` over axis 1, whose initializer is ``name("axis1")``)."""
    from onnx import TensorProto, helper

    return [
        helper.make_node(op, [lhs, rhs], [name(f"{out}_bool")]),
        helper.make_node("Cast", [name(f"{out}_bool")], [name(f"{out}_float")], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", [name(f"{out}_float"), name("axis1")], [name(out)], keepdims=0),
    ]


def _with_outputs(proto, nodes, consts: dict, threshold: float):
    """A copy of ``proto`` with ``nodes`` (which compute ``p_value``) appended, the ``label`` node
    (``score > threshold``), ``consts`` as initializers (name -> array), the ``threshold`` input and the
    ``label`` and ``p_value`` outputs (the shipped head's interface)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(proto)
    g = out.graph
    g.node.extend(nodes)
    g.node.append(helper.make_node("Greater", [g.output[0].name, "threshold"], ["label"]))
    g.initializer.extend(numpy_helper.from_array(np.asarray(v), key) for key, v in consts.items())
    g.initializer.append(numpy_helper.from_array(np.asarray(threshold, np.float32), "threshold"))
    g.input.append(helper.make_tensor_value_info("threshold", TensorProto.FLOAT, []))
    for output, dtype in (("label", TensorProto.BOOL), ("p_value", TensorProto.FLOAT)):
        g.output.append(helper.make_tensor_value_info(output, dtype, [None]))
    out.ir_version = max(out.ir_version, 4)
    onnx.checker.check_model(out, full_check=True)
    return out


def add_broadcast_head(proto, calibration: np.ndarray, threshold: float):
    """``proto`` with the 7-node broadcast head: ``p_value = (n + 1 - #{c < score}) / (n + 1)``, the
    count one ``Less`` of the (batch, 1) scores against all n sorted scores."""
    from onnx import helper

    cal = np.sort(np.asarray(calibration, np.float32).reshape(-1))
    name = lambda s: f"broadcast_head_{s}"  # noqa: E731
    score = proto.graph.output[0].name
    nodes = [
        helper.make_node("Unsqueeze", [score, name("axis1")], [name("s2")]),
        *_row_count(name, "Less", name("cal"), name("s2"), "below"),
        helper.make_node("Sub", [name("n1"), name("below")], [name("at_least")]),
        helper.make_node("Div", [name("at_least"), name("n1")], ["p_value"]),
    ]
    consts = {name("cal"): cal, name("axis1"): np.array([1], np.int64), name("n1"): np.float32(cal.size + 1)}
    return _with_outputs(proto, nodes, consts, threshold)


def add_grid_head(proto, calibration: np.ndarray, threshold: float):
    """A copy of the score-only scorer ``proto`` with ``label`` and ``p_value`` from the grid head and a
    ``threshold`` input (the outputs and input of the shipped head)."""
    from onnx import TensorProto, helper

    lo, k, rows, above = grid_table(calibration)
    n = int(np.asarray(calibration).size)
    name = lambda s: f"{_PREFIX}{s}"  # noqa: E731
    score = proto.graph.output[0].name
    nodes = [
        helper.make_node("Sub", [score, name("lo")], [name("d")]),
        helper.make_node("Mul", [name("d"), name("k")], [name("t")]),
        helper.make_node("Less", [name("t"), name("top")], [name("inside")]),
        helper.make_node("Where", [name("inside"), name("t"), name("top")], [name("t1")]),
        helper.make_node("Relu", [name("t1")], [name("t2")]),
        helper.make_node("Cast", [name("t2")], [name("j")], to=TensorProto.INT64),
        helper.make_node("Gather", [name("rows"), name("j")], [name("r")], axis=0),
        helper.make_node("Gather", [name("above"), name("j")], [name("a")], axis=0),
        helper.make_node("Unsqueeze", [score, name("axis1")], [name("s2")]),
        *_row_count(name, "LessOrEqual", name("s2"), name("r"), "cnt"),
        helper.make_node("Add", [name("a"), name("cnt")], [name("at_least")]),
        helper.make_node("Div", [name("at_least"), name("n1")], ["p_value"]),
    ]
    consts = {"lo": lo, "k": k, "top": np.float32(rows.shape[0] - 1), "rows": rows, "above": above}
    consts |= {"axis1": np.array([1], np.int64), "n1": np.float32(n + 1)}
    return _with_outputs(proto, nodes, {name(key): v for key, v in consts.items()}, threshold)
