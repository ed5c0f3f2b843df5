"""Export a trained model as a bundle (see ``docs/bundle-format.md``).

Order of work, all inside a temporary directory that replaces the target only
at the end (so a failure never leaves a half bundle):

1. export encoder, decoder and scorer graphs with the scaler inside, dynamic batch;
2. full ``onnx.checker`` check;
3. calibrate the threshold on held-out rows scored by the *exported* scorer;
4. write metadata into every graph, golden vectors, weights;
5. measure parity (torch vs onnxruntime) and fail on a violation;
6. write ``manifest.json`` with the sha256 of every file; swap into place.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict
import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from aeruntime._atomic import atomic_directory
from aeruntime._ort import ort
from aeruntime.bundle import FORMAT_VERSION, GRAPH_FILES, MANIFEST_NAME, META_PREFIX, sha256_file
from aeruntime.errors import InvalidInputError
from onnx import numpy_helper
from safetensors.torch import save_file

from . import __version__
from ._quiet import quiet
from .calibrate import DEFAULT_PERCENTILE, calibrate, calibrate_threshold
from .models import Autoencoder
from .parity import PARITY_BATCHES, graph_tolerances, ParityError, Tolerance, format_table, golden_report, parity_report

__all__ = ["export_bundle", "SCORE_DEFINITION", "SCORE_DEFINITIONS", "WEIGHTS_NAME"]

WEIGHTS_NAME = "weights.safetensors"
#: golden vector batch sizes: one row and a batch greater than one
GOLDEN_BATCHES = (1, 5)

SCORE_DEFINITION = {
    "name": "mse",
    "definition": "mean over all input elements of ((x - x_hat) / scale)^2: the squared "
    "reconstruction error in the scaled space the model was trained in",
    "direction": "higher_is_more_anomalous",
    "space": "scaled",
    "output": "score",
    "element_error": "squared",
    "reduction": "mean",
    "per_feature": "feature_errors(x) = ((x - x_hat) / scale)^2 per input element (aeruntime "
    "Model.feature_errors / explain); score = their mean",
}

#: score name -> definition written to the manifest and every graph's metadata;
#: export_bundle(score=...) selects one (the scorer graph's element error, see
#: aeexport.models.base.ELEMENT_ERRORS)
SCORE_DEFINITIONS: dict[str, dict[str, str]] = {
    "mse": SCORE_DEFINITION,
    "mae": {
        "name": "mae",
        "definition": "mean over all input elements of |x - x_hat| / scale: the absolute "
        "reconstruction error in the scaled space the model was trained in (less dominated "
        "by one extreme feature than mse)",
        "direction": "higher_is_more_anomalous",
        "space": "scaled",
        "output": "score",
        "element_error": "absolute",
        "reduction": "mean",
        "per_feature": "feature_errors(x) = |x - x_hat| / scale per input element (aeruntime "
        "Model.feature_errors / explain); score = their mean",
    },
}


class _Graph(torch.nn.Module):
    """Wraps one of the model's ``*_graph`` methods as a module for the exporter."""

    def __init__(self, model: Autoencoder, method: str) -> None:
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, x: torch.Tensor) -> Any:
        return getattr(self.model, self.method)(x)


def _export_graph(model: Autoencoder, method: str, example: torch.Tensor, inp: str,
                  outputs: list[str], verbose: bool) -> onnx.ModelProto:
    with quiet(not verbose):
        program = torch.onnx.export(
            _Graph(model, method), (example,), None,
            input_names=[inp], output_names=outputs,
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True, external_data=False, verbose=verbose, optimize=True,
        )
    proto = program.model_proto
    # Weights live inside the graph: single-file models, no side .data file.
    for init in proto.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:  # pragma: no cover - defensive
            raise RuntimeError("exporter produced external data; expected single-file graphs")
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _graph_sha256(proto: onnx.ModelProto) -> str:
    return hashlib.sha256(proto.graph.SerializeToString(deterministic=True)).hexdigest()


def _io(proto: onnx.ModelProto, which: str) -> list[dict[str, Any]]:
    values = proto.graph.input if which == "inputs" else proto.graph.output
    out = []
    for v in values:
        dims = [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        out.append({"name": v.name, "shape": ["batch", *dims[1:]], "dtype": "float32"})
    return out


def _save_tensor(path: Path, array: np.ndarray, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(numpy_helper.from_array(np.ascontiguousarray(array), name).SerializeToString())


def export_bundle(
    model: Autoencoder,
    out: str | Path,
    *,
    calibration_x: np.ndarray,
    percentile: float = DEFAULT_PERCENTILE,
    threshold: float | None = None,
    tol: Tolerance = Tolerance(),
    batches: tuple[int, ...] = PARITY_BATCHES,
    training: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    verbose: bool = False,
    score: str = "mse",
    threshold_method: str = "percentile",
    threshold_param: float | None = None,
    calibration_y: np.ndarray | None = None,
) -> dict[str, Any]:
    """Export ``model`` to the bundle directory ``out``; return its manifest.

    Parameters
    ----------
    model : Autoencoder
        Trained model (scaler buffers set).
    out : path
        Bundle directory; replaced atomically if it exists.
    calibration_x : ndarray of shape (n_rows, *input_shape)
        Held-out normal rows in raw units: the threshold is calibrated on their
        scores from the exported scorer, and parity is measured on them.
    percentile : float
        Threshold = this percentile of the held-out scores (default 95).
    threshold : float, optional
        A fixed threshold instead of calibrating one.
    tol : Tolerance
        Parity tolerance; a violation raises :class:`ParityError` and writes nothing.
    score : str
        Score definition, a key of :data:`SCORE_DEFINITIONS` (``"mse"`` default, ``"mae"``).
    threshold_method : str
        A key of :data:`aeexport.calibrate.CALIBRATORS`: ``"percentile"`` (uses
        ``percentile``), ``"contamination"``, ``"target_fpr"`` or ``"f1"`` (needs
        ``calibration_y``); ``threshold_param`` is its parameter (default: the method's).
    calibration_y : ndarray of shape (n_rows,), optional
        0/1 labels of ``calibration_x`` (1 = anomaly), for ``threshold_method="f1"``.

    Raises
    ------
    ParityError
        onnxruntime and torch disagree beyond ``tol``.
    """
    if threshold is not None:  # same rule as aeruntime.load(threshold=...): finite, >= 0 for mse
        from aeruntime.model import _check_threshold

        threshold = _check_threshold(threshold, SCORE_DEFINITION["name"])
    model = model.eval().cpu()
    if score not in SCORE_DEFINITIONS:
        raise InvalidInputError(f"unknown score {score!r}; expected one of {sorted(SCORE_DEFINITIONS)}.")
    model.score_name = score
    score_def = SCORE_DEFINITIONS[score]
    X = np.ascontiguousarray(calibration_x, dtype=np.float32)
    if X.ndim != len(model.input_shape) + 1 or X.shape[1:] != model.input_shape or len(X) == 0:
        raise InvalidInputError(
            f"calibration rows have shape {X.shape}, but the model expects (n_rows, "
            f"{', '.join(map(str, model.input_shape))}) with n_rows >= 1."
        )
    enc_outputs = list(model.encoder_outputs)
    # A kind may define its own default score (VAE: neg_elbo on request); an explicit
    # element-wise score chosen at export takes precedence over it.
    score_def = (model.score_definition() if score == "mse" else None) or score_def
    graphs_io = {
        "encoder": ("encoder_graph", "x", enc_outputs, model.input_shape),
        "decoder": ("decoder_graph", "z", ["x_hat"], model.latent_shape),
        "scorer": ("scorer_graph", "x", ["score"], model.input_shape),
    }
    # 1-2. Export and check each graph.
    protos: dict[str, onnx.ModelProto] = {}
    for role, (method, inp, outs, shape) in graphs_io.items():
        example = torch.zeros((2, *shape), dtype=torch.float32)
        protos[role] = _export_graph(model, method, example, inp, outs, verbose)
    hashes = {role: _graph_sha256(p) for role, p in protos.items()}
    bundle_id = hashlib.sha256("".join(hashes[r] for r in sorted(hashes)).encode()).hexdigest()[:32]

    # 3. Threshold from the exported scorer's scores on held-out rows.
    scorer = ort.InferenceSession(protos["scorer"].SerializeToString(), providers=["CPUExecutionProvider"])
    cal_scores = scorer.run(None, {"x": X})[0]
    if threshold_method == "percentile" and threshold_param is None:
        thr = calibrate_threshold(cal_scores, percentile)
    else:
        thr = calibrate(cal_scores, threshold_method, threshold_param, y=calibration_y)
    if threshold is not None:
        thr = {**thr, "value": float(threshold), "method": "fixed", "params": {"value": float(threshold)}}

    graphs = {role: {"file": GRAPH_FILES[role], "inputs": [i["name"] for i in _io(p, "inputs")],
                     "outputs": [o["name"] for o in _io(p, "outputs")], "graph_sha256": hashes[role]}
              for role, p in protos.items()}
    producer = {
        "aeexport": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
        "onnxruntime": ort.__version__, "opset": int(protos["encoder"].opset_import[0].version),
        "python": platform.python_version(),
    }
    with atomic_directory(out) as tmp:
        # 4. Metadata in every graph, so a single .onnx file is self-describing.
        for role, proto in protos.items():
            meta = {
                "format_version": str(FORMAT_VERSION),
                "bundle_id": bundle_id,
                "role": role,
                "model_kind": model.kind,
                "inputs": json.dumps(_io(proto, "inputs")),
                "outputs": json.dumps(_io(proto, "outputs")),
                "input_shape": json.dumps(list(model.input_shape)),
                "latent_shape": json.dumps(list(model.latent_shape)),
                "score": json.dumps(score_def),
                "threshold": repr(thr["value"]),
                "graph_sha256": hashes[role],
                "partners": json.dumps({r: {"file": GRAPH_FILES[r], "graph_sha256": hashes[r]}
                                        for r in protos if r != role}),
                "producer": f"aeexport {__version__}",
            }
            onnx.helper.set_model_props(proto, {META_PREFIX + k: v for k, v in meta.items()})
            proto.producer_name, proto.producer_version = "aeexport", __version__
            proto.doc_string = f"aeexport {role} graph of a {model.kind} autoencoder (bundle {bundle_id})"
            (tmp / GRAPH_FILES[role]).write_bytes(proto.SerializeToString())

        # Golden vectors (ONNX model-zoo layout), expected outputs from torch.
        golden: dict[str, list[str]] = {r: [] for r in protos}
        with torch.inference_mode():
            for n_set, b in enumerate(GOLDEN_BATCHES):
                x = X[np.arange(b) % len(X)]
                xt = torch.from_numpy(x)
                enc = model.encoder_graph(xt)
                enc = list(enc) if isinstance(enc, (tuple, list)) else [enc]
                cases = {
                    "encoder": ({"x": x}, [e.numpy() for e in enc]),
                    "decoder": ({"z": enc[0].numpy()}, [model.decoder_graph(enc[0]).numpy()]),
                    "scorer": ({"x": x}, [model.scorer_graph(xt).numpy()]),
                }
                for role, (ins, outs) in cases.items():
                    case = tmp / "test_data" / role / f"test_data_set_{n_set}"
                    for i, (name, arr) in enumerate(ins.items()):
                        _save_tensor(case / f"input_{i}.pb", arr, name)
                    for i, (name, arr) in enumerate(zip(graphs[role]["outputs"], outs)):
                        _save_tensor(case / f"output_{i}.pb", arr, name)
                    golden[role].append(case.name)
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp / WEIGHTS_NAME))

        # 5. Parity, measured on the written files; a violation aborts the export.
        golden_tols = graph_tolerances(tol, model.scaler_mean.numpy(), model.scaler_scale.numpy())
        report = parity_report(model, tmp, X, graphs=graphs, batches=batches, tol=tol)
        report["rows"] += golden_report(tmp, graphs, tol, golden_tols)
        report["ok"] = all(r["ok"] for r in report["rows"])
        report["max_abs"] = max(r["max_abs"] for r in report["rows"])
        if not report["ok"]:
            raise ParityError("export failed the parity check; nothing was written.\n" + format_table(report))

        # 6. Manifest with the sha256 of every other file.
        files = {p.relative_to(tmp).as_posix(): sha256_file(p)
                 for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {
            "format_version": FORMAT_VERSION,
            "bundle_id": bundle_id,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "model": {"kind": model.kind, "config": model.config_dict()},
            "input": {"name": "x", "shape": list(model.input_shape), "dtype": "float32"},
            "latent": {"name": enc_outputs[0], "shape": list(model.latent_shape)},
            "graphs": graphs,
            "scaler": {
                "kind": (training or {}).get("train_config", {}).get("scaler", "standard"),
                "shape": list(model.input_shape),
                "mean": model.scaler_mean.reshape(-1).tolist(),
                "scale": model.scaler_scale.reshape(-1).tolist(),
            },
            "score": score_def,
            "threshold": thr,
            "golden": {"tolerance": {"atol": tol.atol, "rtol": tol.rtol}, "sets": golden,
                       "tolerances": {r: asdict(t) for r, t in golden_tols.items()},
                       "batches": {f"test_data_set_{i}": b for i, b in enumerate(GOLDEN_BATCHES)},
                       "rule": "abs(actual - expected) <= atol + rtol * abs(expected), element-wise"},
            "weights": WEIGHTS_NAME,
            "files": files,
            "producer": producer,
            "parity": report,
            "training": training or {},
            "dataset": dataset or {},
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
