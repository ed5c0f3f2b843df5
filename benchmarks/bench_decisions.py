"""The decision scorer (score, label, p_value) against the score-only scorer, side by side.

The same scorer graph: without the decision head (``aeexport.export.score_only``), with two
``Identity`` outputs added (the floor: what fetching two more outputs costs, whatever computes
them), and with the head (``add_decision_head``: the two-level count over the stored calibration
scores) at 255, 1,023 (the most stored now, ``MAX_CALIBRATION``) and 4,095 (the former cap) scores. onnxruntime
CPU sessions as a consumer creates them, one intra-op thread; batch 1 (µs per call) and batch
65,536 (ms per call), timed in turn on the process's CPU clock (:func:`cpu_interleaved`). Goal: the decisions cost at most
10% more than the score.

    PYTHONPATH=.:runtime nice -n 15 python benchmarks/bench_decisions.py --bundle models/digits-dense --record
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import parser, write  # noqa: E402


def _session(proto, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def cpu_interleaved(runners: dict, x, repeats: int, calls: int) -> dict[str, float]:
    """Median CPU seconds per call of each runner, timed in turn (:func:`harness.interleaved`'s order) on
    this process's CPU clock: one intra-op thread runs on the calling thread, so the time the process
    is descheduled on a shared machine does not count (the wall clock would)."""
    import statistics
    import time

    for f in runners.values():
        for _ in range(max(3, min(calls, 50))):
            f(x)
    samples: dict[str, list[float]] = {k: [] for k in runners}
    for r in range(repeats):
        for k in list(runners) if r % 2 == 0 else list(reversed(runners)):
            t0 = time.process_time()
            for _ in range(calls):
                runners[k](x)
            samples[k].append((time.process_time() - t0) / calls)
    return {k: statistics.median(v) for k, v in samples.items()}


def floor_graph(proto):
    """``proto`` (a score-only scorer) with two more outputs, ``Identity`` copies of the score: the least any
    in-graph head costs (two more outputs fetched, two more nodes)."""
    import onnx
    from onnx import TensorProto, helper

    out = onnx.ModelProto()
    out.CopyFrom(proto)
    score = out.graph.output[0].name
    for name in ("label", "p_value"):
        out.graph.node.append(helper.make_node("Identity", [score], [name]))
        out.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None]))
    return out


def _runner(sess):
    """``x -> every output of sess``: what a consumer of the graph pays per call."""
    return lambda x: sess.run(None, {"x": x})


def main() -> None:
    import onnx
    from sklearn.datasets import load_digits

    from aeexport.export import add_decision_head, has_decision_head, score_only

    ap = parser(__doc__)
    ap.add_argument("--bundle", type=Path, default=Path("models/digits-dense"))
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (CPU time counts all of them)")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()

    proto = onnx.load(args.bundle / "scorer.onnx")
    base = score_only(proto) if has_decision_head(proto) else proto
    row_shape = [d.dim_value for d in base.graph.input[0].type.tensor_type.shape.dim[1:]]
    X = load_digits().data.astype(np.float32)
    if int(np.prod(row_shape)) != X.shape[1]:
        raise SystemExit(f"--bundle: expected a bundle of the 64 digit pixels, got rows of shape {row_shape}")
    X = np.ascontiguousarray(X.reshape(len(X), *row_shape))  # (n, 64) or (n, 1, 8, 8)
    plain = _session(base, args.threads)
    scores = plain.run(None, {"x": X})[0]
    rng = np.random.default_rng(0)
    runners = {"score only": plain, "floor: score + 2 Identity outputs": _session(floor_graph(base), args.threads)}
    for n in (255, 1023, 4095):
        cal = np.sort(rng.choice(scores, n) * rng.uniform(0.99, 1.01, n).astype(np.float32))
        runners[f"decisions, n={n}"] = _session(
            add_decision_head(base, cal, float(np.percentile(cal, 95))), args.threads
        )
    body = [
        f"bundle `{args.bundle}`, {args.threads} intra-op thread, CPU time of the process per call (not wall "
        f"clock: the machine is shared), medians of {args.repeats} interleaved repeats; "
        "every output fetched (the score-only scorer: score; the decision scorer: score, label, p_value).",
        "",
        "| batch | runner | per call | vs score only |",
        "|---:|---|---:|---:|",
    ]
    for batch, calls, unit, scale in ((1, 2000, "µs", 1e6), (65536, 1, "ms", 1e3)):
        x = X[rng.integers(0, len(X), batch)]
        fns = {k: _runner(sess) for k, sess in runners.items()}
        t = cpu_interleaved(fns, x, args.repeats, calls)
        for k in fns:
            ratio = t[k] / t["score only"]
            body.append(f"| {batch:,} | {k} | {t[k] * scale:.1f} {unit} | {ratio - 1:+.1%} |")
    write(
        "decisions-speed", "Decisions in the graph: decision scorer vs score-only scorer", body, args.out, args.record
    )


if __name__ == "__main__":
    main()
