"""Variants side by side: batch-1 latency and batch-65,536 throughput, and the GEMM limit.

For each bundle given, builds its int8-dynamic, int8-static, fp16 and ORT-format
variants (in a temporary directory, synthetic evaluation rows), then measures in
one process, on the same rows, the median of repeats of

- batch-1 latency (µs per call) and large-batch throughput (rows/s) of
  ``aeruntime.Model.score`` for fp32 and every variant, a raw onnxruntime session
  on the fp32 scorer.onnx, and the torch model in eager mode;
- this machine's float32 GEMM limit (numpy matmul of large square matrices,
  FLOP/s) times the model's FLOPs per row (from the scorer graph), against the
  fp32 aeruntime throughput.

Usage::

    python benchmarks/bench_edge_speed.py models/digits-dense [more bundles ...] [--repeats 7]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, interleaved, write  # noqa: E402


def gemm_flops(n: int = 2048, repeats: int = 7) -> float:
    """Peak float32 FLOP/s of numpy matmul on (n, n) @ (n, n), median of repeats."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / float(np.median(times))


def flops_per_row(scorer_path: Path) -> int:
    """Multiply-add FLOPs (2 per MAC) per input row of the Gemm/MatMul/Conv nodes of a graph."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = shape_inference.infer_shapes(onnx.load(scorer_path))
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i).shape for i in g.initializer}
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(g.value_info) + list(g.output) + list(g.input)
    }
    total = 0
    for n in g.node:
        if n.op_type in ("Gemm", "MatMul") and n.input[1] in inits:
            total += 2 * int(np.prod(inits[n.input[1]]))
        elif n.op_type in ("Conv", "ConvTranspose") and n.input[1] in inits:
            w = inits[n.input[1]]
            out = shapes.get(n.output[0] if n.op_type == "Conv" else n.input[0])
            if out and all(out[1:]):
                spatial = int(np.prod(out[2:]))
                total += 2 * spatial * int(np.prod(w))
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", type=Path, nargs="+")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=2000, help="calls per batch-1 repeat")
    ap.add_argument("--batch", type=int, default=65536)
    add_output_args(ap)
    args = ap.parse_args(argv)

    import onnxruntime as ort
    import torch

    import aeruntime
    from aeexport.export import synthetic_rows
    from aeexport.train import model_from_weights
    from aeexport.variants import make_variant

    peak = gemm_flops(repeats=args.repeats)
    body = [
        f"onnxruntime {ort.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"median of {args.repeats} repeats, runners interleaved within each repeat; "
        f"batch-1 = mean of {args.calls} calls per repeat.",
        "",
        f"Measured float32 GEMM peak (numpy 2048x2048 matmul): **{peak / 1e9:.1f} GFLOP/s**.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for bundle in args.bundles:
            m = aeruntime.load(bundle, providers="cpu")
            man = m.manifest
            variants = {"aeruntime fp32": m}
            for kind in ("int8-dynamic", "int8-static", "fp16", "ort"):
                out = Path(tmp) / f"{bundle.name}-{kind}"
                vm = make_variant(bundle, kind, out)
                variants[f"aeruntime {kind}"] = aeruntime.load(out, providers="cpu")
                variants[f"aeruntime {kind}"].report = vm["parity"]  # type: ignore[attr-defined]
            sess = ort.InferenceSession(
                str(bundle / man["graphs"]["scorer"]["file"]), providers=["CPUExecutionProvider"]
            )
            tmodel = model_from_weights(
                man["model"]["kind"], man["model"]["config"], man["input"]["shape"], bundle / man["weights"]
            )

            def raw(x, sess=sess):
                return sess.run(["score"], {"x": x})[0]

            def eager(x, tmodel=tmodel):
                with torch.inference_mode():
                    return tmodel.scorer_graph(torch.from_numpy(x)).numpy()

            big = synthetic_rows(man, args.batch, seed=1)
            one = np.ascontiguousarray(big[:1])
            np.testing.assert_allclose(m.score(big[:1024]), eager(big[:1024]), rtol=1e-4, atol=1e-5)
            runners = {k: v.score for k, v in variants.items()}
            runners["onnxruntime raw session (fp32)"] = raw
            runners["torch eager (fp32)"] = eager
            lat = {k: v * 1e6 for k, v in interleaved(runners, one, args.repeats, args.calls).items()}
            thr = {k: len(big) / v for k, v in interleaved(runners, big, args.repeats).items()}
            fpr = flops_per_row(bundle / man["graphs"]["scorer"]["file"])
            t_ref = "torch eager (fp32)"
            body += [
                f"## {bundle.name}: {man['model']['kind']} {man['input']['shape']} -> {man['latent']['shape']}, "
                f"{fpr:,} FLOPs/row in the scorer",
                "",
                f"| runner | batch 1 (µs/call) | speed-up vs torch | batch {args.batch:,} (rows/s) | "
                f"vs torch | GFLOP/s | % of GEMM peak | spearman vs fp32 | label agreement |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for k in runners:
                rep = getattr(variants.get(k), "report", None)
                sp = f"{rep['metrics']['spearman']:.5f}" if rep else "1 (reference)" if k == "aeruntime fp32" else ""
                ag = f"{rep['metrics']['label_agreement']:.4f}" if rep else ""
                gf = thr[k] * fpr / 1e9
                body.append(
                    f"| {k} | {lat[k]:.1f} | {lat[t_ref] / lat[k]:.2f}x | {thr[k]:,.0f} | "
                    f"{thr[k] / thr[t_ref]:.2f}x | {gf:.2f} | {100 * gf * 1e9 / peak:.1f}% | {sp} | {ag} |"
                )
            body.append("")
            f32 = "aeruntime fp32"
            body += [
                f"Targets (fp32): batch-1 >= 4x torch: **{lat[t_ref] / lat[f32]:.2f}x**; "
                f"batch-{args.batch:,} >= 2x torch: **{thr[f32] / thr[t_ref]:.2f}x**; "
                f">= 50% of GEMM peak: **{100 * thr[f32] * fpr / peak:.1f}%**.",
                "",
            ]
            slower = [k for k in variants if k != f32 and thr[k] < thr[f32]]
            if slower:
                body.append(
                    "Variants that do not pay off in throughput here (slower than fp32): "
                    + ", ".join(f"{k} ({thr[k] / thr[f32]:.2f}x)" for k in slower)
                    + "."
                )
                body.append("")
    write("edge_speed", "Edge variants: latency and throughput side by side", body, args.out, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
