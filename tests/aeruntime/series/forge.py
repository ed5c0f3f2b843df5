"""A tiny series bundle made here, without torch or onnx: ONNX protobuf written by hand.

The graphs take windows ``(batch, W, C)``. The scorer standardises each column
(``z = (x - mu) / scale``) and scores a window by how far its rows stray from the window's
own mean: ``mean((z - mean(z over the window))**2)`` — a spike or a level shift inside a
window raises its score. :func:`reference_scores` is the same rule in numpy, window by
window (the window-end rule written out with a Python loop), for the tests to compare with.
Encoder and decoder are linear maps (the schema requires them; they are not scored here).
The protobuf helpers are those of ``tests/aeruntime/format/test_trust_bundles.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import aeruntime.format as fmt
from tests.aeruntime.format.test_trust_bundles import _int, _len

OPSET = 13


def _dims(dims) -> bytes:
    """TensorShapeProto: ``None`` -> the symbolic batch dimension."""
    return b"".join(_len(1, _len(2, "batch") if d is None else _int(1, d)) for d in dims)


def _value(number: int, name: str, dims) -> bytes:
    """GraphProto input (11) or output (12): a float tensor of ``dims``."""
    return _len(number, _len(1, name) + _len(2, _len(1, _int(1, 1) + _len(2, _dims(dims)))))


def _tensor(name: str, array: np.ndarray) -> bytes:
    """GraphProto initializer (5): float32 or int64."""
    dtype = 7 if array.dtype == np.int64 else 1
    body = b"".join(_int(1, d) for d in array.shape) + _int(2, dtype) + _len(8, name)
    return _len(5, body + _len(9, np.ascontiguousarray(array).tobytes()))


def _node(op: str, inputs, outputs, axes=None, keepdims=None) -> bytes:
    body = b"".join(_len(1, i) for i in inputs) + b"".join(_len(2, o) for o in outputs)
    body += _len(3, f"{op}_{outputs[0]}") + _len(4, op)
    if axes is not None:
        body += _len(5, _len(1, "axes") + b"".join(_int(8, a) for a in axes) + _int(20, 7))
    if keepdims is not None:
        body += _len(5, _len(1, "keepdims") + _int(3, keepdims) + _int(20, 2))
    return _len(1, body)


def _model(nodes: list[bytes], inits: list[bytes], inputs: list[bytes], outputs: list[bytes]) -> bytes:
    graph = b"".join(nodes) + _len(2, "g") + b"".join(inits) + b"".join(inputs) + b"".join(outputs)
    return _int(1, 8) + _len(8, _int(2, OPSET)) + _len(7, graph)


def make_series_bundle(
    out: Path,
    mu: np.ndarray,
    scale: np.ndarray,
    window: int,
    *,
    threshold: float = 1.0,
    alarm: dict | None = None,
    names: list[str] | None = None,
    latent: int = 3,
    golden: bool = False,
) -> Path:
    """Write a series bundle of windows ``(window, len(mu))`` to ``out``; return ``out``.

    ``golden``: also golden vectors (5 windows per graph, outputs computed in numpy) and each graph's
    ``inputs``/``outputs`` metadata, which the JavaScript consumers (Node, the page) check before scoring.
    """
    c = len(mu)
    w, d = window, window * c
    rng = np.random.default_rng(0)
    enc_w, dec_w = (rng.standard_normal(s).astype(np.float32) for s in ((d, latent), (latent, d)))
    x_in = _value(11, "x", [None, w, c])
    scorer = _model(
        [
            _node("Sub", ["x", "mu"], ["a"]),
            _node("Mul", ["a", "inv"], ["z"]),
            _node("ReduceMean", ["z"], ["m"], axes=[1], keepdims=1),
            _node("Sub", ["z", "m"], ["dev"]),
            _node("Mul", ["dev", "dev"], ["sq"]),
            _node("ReduceMean", ["sq"], ["score"], axes=[1, 2], keepdims=0),
        ],
        [_tensor("mu", mu.astype(np.float32)), _tensor("inv", (1 / scale).astype(np.float32))],
        [x_in],
        [_value(12, "score", [None])],
    )
    encoder = _model(
        [_node("Reshape", ["x", "flat_shape"], ["flat"]), _node("MatMul", ["flat", "enc_w"], ["code"])],
        [_tensor("flat_shape", np.array([-1, d], np.int64)), _tensor("enc_w", enc_w)],
        [x_in],
        [_value(12, "code", [None, latent])],
    )
    decoder = _model(
        [_node("MatMul", ["code", "dec_w"], ["flat"]), _node("Reshape", ["flat", "win_shape"], ["x_hat"])],
        [_tensor("dec_w", dec_w), _tensor("win_shape", np.array([-1, w, c], np.int64))],
        [_value(11, "code", [None, latent])],
        [_value(12, "x_hat", [None, w, c])],
    )
    writer = fmt.BundleWriter()
    io = {  # role -> (inputs, outputs) as (name, shape) pairs
        "encoder": ([("x", ["batch", w, c])], [("code", ["batch", latent])]),
        "decoder": ([("code", ["batch", latent])], [("x_hat", ["batch", w, c])]),
        "scorer": ([("x", ["batch", w, c])], [("score", ["batch"])]),
    }
    for role, model in (("encoder", encoder), ("decoder", decoder), ("scorer", scorer)):
        ins, outs = io[role]
        meta = {
            k: json.dumps([{"name": n, "shape": s, "dtype": "float32"} for n, s in v])
            for k, v in zip(("inputs", "outputs"), io[role])
        }
        writer.add_graph(
            role, model, inputs=[n for n, _ in ins], outputs=[n for n, _ in outs], metadata=meta if golden else None
        )
    if golden:
        _add_golden(writer, mu, scale, (enc_w, dec_w), w)
    manifest = {
        "model": {"kind": "series-test"},
        "input": {"name": "x", "shape": [w, c], "dtype": "float32", "feature_names": names},
        "latent": {"name": "code", "shape": [latent]},
        "score": {"name": "mse", "direction": "higher_is_more_anomalous"},
        "threshold": {"value": threshold, "method": "test"},
        "series": series_section(w, alarm),
    }
    writer.write(out, manifest, metadata=graph_metadata(manifest))
    return out


def _add_golden(writer: fmt.BundleWriter, mu: np.ndarray, scale: np.ndarray, weights, window: int) -> None:
    """Golden vectors of the three graphs on 5 windows near the scaler's mean, computed in numpy."""
    c = len(mu)
    rng = np.random.default_rng(1)
    x = (mu + scale * rng.standard_normal((5, window, c))).astype(np.float32)
    z = (x - mu.astype(np.float32)) * (1 / scale).astype(np.float32)
    score = np.mean((z - z.mean(axis=1, keepdims=True)) ** 2, axis=(1, 2)).astype(np.float32)
    code = (x.reshape(5, -1) @ weights[0]).astype(np.float32)
    x_hat = (code @ weights[1]).reshape(5, window, c).astype(np.float32)
    writer.add_golden("encoder", [("x", x)], [("code", code)])
    writer.add_golden("decoder", [("code", code)], [("x_hat", x_hat)])
    writer.add_golden("scorer", [("x", x)], [("score", score)])


def graph_metadata(manifest: dict) -> dict[str, str]:
    """The ``aeexport.*`` graph metadata a series bundle carries (keys without the prefix), as the exporter writes
    them: what a consumer that reads only the graph (examples/c) needs — the shape ``[W, C]``, the threshold, the
    feature names and the ``series`` section as JSON."""
    meta = {
        "input_shape": json.dumps(manifest["input"]["shape"]),
        "threshold": repr(float(manifest["threshold"]["value"])),
        "series": json.dumps(manifest["series"]),
    }
    if manifest["input"].get("feature_names"):
        meta["feature_names"] = json.dumps(manifest["input"]["feature_names"])
    return meta


def series_section(window: int, alarm: dict | None = None) -> dict:
    """The manifest's ``series`` section (docs/bundle-format.md, "Series bundles")."""
    return {
        "window": window,
        "stride": 1,
        "time_column": None,
        "step_score": "window_end",
        "warmup": {"score": None, "label": 0},
        "alarm": alarm or {"k": 1, "n": 1, "hold_off": 0},
    }


def reference_scores(rows: np.ndarray, mu: np.ndarray, scale: np.ndarray, window: int) -> np.ndarray:
    """(n,) float64: NaN for the first W-1 rows, then the score of the window ending at each row."""
    z = (np.asarray(rows, np.float64) - mu) / scale
    out = np.full(len(z), np.nan)
    for t in range(window - 1, len(z)):
        win = z[t - window + 1 : t + 1]
        out[t] = np.mean((win - win.mean(axis=0)) ** 2)
    return out


def generated_series(n: int = 3000, c: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sines of several periods + noise, with injected spikes and a level shift; (rows (n, c), anomaly (n,))."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    periods = np.array([25.0, 40.0, 60.0])[:c]
    x = np.sin(2 * np.pi * t / periods) + 0.05 * rng.standard_normal((n, c)) + np.arange(c)
    y = np.zeros(n, np.int8)
    for i in rng.choice(np.arange(200, n - 200), size=5, replace=False):
        x[i, rng.integers(c)] += 6.0
        y[i] = 1
    x[n // 2 : n // 2 + 100, 0] += 3.0
    y[n // 2 : n // 2 + 100] = 1
    return x.astype(np.float32), y
