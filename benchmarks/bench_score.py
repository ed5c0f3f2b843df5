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

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, command, interleaved, machine, result_path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=2000, help="calls per batch-1 repeat")
    ap.add_argument("--batch", type=int, default=65536)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads for onnxruntime and torch (0 = default)")
    add_output_args(ap)  # the table is appended (one section per bundle)
    args = ap.parse_args(argv)

    import onnxruntime as ort
    import torch

    import aeruntime
    from aeexport.train import model_from_weights

    if args.threads:
        torch.set_num_threads(args.threads)
    model = aeruntime.load(args.bundle, providers="cpu", threads=args.threads or None)
    m = model.manifest
    opts = ort.SessionOptions()
    if args.threads:
        opts.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(str(args.bundle / "scorer.onnx"), opts, providers=["CPUExecutionProvider"])
    tmodel = model_from_weights(
        m["model"]["kind"], m["model"]["config"], m["input"]["shape"], args.bundle / m["weights"]
    )

    def raw(x):
        return sess.run(["score"], {"x": x})[0]

    def eager(x):
        with torch.inference_mode():
            return tmodel.scorer_graph(torch.from_numpy(x)).numpy()

    from aeexport.export import synthetic_rows

    big = synthetic_rows(m, args.batch, seed=1)
    one = np.ascontiguousarray(big[:1])
    # Same answers first: a benchmark of wrong results is worthless.
    np.testing.assert_allclose(model.score(big[:1024]), eager(big[:1024]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(raw(big[:1024]), eager(big[:1024]), rtol=1e-4, atol=1e-5)

    runners = {"aeruntime.score": model.score, "onnxruntime raw session": raw, "torch eager": eager}
    # side by side: every repeat times each runner in turn (benchmarks/_common.py)
    lat = {k: v * 1e6 for k, v in interleaved(runners, one, args.repeats, args.calls).items()}
    thr = {k: len(big) / v for k, v in interleaved(runners, big, args.repeats).items()}

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
    for k in runners:
        lines.append(
            f"| {k} | {lat[k]:.1f} | {lat[k] / lat['onnxruntime raw session']:.2f}x | "
            f"{lat['torch eager'] / lat[k]:.2f}x faster | {thr[k]:,.0f} | "
            f"{thr[k] / thr['onnxruntime raw session']:.2f}x | {thr[k] / thr['torch eager']:.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    path = result_path("score", args.out, args.record)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text + "\n")
    print(f"appended to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
