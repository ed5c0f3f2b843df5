"""Tolerances, comparisons and golden vectors: the torch-free half of parity.

Everything here needs numpy and onnxruntime only (no torch, no onnx), so
variants (int8, fp16, ORT format) and ``aeexport verify`` on slim bundles can use
it where torch is not installed. :mod:`aeexport.export` adds the comparison
against the torch model.

Comparison rule: every element satisfies ``|actual - reference| <= atol + rtol *
|reference|`` (numpy's ``isclose`` rule). The relative figure ignores elements
whose reference is below ``atol`` in size: there the absolute tolerance decides.

Outputs in raw feature units (the decoder's ``x_hat``, the reconstruction) are
computed as ``x_scaled * scale + mean`` inside the graph, so their float32 rounding
grows with the size of the data (a pixel of 0..255 has a spacing of 3e-5). Their
absolute tolerance is therefore ``atol * max(1, max(|scale| + |mean|))``
(:func:`raw_tolerance`), i.e. ``atol`` in the units the model works in; the
manifest records it per graph under ``golden.tolerances``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.errors import AeError
from aeruntime.format import golden_sets, listed_file, read_golden

from ..settings import Tolerance

__all__ = [
    "ParityError",
    "code_tolerance",
    "compare",
    "cpu_session",
    "format_table",
    "golden_report",
    "graph_tolerances",
    "raw_tolerance",
    "synthetic_rows",
    "verdict",
]


class ParityError(AeError):
    """onnxruntime outputs differ from torch beyond the tolerance."""


def raw_tolerance(tol: Tolerance, mean: np.ndarray, scale: np.ndarray) -> Tolerance:
    """Tolerance for outputs in raw feature units: ``atol`` grows with the data's magnitude."""
    factor = max(1.0, float(np.max(np.abs(np.asarray(scale, np.float64)) + np.abs(np.asarray(mean, np.float64)))))
    return Tolerance(atol=tol.atol * factor, rtol=tol.rtol)


def code_tolerance(tol: Tolerance, reference: np.ndarray) -> Tolerance:
    """Tolerance for latent codes: ``atol`` grows with the codes' largest magnitude in the batch (float32
    rounding in a layer scales with the values it sums; far-out rows give large codes)."""
    r = np.abs(np.asarray(reference, np.float64))
    return Tolerance(atol=tol.atol * max(1.0, float(r.max()) if r.size else 1.0), rtol=tol.rtol)


def graph_tolerances(tol: Tolerance, mean: np.ndarray, scale: np.ndarray) -> dict[str, Tolerance]:
    """Per-graph golden-vector tolerance: the decoder's outputs are in raw units."""
    return {"encoder": tol, "decoder": raw_tolerance(tol, mean, scale), "scorer": tol}


def compare(actual: np.ndarray, reference: np.ndarray, tol: Tolerance) -> dict[str, Any]:
    """Max abs / rel difference of ``actual`` against ``reference`` and the pass verdict."""
    a = np.asarray(actual, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape:
        return {
            "max_abs": float("inf"),
            "max_rel": float("inf"),
            "ok": False,
            "note": f"shape {a.shape} != reference {r.shape}",
        }
    diff = np.abs(a - r)
    big = np.abs(r) > tol.atol
    max_rel = float((diff[big] / np.abs(r[big])).max()) if big.any() else 0.0
    ok = bool(np.all(diff <= tol.atol + tol.rtol * np.abs(r))) and bool(np.isfinite(a).all())
    return {"max_abs": float(diff.max()) if diff.size else 0.0, "max_rel": max_rel, "ok": ok}


def cpu_session(model: str | Path | bytes) -> Any:
    """A one-thread CPU ``onnxruntime.InferenceSession`` (parity batches are small)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # one thread avoids oversubscription
    opts.log_severity_level = 3  # errors only: a decision scorer's optional threshold input is warned about
    return ort.InferenceSession(
        model if isinstance(model, bytes) else str(model), opts, providers=["CPUExecutionProvider"]
    )


def synthetic_rows(manifest: dict[str, Any], n: int, seed: int = 0) -> np.ndarray:
    """Rows drawn around the training distribution: mean + scale * N(0, 1), raw units, (n, *input_shape)."""
    shape = tuple(manifest["scaler"]["shape"])
    mean = np.asarray(manifest["scaler"]["mean"], np.float32).reshape(shape)
    scale = np.asarray(manifest["scaler"]["scale"], np.float32).reshape(shape)
    rng = np.random.default_rng(seed)
    return (mean + scale * rng.standard_normal((n, *shape))).astype(np.float32)


def golden_report(
    bundle_dir: str | Path,
    graphs: dict[str, dict[str, Any]],
    tol: Tolerance,
    tolerances: dict[str, Tolerance] | None = None,
    files: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Run every golden vector set through onnxruntime and compare with its stored outputs.

    ``tolerances`` overrides ``tol`` per graph role (see :func:`graph_tolerances`). ``files``: the
    files the manifest lists (only listed golden files are opened, each a regular file inside the
    bundle: :func:`aeruntime.format.read_golden`); None for a bundle being staged by this process,
    whose files are all ours.
    """
    bundle_dir = Path(bundle_dir)
    if files is None:
        files = [p.relative_to(bundle_dir).as_posix() for p in sorted(bundle_dir.rglob("*.pb"))]
    rows = []
    sets = golden_sets({"files": dict.fromkeys(files), "graphs": graphs})
    sessions = {
        role: cpu_session(listed_file(bundle_dir, info["file"], f"{role} graph")) for role, info in graphs.items()
    }
    for (role, name), listed in sets.items():
        role_tol = (tolerances or {}).get(role, tol)
        inputs = dict(read_golden(bundle_dir, rel) for rel in listed["input"])
        expected = [read_golden(bundle_dir, rel)[1] for rel in listed["output"]]
        got = sessions[role].run(None, inputs)
        batch = next(iter(inputs.values())).shape[0]
        for i, (g, e) in enumerate(zip(got, expected)):
            check = f"golden:{role}/{name}/output_{i}"
            rows.append({"check": check, "batch": batch, **compare(g, e, role_tol)})
    return rows


def verdict(ok: bool) -> str:
    """``"ok"`` or ``"FAIL"``: the result column of the parity tables."""
    return "ok" if ok else "FAIL"


def format_table(report: dict[str, Any]) -> str:
    """The parity report as a fixed-width text table."""
    tol = report["tolerance"]
    title = f"parity: onnxruntime vs torch (atol {tol['atol']:g}, rtol {tol['rtol']:g}; codes: atol x their largest magnitude)"
    lines = [title, f"{'check':<44} {'batch':>6} {'max abs':>11} {'max rel':>11}  result"]
    for r in report["rows"]:
        lines.append(
            f"{r['check']:<44} {r['batch']:>6} {r['max_abs']:>11.3e} {r['max_rel']:>11.3e}  {verdict(r['ok'])}"
        )
    if not report["rows"]:  # never "ok" about nothing (a slim bundle without golden vectors)
        lines.append(
            "overall: nothing compared (no torch weights, no golden vectors); only the file hashes were checked"
        )
    else:
        lines.append(f"overall: {verdict(report['ok'])} (max abs {report['max_abs']:.3e})")
    return "\n".join(lines)
