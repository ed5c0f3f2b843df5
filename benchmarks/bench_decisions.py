"""The decision scorer (score, label, p_value) against the score-only scorer, side by side.

The same scorer graph: without the decision head (``aeexport.export.score_only``), with two
``Identity`` outputs added (the floor: what fetching two more outputs costs, whatever computes
them), and with the head (``add_decision_head``: the two-level count over the stored calibration
scores) at 255, 1,023 (the most stored now, ``MAX_CALIBRATION``) and 4,095 (the former cap) scores;
``--alternatives`` adds the grid and broadcast heads of ``_alternative_heads.py`` (measured, not
shipped; their p-values are checked against the numpy reference before they are timed). onnxruntime CPU sessions as a consumer
creates them, one intra-op thread; batch 1 (µs per call) and batch 65,536 (ms per call), timed in
turn on the process's CPU clock (:func:`cpu_interleaved`). Rows: the digits for a bundle of 64
pixels, else the bundle's golden inputs with noise (:func:`bundle_rows`). Each bundle's table ends
with the head's cost per call and per row, and the least score-only cost at which it is at most 10%.
Goal: the decisions cost at most 10% more than the score.

    PYTHONPATH=.:runtime nice -n 15 python benchmarks/bench_decisions.py --bundle models/digits-dense \
        --bundle models/digits-conv --bundle models/series-dense --alternatives --record
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


def bundle_rows(bundle: Path, row_shape: list[int], rng) -> np.ndarray:
    """Rows (n, *row_shape) to score: the 1,797 digits for a bundle of the 64 digit pixels (flat or
    (1, 8, 8)); else the bundle's golden scorer inputs, each repeated with noise of 5% of its spread."""
    from onnx import load_tensor, numpy_helper
    from sklearn.datasets import load_digits

    if int(np.prod(row_shape)) == 64:
        return np.ascontiguousarray(load_digits().data.astype(np.float32).reshape(-1, *row_shape))
    golden = [numpy_helper.to_array(load_tensor(str(f))) for f in sorted(bundle.glob("test_data/scorer/*/input_0.pb"))]
    if not golden:
        raise SystemExit(f"--bundle {bundle}: expected digits rows or golden scorer inputs, found neither")
    base = np.concatenate(golden).astype(np.float32)
    spread = base.std(axis=0) + 0.05 * np.abs(base).mean(axis=0) + 1e-3
    pick = base[rng.integers(0, len(base), 2048)]
    return np.ascontiguousarray(pick + 0.05 * spread * rng.standard_normal(pick.shape).astype(np.float32))


def exact_or_exit(sess, x: np.ndarray, cal: np.ndarray, label: str) -> None:
    """Stop unless ``sess``'s p-values equal the numpy reference on ``x``'s scores (before it is timed)."""
    from aeruntime.decisions import conformal_p_values

    score, _, p = sess.run(None, {"x": x})
    if not np.array_equal(p, conformal_p_values(score, cal)):
        raise SystemExit(f"{label}: its p-values differ from aeruntime.decisions.conformal_p_values")


def measure(bundle: Path, args, rng) -> list[str]:
    """The table of one bundle, and the head's cost per call and per row."""
    import onnx

    from aeexport.export import add_decision_head, has_decision_head, score_only

    proto = onnx.load(bundle / "scorer.onnx")
    base = score_only(proto) if has_decision_head(proto) else proto
    row_shape = [d.dim_value for d in base.graph.input[0].type.tensor_type.shape.dim[1:]]
    X = bundle_rows(bundle, row_shape, rng)
    plain = _session(base, args.threads)
    scores = plain.run(None, {"x": X})[0]
    runners = {"score only": plain, "floor: score + 2 Identity outputs": _session(floor_graph(base), args.threads)}
    cals = {}
    for n in (255, 1023, 4095):
        cals[n] = np.sort(rng.choice(scores, n) * rng.uniform(0.99, 1.01, n).astype(np.float32))
        thr = float(np.percentile(cals[n], 95))
        runners[f"decisions, n={n}"] = _session(add_decision_head(base, cals[n], thr), args.threads)
    if args.alternatives:
        from _alternative_heads import add_broadcast_head, add_grid_head

        thr = float(np.percentile(cals[1023], 95))
        alternatives = {"grid head": add_grid_head, "broadcast head (7 nodes)": add_broadcast_head}
        for label, add in alternatives.items():
            runners[f"alternative (not shipped): {label}, n=1023"] = _session(add(base, cals[1023], thr), args.threads)
    body = [
        f"bundle `{bundle}` (rows {row_shape}), {args.threads} intra-op thread, CPU time of the process per call "
        f"(not wall clock: the machine is shared), medians of {args.repeats} interleaved repeats; every output "
        "fetched (the score-only scorer: score; the decision scorer: score, label, p_value).",
        "",
        "| batch | runner | per call | vs score only |",
        "|---:|---|---:|---:|",
    ]
    per_call = {}
    for batch, calls, unit, scale in ((1, 2000, "µs", 1e6), (65536, 1, "ms", 1e3)):
        x = np.ascontiguousarray(X[rng.integers(0, len(X), batch)])
        for label, sess in runners.items():
            if label.startswith("alternative"):
                exact_or_exit(sess, x, cals[1023], label)
        fns = {k: _runner(sess) for k, sess in runners.items()}
        t = cpu_interleaved(fns, x, args.repeats, calls)
        per_call[batch] = t
        for k in fns:
            body.append(f"| {batch:,} | {k} | {t[k] * scale:.1f} {unit} | {t[k] / t['score only'] - 1:+.1%} |")
    one, big, head = per_call[1], per_call[65536], "decisions, n=1023"
    fixed = one[head] - one["score only"]
    row = (big[head] - big["score only"]) / 65536
    floor = one["floor: score + 2 Identity outputs"] - one["score only"]
    large = (
        f"{row * 1e9:.0f} ns per row at 65,536 (at most +10% needs a score-only scorer of at least "
        f"{row * 1e10:.0f} ns per row; this one: {big['score only'] / 65536 * 1e9:.0f} ns)"
        if row > 0
        else "no measurable cost per row at 65,536 (below the run-to-run spread)"
    )
    body += [
        "",
        f"The head (n=1,023) costs {fixed * 1e6:.1f} µs per call at batch 1 (the two extra outputs alone "
        f"{floor * 1e6:.1f} µs; at most +10% needs a score-only scorer of at least {fixed * 1e7:.0f} µs per call, "
        f"this one: {one['score only'] * 1e6:.1f} µs) and {large}.",
        "",
    ]
    return body


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument(
        "--bundle",
        type=Path,
        action="append",
        help="a bundle's folder (repeat for several; default models/digits-dense)",
    )
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (CPU time counts all of them)")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument(
        "--alternatives", action="store_true", help="also time the heads of benchmarks/_alternative_heads.py"
    )
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    body: list[str] = []
    for bundle in args.bundle or [Path("models/digits-dense")]:
        body += measure(bundle, args, rng)
    write(
        "decisions-speed", "Decisions in the graph: decision scorer vs score-only scorer", body, args.out, args.record
    )


if __name__ == "__main__":
    main()
