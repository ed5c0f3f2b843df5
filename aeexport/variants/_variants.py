"""Variants of a bundle for edge deployment: int8 (dynamic / static QDQ), fp16, ORT format.

A variant is a bundle directory of its own (default ``BUNDLE-<kind>``) with the
same manifest contract as its fp32 parent, so ``aeruntime.load`` runs it
unchanged, plus ``manifest['variant']`` naming the parent (bundle_id and the
relative path) and how it was made. See ``docs/variants.md``.

No torch: the graphs are transformed with onnx/onnxruntime tools and written by
:class:`aeruntime.format.BundleWriter`. Steps, the bundle published atomically at the end:

1. transform each parent graph (encoder, decoder, scorer) with the field's tool:
   ``onnxruntime.quantization`` (int8), ``onnxconverter_common.float16`` (fp16),
   onnxruntime's ORT-format serializer (ORT);
2. score evaluation rows with parent and variant; recalibrate the threshold so
   the false-positive rate holds; measure decision-level parity
   (:mod:`aeexport.variants`) against the tolerance of the variant kind;
3. hand the graphs with updated ``aeexport.*`` metadata (bundle_id, threshold,
   variant), golden vectors from the variant's own outputs and the manifest to the writer.

Evaluation rows: ``X`` given by the caller (``--data``), else rows drawn from the
parent's scaler statistics (:func:`aeexport.export.synthetic_rows`); the manifest
says which. Static int8 calibrates on the same rows.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from aeruntime.errors import BundleError, InvalidInputError, check_choice
from aeruntime.format import (
    GOLDEN_BATCHES,
    META_PREFIX,
    BundleWriter,
    read_bundle,
    read_manifest,
    scan_model,
)

from .. import __version__
from ..export import (
    golden_report,
    synthetic_rows,
)
from ..settings import Tolerance
from ._decision import DecisionTolerance, decision_report, recalibrate_threshold
from ._graphs import _add_head, _build_graphs, _run
from ._kinds import REQUIRED_OPERATORS, VARIANTS, VariantSpec, required_operators

__all__ = ["default_out", "evaluation_rows", "make_variant", "verify_variant"]

#: rows drawn from the scaler statistics when no --data is given
SYNTHETIC_ROWS = 4096
#: rows fed to static int8 calibration (drawn from the evaluation rows)
CALIBRATION_ROWS = 1024

#: seed of the evaluation rows and of the static int8 calibration sample (recorded in the manifest)
EVALUATION_SEED = 0


def default_out(bundle: str | Path, kind: str) -> Path:
    """``BUNDLE-<kind>`` beside the parent bundle."""
    p = Path(bundle)
    return p.with_name(f"{p.resolve().name}-{kind}") if p.name in ("", ".") else p.with_name(f"{p.name}-{kind}")


def evaluation_rows(
    manifest: dict[str, Any], X: np.ndarray | None, source: str | None, n: int = SYNTHETIC_ROWS, seed: int = 0
) -> tuple[np.ndarray, dict[str, Any]]:
    """``X`` as float32 (n_rows, *input_shape) with a description, or synthetic rows."""
    shape = tuple(manifest["input"]["shape"])
    if X is None:
        return synthetic_rows(manifest, n, seed=seed), {
            "source": "synthetic",
            "rows": n,
            "seed": seed,
            "how": "mean + scale * N(0, 1) from manifest['scaler']",
        }
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 2 and X.shape[1:] != shape and X.shape[1] == int(np.prod(shape)):
        X = X.reshape(-1, *shape)
    if X.shape[1:] != shape or len(X) < 2:
        raise InvalidInputError(
            f"evaluation rows have shape {X.shape}, but the bundle expects (n_rows >= 2, "
            f"{', '.join(map(str, shape))}); pass --data with rows of the training features."
        )
    return np.ascontiguousarray(X), {"source": source or "array", "rows": len(X)}


#: per-graph metadata keys the writer sets itself; the parent's other aeexport.* entries are kept
_PER_GRAPH = ("format_version", "bundle_id", "role", "graph_sha256", "partners", "inputs", "outputs")


def _graph_metadata(data: dict[str, bytes]) -> dict[str, dict[str, str]]:
    """The aeexport.* metadata (prefix removed) of checked graph bytes, by role."""
    return {
        role: {k[len(META_PREFIX) :]: v for k, v in scan_model(b).metadata.items() if k.startswith(META_PREFIX)}
        for role, b in data.items()
    }


def _variant_info(
    kind: str,
    spec: VariantSpec,
    pm: dict[str, Any],
    parent: Path,
    out: Path,
    data: dict[str, Any],
    calib_rows: int,
    real_rows: bool,
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "kind": kind,
        "description": spec.description,
        "parent_bundle_id": pm["bundle_id"],
        "parent_path": Path(os.path.relpath(parent.resolve(), out.resolve())).as_posix(),
        "tool": spec.tool,
        "evaluation_data": data,
    }
    if kind == "int8-static":
        info["calibration"] = {
            **data,
            "rows_used": calib_rows,
            "note": "rows from --data"
            if real_rows
            else "no training rows in the bundle: rows drawn from the scaler statistics",
        }
    return info


def _check_parent(parent: Path, out: Path, pm: dict[str, Any]) -> None:
    not_onnx = [g["file"] for g in pm["graphs"].values() if not g["file"].endswith(".onnx")]
    if not_onnx:
        raise BundleError(
            f"bundle {str(parent)!r} holds graphs {not_onnx} that are not ONNX files (an ORT-format variant?); "
            "make variants from the fp32 ONNX bundle it came from."
        )
    if "scorer" not in pm["graphs"]:
        raise BundleError("variants need a bundle with scorer.onnx; re-export the parent with a current aeexport.")
    if out.resolve() == parent.resolve():
        raise InvalidInputError(f"--out {str(out)!r} is the parent bundle itself; choose another directory.")


def make_variant(
    bundle: str | Path,
    kind: str,
    out: str | Path | None = None,
    *,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    data_source: str | None = None,
    tol: DecisionTolerance | None = None,
    target_onnxruntime: str | None = None,
) -> dict[str, Any]:
    """Build the ``kind`` variant of ``bundle`` in ``out``; return its manifest (no torch needed).

    Parameters
    ----------
    bundle : path of the parent bundle (fp32 ONNX graphs, with ``scorer.onnx``)
    kind : {"int8-dynamic", "int8-static", "fp16", "ort"}
    out : path, optional
        Variant bundle directory; default ``BUNDLE-<kind>``. Replaced atomically.
    X : ndarray of shape (n_rows, *input_shape), optional
        Real rows: evaluation (and static calibration) rows. Default: rows drawn
        from the parent's scaler statistics.
    y : ndarray of shape (n_rows,), optional
        1 = anomaly, 0 = normal: adds ROC-AUC; normal rows fix the false-positive rate.
    tol : DecisionTolerance, optional (default: the kind's tolerance in :data:`VARIANTS`)
    target_onnxruntime : str, optional
        Oldest onnxruntime release the variant must load in (``"1.16"``): its graphs are
        lowered to that release's opset / IR version (:mod:`aeexport.export`).

    The variant is written even when it misses its tolerance (the report says
    ``ok: false`` and ``aeexport verify`` fails on it): the numbers are the point.
    """
    spec = _variant_spec(kind)
    parent, out = Path(bundle), Path(out) if out is not None else default_out(bundle, kind)
    pm, parent_data = read_bundle(parent)
    _check_parent(parent, out, pm)
    seed = EVALUATION_SEED
    rows, data = evaluation_rows(pm, X, data_source, seed=seed)
    y = _labels(y, len(rows))
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)

    # 1. Transform each graph (static int8 calibrates on a seeded sample of the rows).
    parent_meta = _graph_metadata(parent_data)
    calib = rows[np.random.default_rng(seed).permutation(len(rows))[:CALIBRATION_ROWS]]
    writer = BundleWriter(id_salt=pm["bundle_id"] + kind)
    built = _build_graphs(spec, pm, parent_data, parent_meta, calib, writer, target_onnxruntime)
    vgraphs = writer.graph_entries()
    info = _variant_info(kind, spec, pm, parent, out, data, len(calib), X is not None)
    common = _common_metadata(parent_meta, info)

    # 2. Scores of parent and variant (the threshold does not change any output), new threshold, report.
    final = {role: writer.graph_bytes(role, common) for role in vgraphs}
    scorers = (parent_data["scorer"], final["scorer"], vgraphs["scorer"]["inputs"][0])
    thr, report = _recalibrate(pm, scorers, rows, y, tol or spec.tolerance, data)
    common["threshold"] = repr(thr["value"])
    if _add_head(writer, spec, pm, built, (parent_data["scorer"], parent_meta), rows, thr["value"]):
        vgraphs = writer.graph_entries()
        final = {role: writer.graph_bytes(role, common) for role in vgraphs}

    # 3. Golden vectors from the variant's own outputs, extra files, manifest.
    _add_golden(writer, vgraphs, final, rows)
    if kind == "ort":
        writer.add_file(REQUIRED_OPERATORS, required_operators(final))
        info["required_operators"] = REQUIRED_OPERATORS
    golden = {"tolerance": asdict(spec.golden), "note": _GOLDEN_NOTE}
    check = _golden_check(report, vgraphs, spec.golden)
    return writer.write(out, _variant_manifest(pm, thr, info), metadata=common, golden=golden, check=check)


def _golden_check(
    report: dict[str, Any], graphs: dict[str, dict[str, Any]], tol: Tolerance
) -> Callable[[Path], dict[str, Any]]:
    """The writer's check of the staged bundle: its golden vectors re-run, folded into ``report``."""

    def check(tmp: Path) -> dict[str, Any]:
        report["golden"] = golden_report(tmp, graphs, tol)
        report["ok"] = report["ok"] and all(r["ok"] for r in report["golden"])
        return {"parity": report}

    return check


#: the golden section's note: where a variant's expected outputs come from
_GOLDEN_NOTE = "expected outputs are the variant's own (onnxruntime CPU), not torch's"


def _common_metadata(parent_meta: dict[str, dict[str, str]], info: dict[str, Any]) -> dict[str, str]:
    """aeexport.* metadata every variant graph carries: the parent's shared entries, the variant and producer."""
    common = {k: v for k, v in parent_meta["scorer"].items() if k not in _PER_GRAPH}
    common.update(
        {
            "variant": json.dumps({k: info[k] for k in ("kind", "parent_bundle_id")}),
            "producer": f"aeexport {__version__}",
        }
    )
    return common


def _variant_spec(kind: str) -> VariantSpec:
    check_choice("variant kind", kind, sorted(VARIANTS))
    return VARIANTS[kind]


def _labels(y: np.ndarray | None, n_rows: int) -> np.ndarray | None:
    """``y`` (1 = anomaly) as int8, one per evaluation row; None stays None."""
    if y is None:
        return None
    y = np.asarray(y).reshape(-1).astype(np.int8)
    if len(y) != n_rows:
        raise InvalidInputError(f"labels have {len(y)} entries but the data has {n_rows} rows.")
    return y


def _recalibrate(
    pm: dict[str, Any],
    scorers: tuple[bytes, bytes, str],
    rows: np.ndarray,
    y: np.ndarray | None,
    tol: DecisionTolerance,
    data: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The variant's threshold section and decision report: parent and variant ``scorers``
    (parent bytes, variant bytes, input name) scored on ``rows``."""
    parent_scorer, variant_scorer, sc = scorers
    parent_thr = float(pm["threshold"]["value"])
    sp = _run(parent_scorer, sc, rows)[0].astype(np.float64)
    sv = _run(variant_scorer, sc, rows)[0].astype(np.float64)
    thr = recalibrate_threshold(sp, sv, parent_thr, (y == 0) if y is not None else None)
    thr["expected_false_positive_rate"] = pm["threshold"].get("expected_false_positive_rate")
    thr["parent_method"] = pm["threshold"].get("method")
    thr["calibration_rows"] = thr["params"]["rows"]
    report = decision_report(sp, sv, parent_threshold=parent_thr, variant_threshold=thr["value"], tol=tol, y=y)
    report["data"] = data
    report["scored_with"] = "scorer"
    return thr, report


def _variant_manifest(pm: dict[str, Any], thr: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """The parent's manifest with the variant's threshold, variant section and producer; the writer fills the rest."""
    manifest = {k: v for k, v in pm.items() if k not in ("weights", "parity", "golden", "files", "omitted")}
    manifest.update(
        {
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "graphs": None,
            "threshold": thr,
            "variant": info,
            "golden": None,
            "files": None,
            "producer": {**pm.get("producer", {}), "aeexport": __version__, "onnxruntime": ort.__version__},
            "parity": None,
        }
    )
    return manifest


def _add_golden(
    writer: BundleWriter, graphs: dict[str, dict[str, Any]], final: dict[str, bytes], X: np.ndarray
) -> None:
    """Golden vectors at :data:`GOLDEN_BATCHES` from the variant's own outputs (onnxruntime CPU)."""
    for b in GOLDEN_BATCHES:
        x = np.ascontiguousarray(X[np.arange(b) % len(X)])
        z = _run(final["encoder"], graphs["encoder"]["inputs"][0], x)[0]
        for role, inp in (("encoder", x), ("decoder", z), ("scorer", x)):
            info = graphs[role]
            outs = _run(final[role], info["inputs"][0], inp)
            writer.add_golden(role, [(info["inputs"][0], inp)], list(zip(info["outputs"], outs)))


def verify_variant(
    path: str | Path,
    *,
    parent: str | Path | None = None,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    data_source: str | None = None,
) -> dict[str, Any]:
    """Re-measure a variant's decision-level parity against its parent.

    Both bundles are loaded with :func:`aeruntime.load` (hashes checked); the
    variant is judged at its stored threshold against the tolerance stated in
    its manifest. ``parent`` defaults to the recorded relative path.

    Returns
    -------
    dict
        The decision report; ``report["ok"]`` is False when a check fails.
    """
    import aeruntime

    path = Path(path)
    vm = read_manifest(path)
    info = vm.get("variant")
    if not isinstance(info, dict):
        raise BundleError(f"{str(path)!r} is not a variant bundle (no manifest['variant']).")
    parent = Path(parent) if parent is not None else (path / info["parent_path"])
    if not parent.is_dir():
        raise BundleError(
            f"the parent bundle of variant {str(path)!r} was not found at {str(parent)!r} (recorded path "
            f"{info['parent_path']!r}); pass --parent DIR pointing to bundle {info['parent_bundle_id']}."
        )
    pm = read_manifest(parent)
    if pm["bundle_id"] != info["parent_bundle_id"]:
        raise BundleError(
            f"{str(parent)!r} is bundle {pm['bundle_id']}, but the variant was made from "
            f"{info['parent_bundle_id']}; pass --parent DIR pointing to that bundle."
        )
    variant = aeruntime.load(path, providers="cpu")
    parent_model = aeruntime.load(parent, providers="cpu")
    d = info.get("evaluation_data", {})
    rows, data = evaluation_rows(
        pm, X, data_source, n=int(d.get("rows", SYNTHETIC_ROWS)) if X is None else 0, seed=int(d.get("seed", 0))
    )
    sp = np.concatenate([parent_model.score(rows[i : i + 65536]) for i in range(0, len(rows), 65536)])
    sv = np.concatenate([variant.score(rows[i : i + 65536]) for i in range(0, len(rows), 65536)])
    tol = DecisionTolerance(**vm["parity"]["tolerance"])
    report = decision_report(
        sp, sv, parent_threshold=parent_model.threshold, variant_threshold=variant.threshold, tol=tol, y=y
    )
    report["data"] = data
    gt = vm.get("golden", {}).get("tolerance", {})
    report["golden"] = golden_report(path, vm["graphs"], Tolerance(**gt) if gt else Tolerance(), files=vm["files"])
    report["ok"] = report["ok"] and all(r["ok"] for r in report["golden"])
    report["variant"] = {"kind": info["kind"], "parent": str(parent), "parent_bundle_id": pm["bundle_id"]}
    return report
