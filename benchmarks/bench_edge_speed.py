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

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _references import EAGER, RAW, check_agree, references, rows  # noqa: E402
from harness import latency_throughput, parser, time_call, write  # noqa: E402

VARIANTS = ("int8-dynamic", "int8-static", "fp16", "ort")
F32 = "aeruntime fp32"
T_REF = f"{EAGER} (fp32)"


def gemm_flops(n: int = 2048, repeats: int = 7) -> float:
    """Peak float32 FLOP/s of numpy matmul on (n, n) @ (n, n), median of repeats."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    return 2 * n**3 / time_call(np.matmul, a, b, repeats=repeats).median


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


def load_variants(bundle: Path, tmp: Path) -> tuple[dict, dict]:
    """fp32 and every variant of ``bundle`` loaded (built under ``tmp``), and each variant's parity report."""
    import aeruntime
    from aeexport.variants import make_variant

    models, reports = {F32: aeruntime.load(bundle, providers="cpu")}, {}
    for kind in VARIANTS:
        out = tmp / f"{bundle.name}-{kind}"
        reports[f"aeruntime {kind}"] = make_variant(bundle, kind, out)["parity"]
        models[f"aeruntime {kind}"] = aeruntime.load(out, providers="cpu")
    return models, reports


def table(args, bundle: Path, man: dict, lat: dict, thr: dict, reports: dict, fpr: int, peak: float) -> list[str]:
    """The markdown section of one bundle."""
    body = [
        f"## {bundle.name}: {man['model']['kind']} {man['input']['shape']} -> {man['latent']['shape']}, "
        f"{fpr:,} FLOPs/row in the scorer",
        "",
        f"| runner | batch 1 (µs/call) | speed-up vs torch | batch {args.batch:,} (rows/s) | "
        f"vs torch | GFLOP/s | % of GEMM peak | spearman vs fp32 | label agreement |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in lat:
        rep = reports.get(k)
        sp = f"{rep['metrics']['spearman']:.5f}" if rep else "1 (reference)" if k == F32 else ""
        ag = f"{rep['metrics']['label_agreement']:.4f}" if rep else ""
        gf = thr[k] * fpr / 1e9
        body.append(
            f"| {k} | {lat[k]:.1f} | {lat[T_REF] / lat[k]:.2f}x | {thr[k]:,.0f} | "
            f"{thr[k] / thr[T_REF]:.2f}x | {gf:.2f} | {100 * gf * 1e9 / peak:.1f}% | {sp} | {ag} |"
        )
    body += [
        "",
        f"Targets (fp32): batch-1 >= 4x torch: **{lat[T_REF] / lat[F32]:.2f}x**; "
        f"batch-{args.batch:,} >= 2x torch: **{thr[F32] / thr[T_REF]:.2f}x**; "
        f">= 50% of GEMM peak: **{100 * thr[F32] * fpr / peak:.1f}%**.",
        "",
    ]
    slower = [k for k in reports if thr[k] < thr[F32]]
    if slower:
        body.append(
            "Variants that do not pay off in throughput here (slower than fp32): "
            + ", ".join(f"{k} ({thr[k] / thr[F32]:.2f}x)" for k in slower)
            + "."
        )
        body.append("")
    return body


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("bundles", type=Path, nargs="+")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=2000, help="calls per batch-1 repeat")
    ap.add_argument("--batch", type=int, default=65536)
    args = ap.parse_args(argv)

    import onnxruntime as ort
    import torch

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
            models, reports = load_variants(bundle, Path(tmp))
            man = models[F32].manifest
            refs = references(bundle, man)
            big = rows(man, args.batch)
            check_agree({F32: models[F32].score, EAGER: refs[EAGER]}, big)
            runners = {k: v.score for k, v in models.items()}
            runners |= {f"{RAW} (fp32)": refs[RAW], T_REF: refs[EAGER]}
            lat, thr = latency_throughput(runners, big, args.repeats, args.calls)
            fpr = flops_per_row(bundle / man["graphs"]["scorer"]["file"])
            body += table(args, bundle, man, lat, thr, reports, fpr, peak)
    write("edge_speed", "Edge variants: latency and throughput side by side", body, args.out, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
