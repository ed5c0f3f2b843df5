"""Parity: onnxruntime against torch, measured and reported.

For the encoder, the decoder, the composed reconstruction and the score, at
several batch sizes, the report gives the max absolute and relative difference
and whether every element is within the tolerance (:mod:`aeexport.export` holds
the torch-free rule, the golden vectors and the tolerances).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models import Autoencoder
from ..settings import Tolerance
from ._golden import code_tolerance, compare, cpu_session, raw_tolerance

__all__ = ["PARITY_BATCHES", "parity_report"]

#: batch sizes checked at export and by `aeexport verify`: one row, an odd batch, a large batch
PARITY_BATCHES = (1, 7, 1024)


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


def parity_report(
    model: Autoencoder,
    bundle_dir: str | Path,
    X: np.ndarray,
    *,
    graphs: dict[str, dict[str, Any]],
    batches: tuple[int, ...] = PARITY_BATCHES,
    tol: Tolerance | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare torch with onnxruntime on rows drawn from ``X`` (n, *input_shape).

    ``X`` should be real data (held-out rows); batches larger than ``X`` are
    drawn with replacement.
    """
    tol = tol or Tolerance()
    bundle_dir = Path(bundle_dir)
    sessions = {role: cpu_session(bundle_dir / info["file"]) for role, info in graphs.items()}
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
            rows.append({"check": f"encoder:{name}", "batch": b, **compare(got, want, code_tolerance(tol, want))})
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
    return {
        "tolerance": asdict(tol),
        "raw_tolerance": asdict(raw_tol),
        "ok": all(r["ok"] for r in rows),
        "rows": rows,
        "max_abs": max(r["max_abs"] for r in rows),
        "max_rel": max(r["max_rel"] for r in rows),
    }
