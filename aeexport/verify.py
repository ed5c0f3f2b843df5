"""``aeexport verify``: re-measure a bundle's parity from its files alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from aeruntime.bundle import read_manifest, verify_files
from aeruntime.integrity import check_graphs

from .checkpoint import model_from_weights
from .models.base import ELEMENT_ERRORS
from .parity import PARITY_BATCHES, Tolerance, golden_report, graph_tolerances, parity_report

__all__ = ["verify_bundle", "synthetic_rows"]


def synthetic_rows(manifest: dict[str, Any], n: int, seed: int = 0) -> np.ndarray:
    """Rows drawn around the training distribution: mean + scale * N(0, 1), raw units."""
    shape = tuple(manifest["scaler"]["shape"])
    mean = np.asarray(manifest["scaler"]["mean"], np.float32).reshape(shape)
    scale = np.asarray(manifest["scaler"]["scale"], np.float32).reshape(shape)
    rng = np.random.default_rng(seed)
    return (mean + scale * rng.standard_normal((n, *shape))).astype(np.float32)


def verify_bundle(
    path: str | Path,
    *,
    X: np.ndarray | None = None,
    tol: Tolerance | None = None,
    batches: tuple[int, ...] = PARITY_BATCHES,
) -> dict[str, Any]:
    """Check file hashes, golden vectors and torch-vs-onnxruntime parity of a bundle.

    Parameters
    ----------
    path : path
        Bundle directory.
    X : ndarray of shape (n_rows, *input_shape), optional
        Real rows to test on; default: rows drawn from the stored scaler statistics.
    tol : Tolerance, optional
        Default: the tolerance recorded in the manifest.

    Returns
    -------
    dict
        The parity report; ``report["ok"]`` is False on any violation.
    """
    path = Path(path)
    manifest = read_manifest(path)
    verify_files(path, manifest)
    check_graphs(path, manifest)  # external data, partner hashes: before onnxruntime opens a graph
    explicit_tol = tol
    if tol is None:
        t = manifest.get("golden", {}).get("tolerance", {})
        tol = Tolerance(atol=float(t.get("atol", 1e-5)), rtol=float(t.get("rtol", 1e-4)))
    graphs = manifest["graphs"]
    per_role = manifest.get("golden", {}).get("tolerances") or {}
    if explicit_tol is None and per_role:
        tols = {r: Tolerance(atol=float(t["atol"]), rtol=float(t["rtol"])) for r, t in per_role.items()}
    else:  # an explicit tolerance, or a bundle written before per-graph tolerances
        sc = manifest["scaler"]
        tols = graph_tolerances(tol, np.asarray(sc["mean"]), np.asarray(sc["scale"]))
    golden = golden_report(path, graphs, tol, tols)
    weights = path / manifest.get("weights", "weights.safetensors")
    if weights.is_file():
        model = model_from_weights(manifest["model"]["kind"], manifest["model"]["config"],
                                   manifest["input"]["shape"], weights)
        name = manifest.get("score", {}).get("name", "mse")
        # element-wise scores are chosen at export; kind-specific ones (neg_elbo) live in the config
        model.score_name = name if name in ELEMENT_ERRORS else "mse"
        rows = X if X is not None else synthetic_rows(manifest, max(batches))
        report = parity_report(model, path, rows, graphs=graphs, batches=batches, tol=tol)
    else:
        report = {"tolerance": {"atol": tol.atol, "rtol": tol.rtol}, "rows": [],
                  "note": "bundle has no weights.safetensors: only golden vectors checked"}
    report["rows"] += golden
    report["ok"] = all(r["ok"] for r in report["rows"])
    report["max_abs"] = max(r["max_abs"] for r in report["rows"])
    report["max_rel"] = max(r["max_rel"] for r in report["rows"])
    return report
