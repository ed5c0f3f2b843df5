"""``aeexport verify``: re-measure a bundle's parity from its files alone.

Golden vectors are checked with numpy + onnxruntime (:mod:`aeexport.export`);
torch-vs-onnxruntime parity needs the bundle's ``weights.safetensors``, which a
slim bundle leaves out: the report then says so (``"torch_parity": "skipped"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.format import WEIGHTS_NAME, read_bundle, safe_path
from aeruntime.validation import check_rows as check_row_rule

from ._golden import Tolerance, golden_report, graph_tolerances, synthetic_rows

__all__ = ["NOTHING_COMPARED", "SLIM_NOTE", "VERDICT_NOTHING", "check_rows", "verify_bundle"]

#: what the report says when the bundle has no torch weights
SLIM_NOTE = (
    "this bundle has no weights.safetensors (a slim bundle, or the weights were removed): torch parity "
    "needs the full bundle written by `aeexport export`; only the golden vectors were checked"
)


def check_rows(X: Any, manifest: dict[str, Any], source: str = "--data") -> np.ndarray:
    """``X`` as float32 (n_rows, *input_shape), or :class:`InvalidInputError` naming what is wrong.

    The one row rule (:func:`aeruntime.validation.check_rows`): the width (before any torch
    code sees the rows) and that every value is finite, naming the first bad row and
    column (with its feature name when the bundle has names).
    """
    shape = tuple(manifest["input"]["shape"])
    n_in = int(np.prod(shape))
    arr = np.asarray(X)
    width = arr.shape[1] if arr.ndim == 2 else arr.shape[1:]
    fix = (
        f" The rows of {source} have width {width}, but the bundle expects {n_in} features: pass the training "
        "features only (for CSV with a label column: --label-column NAME)."
    )
    names = manifest["input"].get("feature_names")
    return check_row_rule(arr, shape, source, flat_ok=True, columns=names, fix=fix, dtype=np.float32)


def _tolerances(manifest: dict[str, Any], tol: Tolerance | None) -> tuple[Tolerance, dict[str, Tolerance]]:
    """The overall and per-graph tolerances: explicit, else the ones the manifest records."""
    golden = manifest.get("golden", {})
    if tol is None:
        t = golden.get("tolerance", {})
        base = Tolerance(atol=float(t.get("atol", 1e-5)), rtol=float(t.get("rtol", 1e-4)))
        if golden.get("tolerances"):
            return base, {
                r: Tolerance(atol=float(v["atol"]), rtol=float(v["rtol"])) for r, v in golden["tolerances"].items()
            }
    else:
        base = tol
    sc = manifest["scaler"]  # an explicit tolerance, or a bundle written before per-graph tolerances
    return base, graph_tolerances(base, np.asarray(sc["mean"]), np.asarray(sc["scale"]))


#: the note of a bundle with neither torch weights nor golden vectors: verify compared no outputs
NOTHING_COMPARED = SLIM_NOTE.replace(
    "only the golden vectors were checked", "and it has no golden vectors: nothing to compare"
)
#: ``report["verdict"]`` when no output was compared (only the file hashes were checked)
VERDICT_NOTHING = "nothing compared"


def _checked(manifest: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """What verify compared: file hashes, golden vectors, torch parity rows (and why one was not)."""
    torch_rows = len(report["rows"]) - report["golden_vectors"]
    return {
        "file_hashes": len(manifest.get("files", {})),
        "golden_vectors": report["golden_vectors"] or "none in the bundle",
        "torch_parity": torch_rows if report["torch_parity"] == "checked" else f"skipped: no {WEIGHTS_NAME}",
        "outputs_compared": len(report["rows"]),
    }


def _torch_parity(
    path: Path, manifest: dict[str, Any], X: np.ndarray | None, tol: Tolerance, batches: tuple[int, ...]
) -> dict[str, Any]:
    from aeruntime.format import SCORES

    from ..models.base import ELEMENT_ERRORS
    from ..train import model_from_weights
    from ._parity import parity_report

    weights = safe_path(path, manifest.get("weights", WEIGHTS_NAME))
    model = model_from_weights(
        manifest["model"]["kind"], manifest["model"]["config"], manifest["input"]["shape"], weights
    )
    name = manifest.get("score", {}).get("name", "mse")
    # element-wise scores are chosen at export; kind-specific ones (neg_elbo) live in the config
    model.score_name = name if name in ELEMENT_ERRORS and name in SCORES else "mse"
    rows = X if X is not None else synthetic_rows(manifest, max(batches))
    return parity_report(model, path, rows, graphs=manifest["graphs"], batches=batches, tol=tol)


def verify_bundle(
    path: str | Path,
    *,
    X: np.ndarray | None = None,
    tol: Tolerance | None = None,
    batches: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """Check file hashes, golden vectors and torch-vs-onnxruntime parity of a bundle.

    Parameters
    ----------
    path : path
        Bundle directory.
    X : ndarray of shape (n_rows, *input_shape), optional
        Real rows to test on (finite, the bundle's width: :class:`InvalidInputError`
        otherwise); default: rows drawn from the stored scaler statistics.
    tol : Tolerance, optional
        Default: the tolerance recorded in the manifest.
    batches : tuple of int, optional
        Batch sizes of the torch comparison (default :data:`aeexport.export.PARITY_BATCHES`).

    Returns
    -------
    dict
        The parity report; ``report["ok"]`` is False on any violation. Without
        ``weights.safetensors`` (slim bundles) ``report["torch_parity"]`` is
        ``"skipped"`` and ``report["note"]`` says why. ``report["checked"]`` says what was
        compared; ``report["verdict"]`` is ``"ok"``, ``"violation"`` or, when no output could be
        compared (no weights, no golden vectors), ``"nothing compared"``: never ok about nothing.
    """
    path = Path(path)
    manifest, _ = read_bundle(path)  # hashes, external data, partners: before onnxruntime opens a graph
    if X is not None:
        X = check_rows(X, manifest)
    base, tols = _tolerances(manifest, tol)
    golden = golden_report(path, manifest["graphs"], base, tols, manifest["files"])
    weights = manifest.get("weights", WEIGHTS_NAME)
    if (path / weights).is_file() and weights in manifest["files"]:
        from ._parity import PARITY_BATCHES

        report = _torch_parity(path, manifest, X, base, batches or PARITY_BATCHES)
        report["torch_parity"] = "checked"
    else:
        report = {
            "tolerance": {"atol": base.atol, "rtol": base.rtol},
            "rows": [],
            "torch_parity": "skipped",
            "note": SLIM_NOTE,
        }
    report["rows"] += golden
    report["golden_vectors"] = len(golden)
    report["checked"] = _checked(manifest, report)
    if not report["rows"]:
        report["note"] = NOTHING_COMPARED
    # exit status of `aeexport verify`: no violation; with nothing compared, "verdict" says so rather than "ok"
    report["ok"] = all(r["ok"] for r in report["rows"])
    report["verdict"] = VERDICT_NOTHING if not report["rows"] else ("ok" if report["ok"] else "violation")
    report["max_abs"] = max((r["max_abs"] for r in report["rows"]), default=0.0)
    report["max_rel"] = max((r["max_rel"] for r in report["rows"]), default=0.0)
    return report
