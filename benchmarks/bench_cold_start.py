"""Cold start in a fresh process: aeruntime vs torch, side by side.

Each sample is a new Python process timing (inside itself, from interpreter
start to the first score)

- aeruntime: ``import aeruntime`` + ``aeruntime.load(bundle)`` + ``score`` of one row;
- torch: ``import torch`` + load the checkpoint (safetensors weights + config) +
  ``scorer_graph`` of one row in eager mode.

The two alternate, median of repeats. The wall time of the whole process
(interpreter start-up included) is reported too.

Usage::

    python benchmarks/bench_cold_start.py models/digits-dense [--repeats 9]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import child_env, child_peak, interleave, medians, parser, write  # noqa: E402

AERUNTIME = """
import time; t0 = time.perf_counter()
import numpy as np
import aeruntime
m = aeruntime.load({bundle!r})
s = m.score(np.zeros((1, *m.input_shape), np.float32))
print(time.perf_counter() - t0)
"""

TORCH = """
import time; t0 = time.perf_counter()
import json
import numpy as np
import torch
from aeexport.train import model_from_weights
man = json.load(open({bundle!r} + "/manifest.json"))
model = model_from_weights(man["model"]["kind"], man["model"]["config"], man["input"]["shape"],
                           {bundle!r} + "/" + man["weights"])
with torch.inference_mode():
    s = model.scorer_graph(torch.zeros((1, *man["input"]["shape"]))).numpy()
print(time.perf_counter() - t0)
"""


def run(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(seconds to first score inside the child, seconds of the whole process)."""
    child = child_peak([sys.executable, "-c", code], env=env)
    return float(child.stdout.strip().splitlines()[-1]), child.seconds


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args(argv)
    env, bundle = child_env(), str(args.bundle.resolve())
    codes = {
        "aeruntime (numpy + onnxruntime)": AERUNTIME.format(bundle=bundle),
        "torch eager (import torch + checkpoint)": TORCH.format(bundle=bundle),
    }
    for code in codes.values():  # warm the OS file cache once for both
        run(code, env)
    samples = interleave({k: lambda c=c: run(c, env) for k, c in codes.items()}, args.repeats)
    med = medians({k: [a for a, _ in v] for k, v in samples.items()})
    medw = medians({k: [b for _, b in v] for k, v in samples.items()})
    a, t = list(codes)
    body = [
        f"Bundle `{args.bundle}`; median of {args.repeats} fresh processes each, alternating.",
        "",
        "| path | import + load + first score (s) | whole process incl. interpreter (s) |",
        "|---|---:|---:|",
        *[f"| {k} | {med[k]:.3f} | {medw[k]:.3f} |" for k in codes],
        "",
        f"aeruntime is **{med[t] / med[a]:.1f}x** faster to first score "
        f"({medw[t] / medw[a]:.1f}x for the whole process); target >= 5x.",
    ]
    write("cold_start", "Cold start: aeruntime vs torch", body, args.out, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
