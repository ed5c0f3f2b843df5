"""The references a bundle's scorer is timed against: a raw onnxruntime session and torch eager.

Shared by bench_score.py and bench_edge_speed.py; both check the answers agree before timing
(a benchmark of wrong results is worthless).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

RAW = "onnxruntime raw session"
EAGER = "torch eager"


def references(bundle: Path, manifest: dict, threads: int = 0) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """``{RAW: x -> scores, EAGER: x -> scores}`` for the bundle's scorer graph; ``threads`` 0 = defaults."""
    import onnxruntime as ort
    import torch

    from aeexport.train import model_from_weights

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    scorer = bundle / manifest["graphs"]["scorer"]["file"]
    sess = ort.InferenceSession(str(scorer), opts, providers=["CPUExecutionProvider"])
    m = manifest["model"]
    tmodel = model_from_weights(m["kind"], m["config"], manifest["input"]["shape"], bundle / manifest["weights"])

    def raw(x: np.ndarray) -> np.ndarray:
        return sess.run(["score"], {"x": x})[0]

    def eager(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return tmodel.scorer_graph(torch.from_numpy(x)).numpy()

    return {RAW: raw, EAGER: eager}


def rows(manifest: dict, batch: int) -> np.ndarray:
    """``(batch, *input shape)`` synthetic rows (seed 1) for a bundle."""
    from aeexport.export import synthetic_rows

    return synthetic_rows(manifest, batch, seed=1)


def check_agree(runners: dict[str, Callable[[np.ndarray], np.ndarray]], x: np.ndarray) -> None:
    """Every runner's scores of ``x[:1024]`` match torch eager's (rtol 1e-4, atol 1e-5)."""
    ref = runners[EAGER](x[:1024])
    for f in runners.values():
        np.testing.assert_allclose(f(x[:1024]), ref, rtol=1e-4, atol=1e-5)
