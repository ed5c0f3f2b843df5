"""Parity: onnxruntime against torch, measured and reported.

For the encoder, the decoder, the composed reconstruction and the score, at
several batch sizes and on the golden vectors, the report gives the max
absolute and relative difference and whether every element satisfies
``|onnx - torch| <= atol + rtol * |torch|`` (numpy's ``isclose`` rule). The
relative figure ignores elements whose reference is below ``atol`` in size: there
the absolute tolerance decides.

Outputs in raw feature units (the decoder's ``x_hat``, the reconstruction) are
computed as ``x_scaled * scale + mean`` inside the graph, so their float32 rounding
grows with the size of the data (a pixel of 0..255 has a spacing of 3e-5). Their
absolute tolerance is therefore ``atol * max(1, max(|scale| + |mean|))``
(:func:`raw_tolerance`), i.e. ``atol`` in the units the model works in; the
manifest records it per graph under ``golden.tolerances``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from aeruntime._ort import ort
from aeruntime.errors import AeError
from onnx import numpy_helper

from .models import Autoencoder

__all__ = ["Tolerance", "ParityError", "compare", "parity_report", "golden_report", "format_table", "PARITY_BATCHES"]

#: batch sizes checked at export and by `aeexport verify`: one row, an odd batch, a large batch
PARITY_BATCHES = (1, 7, 1024)


@dataclass(frozen=True)
class Tolerance:
    atol: float = 1e-5  # absolute tolerance (fp32 default)
    rtol: float = 1e-4  # relative tolerance (fp32 default)


class ParityError(AeError):
    """onnxruntime outputs differ from torch beyond the tolerance."""


def raw_tolerance(tol: Tolerance, mean: np.ndarray, scale: np.ndarray) -> Tolerance:
    """Tolerance for outputs in raw feature units: ``atol`` grows with the data's magnitude."""
    factor = max(1.0, float(np.max(np.abs(np.asarray(scale, np.float64)) + np.abs(np.asarray(mean, np.float64)))))
    return Tolerance(atol=tol.atol * factor, rtol=tol.rtol)


def graph_tolerances(tol: Tolerance, mean: np.ndarray, scale: np.ndarray) -> dict[str, Tolerance]:
    """Per-graph golden-vector tolerance: the decoder's outputs are in raw units."""
    return {"encoder": tol, "decoder": raw_tolerance(tol, mean, scale), "scorer": tol}


def compare(actual: np.ndarray, reference: np.ndarray, tol: Tolerance) -> dict[str, Any]:
    """Max abs / rel difference of ``actual`` against ``reference`` and the pass verdict."""
    a = np.asarray(actual, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape:
        return {"max_abs": float("inf"), "max_rel": float("inf"), "ok": False,
                "note": f"shape {a.shape} != reference {r.shape}"}
    diff = np.abs(a - r)
    big = np.abs(r) > tol.atol
    max_rel = float((diff[big] / np.abs(r[big])).max()) if big.any() else 0.0
    ok = bool(np.all(diff <= tol.atol + tol.rtol * np.abs(r))) and bool(np.isfinite(a).all())
    return {"max_abs": float(diff.max()) if diff.size else 0.0, "max_rel": max_rel, "ok": ok}


def _torch_forward(model: Autoencoder, x: np.ndarray) -> dict[str, list[np.ndarray]]:
    with torch.inference_mode():
        xt = torch.from_numpy(x)
        enc = model.encoder_graph(xt)
        enc = list(enc) if isinstance(enc, (tuple, list)) else [enc]
        return {
            "encoder": [e.numpy() for e in enc],
            "decoder": [model.decoder_graph(enc[0]).numpy()],
            "score": [model.scorer_graph(xt).numpy()],
        }


def _session(path: Path) -> Any:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # parity batches are small; one thread avoids oversubscription
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def parity_report(
    model: Autoencoder,
    bundle_dir: str | Path,
    X: np.ndarray,
    *,
    graphs: dict[str, dict[str, Any]],
    batches: tuple[int, ...] = PARITY_BATCHES,
    tol: Tolerance = Tolerance(),
    seed: int = 0,
) -> dict[str, Any]:
    """Compare torch with onnxruntime on rows drawn from ``X`` (n, *input_shape).

    ``X`` should be real data (held-out rows); batches larger than ``X`` are
    drawn with replacement.
    """
    bundle_dir = Path(bundle_dir)
    sessions = {role: _session(bundle_dir / info["file"]) for role, info in graphs.items()}
    raw_tol = raw_tolerance(tol, model.scaler_mean.numpy(), model.scaler_scale.numpy())
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for b in batches:
        idx = np.arange(b) if b <= len(X) else rng.integers(0, len(X), size=b)
        x = np.ascontiguousarray(X[idx], dtype=np.float32)
        ref = _torch_forward(model, x)
        enc_in = graphs["encoder"]["inputs"][0]
        enc = sessions["encoder"].run(graphs["encoder"]["outputs"], {enc_in: x})
        for name, got, want in zip(graphs["encoder"]["outputs"], enc, ref["encoder"]):
            rows.append({"check": f"encoder:{name}", "batch": b, **compare(got, want, tol)})
        # Decoder on the *torch* code, so this row measures the decoder alone.
        dec_in = graphs["decoder"]["inputs"][0]
        dec = sessions["decoder"].run(None, {dec_in: ref["encoder"][0]})[0]
        rows.append({"check": "decoder", "batch": b, **compare(dec, ref["decoder"][0], raw_tol)})
        # Reconstruction: onnx encoder -> onnx decoder, end to end.
        rec = sessions["decoder"].run(None, {dec_in: enc[0]})[0]
        rows.append({"check": "reconstruction", "batch": b, **compare(rec, ref["decoder"][0], raw_tol)})
        if "scorer" in sessions:
            sc = sessions["scorer"].run(None, {graphs["scorer"]["inputs"][0]: x})[0]
            rows.append({"check": "score", "batch": b, **compare(sc, ref["score"][0], tol)})
    return {"tolerance": asdict(tol), "raw_tolerance": asdict(raw_tol), "ok": all(r["ok"] for r in rows), "rows": rows,
            "max_abs": max(r["max_abs"] for r in rows), "max_rel": max(r["max_rel"] for r in rows)}


def golden_report(bundle_dir: str | Path, graphs: dict[str, dict[str, Any]], tol: Tolerance,
                  tolerances: dict[str, Tolerance] | None = None) -> list[dict[str, Any]]:
    """Run every golden vector set through onnxruntime and compare with its stored outputs.

    ``tolerances`` overrides ``tol`` per graph role (see :func:`graph_tolerances`).
    """
    bundle_dir = Path(bundle_dir)
    rows = []
    for role, info in graphs.items():
        role_tol = (tolerances or {}).get(role, tol)
        sess = _session(bundle_dir / info["file"])
        for case in sorted((bundle_dir / "test_data" / role).glob("test_data_set_*")):
            inputs = {}
            for p in sorted(case.glob("input_*.pb")):
                t = onnx.load_tensor(str(p))
                inputs[t.name] = numpy_helper.to_array(t)
            expected = [numpy_helper.to_array(onnx.load_tensor(str(p))) for p in sorted(case.glob("output_*.pb"))]
            got = sess.run(None, inputs)
            batch = next(iter(inputs.values())).shape[0]
            for i, (g, e) in enumerate(zip(got, expected)):
                rows.append({"check": f"golden:{role}/{case.name}/output_{i}", "batch": batch, **compare(g, e, role_tol)})
    return rows


def format_table(report: dict[str, Any]) -> str:
    """The parity report as a fixed-width text table."""
    tol = report["tolerance"]
    lines = [f"parity: onnxruntime vs torch (atol {tol['atol']:g}, rtol {tol['rtol']:g})",
             f"{'check':<44} {'batch':>6} {'max abs':>11} {'max rel':>11}  result"]
    for r in report["rows"]:
        lines.append(f"{r['check']:<44} {r['batch']:>6} {r['max_abs']:>11.3e} {r['max_rel']:>11.3e}  "
                     f"{'ok' if r['ok'] else 'FAIL'}")
    lines.append(f"overall: {'ok' if report['ok'] else 'FAIL'} (max abs {report['max_abs']:.3e})")
    return "\n".join(lines)
