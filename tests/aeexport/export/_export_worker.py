"""Helper for tests/test_reliability_atomic.py: export bundles until killed.

    python _export_worker.py CACHE TARGET [TARGET ...] --iterations N --base B [--kill-at POINT]

Builds a small dense model (64 features, fixed seed) and calls the real
``aeexport.export.export_bundle`` for each TARGET, ``N`` times, with the fixed
threshold ``B + i`` on iteration ``i`` (so every complete bundle is recognisable).
The torch -> ONNX tracing of the three graphs (deterministic, seconds of CPU) is
done once and cached as .onnx files in CACHE; everything that writes the bundle
(metadata, golden vectors, weights, parity, manifest, the atomic swap) runs for
real on every iteration, which is what the kill test needs to hit.

Markers on stdout (flushed): ``ready``, ``enter <i>`` when the temporary directory
exists, ``exit <i>`` after the swap, ``done <i>``.

``--kill-at`` makes the process SIGKILL itself at a fixed point of its first
export: ``build`` (temporary directory half written), ``swap`` (complete
temporary directory, just before it replaces the target) or ``after-swap``
(target holds the new bundle, the old one still sits in a temporary directory).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from aeexport.settings import ThresholdSpec

N_FEATURES = 64


def make_model_and_rows():  # type: ignore[no-untyped-def]
    import torch

    from aeexport.models import build_model, make_config

    torch.manual_seed(1)
    model = build_model("dense", make_config("dense", (N_FEATURES,), {}), (N_FEATURES,)).eval()
    X = np.random.default_rng(0).uniform(0, 16, size=(64, N_FEATURES)).astype(np.float32)
    return model, X


@contextlib.contextmanager
def cached_exporter(cache: str | os.PathLike[str], kill_at: str | None = None) -> Iterator[Callable[..., None]]:
    """Yield ``export(target, threshold, i)``; module patches are undone on exit."""
    import onnx

    import aeexport.export._export as ex
    import aeruntime.format.writer as wr
    from aeruntime.fs import atomic as _atomic

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    model, X = make_model_and_rows()
    real = {
        "graph": ex._export_graph,
        "atomic": wr.atomic_directory,
        "save": wr.tensor_bytes,
        "exchange": _atomic._exchange,
    }
    state = {"i": -1, "saves": 0}

    def die(point: str) -> None:
        if kill_at == point and state["i"] == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    def export_graph(model, method, *a, **kw):  # type: ignore[no-untyped-def]
        path = cache / f"{method}.onnx"
        if not path.is_file():
            proto = real["graph"](model, method, *a, **kw)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(proto.SerializeToString())
            os.replace(tmp, path)
        return onnx.load_from_string(path.read_bytes())

    @contextlib.contextmanager
    def marked_atomic(target, kind=None):  # type: ignore[no-untyped-def]
        with real["atomic"](target, kind) as tmp:
            print(f"enter {state['i']}", flush=True)
            yield tmp
            die("swap")
        print(f"exit {state['i']}", flush=True)

    def save_tensor(*a, **kw):  # type: ignore[no-untyped-def]
        state["saves"] += 1
        if state["saves"] == 3:
            die("build")
        return real["save"](*a, **kw)

    def exchange(a, b):  # type: ignore[no-untyped-def]
        ok = real["exchange"](a, b)
        die("after-swap")
        return ok

    ex._export_graph, wr.atomic_directory, wr.tensor_bytes = export_graph, marked_atomic, save_tensor
    _atomic._exchange = exchange

    def export(target: str | os.PathLike[str], threshold: float, i: int = 0) -> None:
        state["i"], state["saves"] = i, 0
        ex.export_bundle(model, target, calibration_x=X, threshold_spec=ThresholdSpec(value=threshold))

    try:
        yield export
    finally:
        ex._export_graph, wr.atomic_directory, wr.tensor_bytes = real["graph"], real["atomic"], real["save"]
        _atomic._exchange = real["exchange"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("targets", nargs="+")
    ap.add_argument("--iterations", type=int, default=1)
    ap.add_argument("--base", type=float, default=100.0)
    ap.add_argument("--kill-at", choices=["build", "swap", "after-swap"], default=None)
    args = ap.parse_args()
    with cached_exporter(args.cache, args.kill_at) as export:
        if not (Path(args.cache) / "scorer_graph.onnx").is_file():  # trace once, outside any target
            export(Path(args.cache) / "warmup-bundle", 0.0, -1)
        print("ready", flush=True)
        for i in range(args.iterations):
            for target in args.targets:
                export(target, args.base + i, i)
            print(f"done {i}", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
