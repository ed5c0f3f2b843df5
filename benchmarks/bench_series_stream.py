"""Per-step cost of ``model.stream().push(row)`` against a raw onnxruntime ``session.run`` on one window.

The goal (issue 33): a pushed row costs at most 1.2x one raw call on the window ending at
it. Both use the same onnxruntime session (the bundle's scorer, one intra-op thread), timed
side by side in turns (``harness.interleaved``). The bundle is made here with ``onnx.helper``
(the aeexport side of series bundles comes later): a dense autoencoder scorer over the
flattened, standardised window (W*C -> H -> K -> H -> W*C, ReLU, score = mean squared
error), random weights (speed does not depend on them), written with
``aeruntime.format.BundleWriter`` and loaded with ``aeruntime.load``. ``push_many`` on
1,000 rows is shown per step too.

    nice -n 15 python benchmarks/bench_series_stream.py --record
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, parser, write  # noqa: E402

#: where the stream section starts in benchmarks/results/series.md (the quality study comes first)
MARK = "<!-- bench_series_stream.py -->"
#: where the C stream's section (bench_c_stream.py) starts, after this one: kept on a re-record
C_MARK = "<!-- bench_c_stream.py -->"

#: (name, W, C, hidden, latent)
CASES = [("tiny", 16, 3, 16, 4), ("smap-like", 32, 25, 128, 32)]


def _dense_scorer(w: int, c: int, hidden: int, latent: int, seed: int = 0):
    """(scorer, encoder, decoder) ModelProtos of a dense AE over (batch, W, C) windows (onnx.helper)."""
    from onnx import TensorProto, helper, numpy_helper

    d = w * c
    rng = np.random.default_rng(seed)
    sizes = [d, hidden, latent, hidden, d]
    weights = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32) for a, b in zip(sizes, sizes[1:])]
    inits = [numpy_helper.from_array(wt, f"w{i}") for i, wt in enumerate(weights)]
    inits += [
        numpy_helper.from_array(np.zeros(c, np.float32), "mu"),
        numpy_helper.from_array(np.ones(c, np.float32), "inv"),
        numpy_helper.from_array(np.array([-1, d], np.int64), "flat"),
        numpy_helper.from_array(np.array([-1, w, c], np.int64), "win"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", w, c])
    code = helper.make_tensor_value_info("code", TensorProto.FLOAT, ["batch", latent])
    nodes = [
        helper.make_node("Sub", ["x", "mu"], ["a"]),
        helper.make_node("Mul", ["a", "inv"], ["z"]),
        helper.make_node("Reshape", ["z", "flat"], ["h0"]),
    ]
    for i in range(4):
        nodes.append(helper.make_node("MatMul", [f"h{i}", f"w{i}"], [f"m{i}"]))
        nodes.append(helper.make_node("Relu" if i < 3 else "Identity", [f"m{i}"], [f"h{i + 1}"]))
    nodes[-1] = helper.make_node("Sub", ["m3", "h0"], ["r"])
    nodes += [
        helper.make_node("Mul", ["r", "r"], ["r2"]),
        helper.make_node("ReduceMean", ["r2"], ["score"], axes=[1], keepdims=0),
    ]
    score = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"])
    opset = [helper.make_opsetid("", 13)]

    def model(nodes, inputs, outputs, names):
        used = [t for t in inits if t.name in names]
        return helper.make_model(
            helper.make_graph(nodes, "g", inputs, outputs, used), opset_imports=opset, ir_version=8
        )

    scorer = model(nodes, [x], [score], {t.name for t in inits})
    encoder = model(
        nodes[:3]
        + [helper.make_node("MatMul", ["h0", "w0"], ["e0"]), helper.make_node("MatMul", ["e0", "w1"], ["code"])],
        [x],
        [code],
        {"mu", "inv", "flat", "w0", "w1"},
    )
    x_hat = helper.make_tensor_value_info("x_hat", TensorProto.FLOAT, ["batch", w, c])
    decoder = model(
        [
            helper.make_node("MatMul", ["code", "w2"], ["d0"]),
            helper.make_node("MatMul", ["d0", "w3"], ["d1"]),
            helper.make_node("Reshape", ["d1", "win"], ["x_hat"]),
        ],
        [code],
        [x_hat],
        {"w2", "w3", "win"},
    )
    return scorer, encoder, decoder


def make_bundle(out: Path, w: int, c: int, hidden: int, latent: int) -> Path:
    """A series bundle of a dense AE over (W, C) windows, alarm rule 2 of 3 with hold-off 10 (also bench_c_stream.py's)."""
    import aeruntime.format as fmt

    scorer, encoder, decoder = _dense_scorer(w, c, hidden, latent)
    writer = fmt.BundleWriter()
    writer.add_graph("encoder", encoder.SerializeToString(), inputs=["x"], outputs=["code"])
    writer.add_graph("decoder", decoder.SerializeToString(), inputs=["code"], outputs=["x_hat"])
    writer.add_graph("scorer", scorer.SerializeToString(), inputs=["x"], outputs=["score"])
    series = {
        "window": w,
        "stride": 1,
        "time_column": None,
        "step_score": "window_end",
        "warmup": {"score": None, "label": 0},
        "alarm": {"k": 2, "n": 3, "hold_off": 10},
    }
    writer.write(
        out,
        {
            "model": {"kind": "dense-series-bench"},
            "input": {"name": "x", "shape": [w, c], "dtype": "float32"},
            "latent": {"name": "code", "shape": [latent]},
            "score": {"name": "mse", "direction": "higher_is_more_anomalous"},
            "threshold": {"value": 1.0, "method": "bench"},
            "series": series,
        },
        # the graph metadata of a series bundle (docs/bundle-format.md section 11): what the C stream reads
        metadata={"input_shape": json.dumps([w, c]), "threshold": "1.0", "series": json.dumps(series)},
    )
    return out


def cpu_interleaved(runners: dict, repeats: int, calls: int) -> dict[str, float]:
    """Median seconds of CPU time of this thread per call, each runner timed in turn per repeat.

    CPU time, not wall time: on a shared machine (this one runs several jobs per core) wall time
    counts the waits for a core; with one intra-op thread onnxruntime runs on the calling thread,
    so its CPU time is all the work of the call.
    """
    samples: dict[str, list[float]] = {k: [] for k in runners}
    for f in runners.values():
        for _ in range(50):
            f()
    for r in range(repeats):
        for k in list(runners) if r % 2 == 0 else list(reversed(runners)):
            f = runners[k]
            t0 = time.thread_time()
            for _ in range(calls):
                f()
            samples[k].append((time.thread_time() - t0) / calls)
    return {k: statistics.median(v) for k, v in samples.items()}


def measure(name: str, w: int, c: int, hidden: int, latent: int, repeats: int, calls: int, tmp: Path) -> str:
    import aeruntime

    model = aeruntime.load(make_bundle(tmp / name, w, c, hidden, latent), providers="cpu", threads=1)
    rows = np.random.default_rng(1).standard_normal((100_000, c)).astype(np.float32)
    stream = model.stream()
    stream.push_many(rows[:w])
    sess = model._session("scorer")  # the same session the stream runs on
    window = np.ascontiguousarray(rows[None, :w])
    state = {"i": w}

    def push():
        i = state["i"] = (state["i"] + 1) % len(rows)
        stream.push(rows[i])

    def raw():
        sess.run(["score"], {"x": window})

    batch = rows[:1000]

    def push_many():
        stream.push_many(batch)

    t = cpu_interleaved({"raw": raw, "push": push}, repeats, calls)
    many = cpu_interleaved({"push_many": push_many}, max(3, repeats // 4), 5)["push_many"] / len(batch)
    ratio = t["push"] / t["raw"]
    return (
        f"| {name} | {w} x {c} | {hidden}/{latent} | {t['raw'] * 1e6:.1f} | {t['push'] * 1e6:.1f} | "
        f"{ratio:.2f}x {'(goal met)' if ratio <= 1.2 else '(goal NOT met)'} | {many * 1e6:.2f} |"
    )


def main() -> None:
    ap = parser(__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = [measure(*case, args.repeats, args.calls, Path(tmp)) for case in CASES]
    body = [
        "Median over repeats (interleaved) of the mean CPU time of the calling thread per call (`time.thread_time`; one",
        "onnxruntime intra-op thread, which runs on the caller), the same session for both.",
        "`raw`: `session.run` on one prepared (1, W, C) window; `push`: `stream.push(row)` (row checks, ring buffer,",
        "score through an IO binding of the ring buffer's window, label, alarm rule); `push_many`: 1,000 rows per",
        "call, per step.",
        "",
        "| bundle | window | hidden/latent | raw run (µs) | push (µs) | push / raw | push_many per step (µs) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
        *lines,
    ]
    title = "Series stream: per-step cost of stream.push against a raw session.run"
    path = write("series_stream", title, body, args.out)  # the scratch file, or --out
    if args.record:  # a section of the tracked benchmarks/results/series.md, after the quality study
        record_section(path.read_text(encoding="utf-8"))


def record_section(text: str) -> None:
    """Put ``text`` after the stream marker of benchmarks/results/series.md (replacing an older one)."""
    target = RESULTS / "series.md"
    old = target.read_text(encoding="utf-8") if target.exists() else ""
    head = old.split(MARK)[0].rstrip()
    section = text.replace("# Series stream", "## Series stream", 1)
    c_section = old[old.index(C_MARK) :].rstrip() if C_MARK in old else ""
    tail = f"\n{c_section}\n" if c_section else ""
    target.write_text(f"{head}\n\n{MARK}\n{section.rstrip()}\n{tail}", encoding="utf-8")
    print(f"recorded in {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
