"""Scoring speed: aeruntime vs a raw onnxruntime session vs torch eager, side by side.

Measures, in one process and on the same bundle, the median of repeats of

- batch-1 latency (µs per call), and
- large-batch throughput (rows/s, default batch 65,536),

for ``aeruntime.Model.score`` (validation + one session call on scorer.onnx), a raw
``onnxruntime.InferenceSession.run`` on the same scorer.onnx (no validation), and
the torch model in eager mode (``scorer_graph`` under ``torch.inference_mode``).

Usage::

    python benchmarks/bench_score.py models/digits-dense [--repeats 7] [--batch 65536] [--out FILE | --record]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _references import EAGER, RAW, check_agree, references, rows  # noqa: E402
from harness import append, command, latency_throughput, machine, parser  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)  # the table is appended to the result file (one section per bundle)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=2000, help="calls per batch-1 repeat")
    ap.add_argument("--batch", type=int, default=65536)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads for onnxruntime and torch (0 = default)")
    args = ap.parse_args(argv)

    import onnxruntime as ort
    import torch

    import aeruntime

    if args.threads:
        torch.set_num_threads(args.threads)
    model = aeruntime.load(args.bundle, providers="cpu", threads=args.threads or None)
    m = model.manifest
    runners = {"aeruntime.score": model.score, **references(args.bundle, m, args.threads)}
    big = rows(m, args.batch)
    check_agree(runners, big)
    lat, thr = latency_throughput(runners, big, args.repeats, args.calls)
    lines = [
        f"### {args.bundle.name}: {m['model']['kind']} {m['input']['shape']} -> {m['latent']['shape']}",
        "",
        f"`{command()}`  ",
        f"machine: {machine()}; onnxruntime {ort.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), aeruntime/raw threads {args.threads or 'default'}; "
        f"median of {args.repeats} repeats, runners interleaved; the raw session runs with "
        "onnxruntime's defaults (one call per batch)",
        "",
        f"| runner | batch 1 (µs/call) | vs raw ORT | vs torch | batch {args.batch:,} (rows/s) | vs raw ORT | vs torch |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {k} | {lat[k]:.1f} | {lat[k] / lat[RAW]:.2f}x | {lat[EAGER] / lat[k]:.2f}x faster | {thr[k]:,.0f} | "
        f"{thr[k] / thr[RAW]:.2f}x | {thr[k] / thr[EAGER]:.2f}x |"
        for k in runners
    ]
    append("score", "\n".join(lines) + "\n", args.out, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
