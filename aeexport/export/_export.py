"""Export a trained model as a bundle (see ``docs/bundle-format.md``).

The exporter is a producer: it turns the torch model into serialized graphs,
golden arrays and manifest sections, and hands them to
:class:`aeruntime.format.BundleWriter`, which writes hashes, metadata, the
manifest and swaps the bundle into place atomically. Order of work:

1. export encoder, decoder and scorer graphs with the scaler inside, dynamic
   batch; strip the exporter's node metadata (stack traces hold the paths of the
   exporting machine); full ``onnx.checker`` check;
2. calibrate the threshold on held-out rows scored by the *exported* scorer, and
   fit the int8 parameters of the latent codes on their codes;
3. golden vectors (expected outputs from torch), weights, manifest sections;
4. the writer writes everything into a temporary directory, where parity (torch
   vs onnxruntime on the written files) is measured; a violation raises and
   nothing is published.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import platform
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from safetensors.torch import save as save_safetensors

from aeruntime.errors import InvalidInputError, check_choice
from aeruntime.format import (
    GOLDEN_BATCHES,
    GRAPH_FILES,
    SCORES,
    WEIGHTS_NAME,
    BundleWriter,
    check_threshold,
    copy_bundle,
    score_definition,
)
from aeruntime.fs import TMP_PREFIX
from aeruntime.latent_codes import fit_int8

from .. import __version__
from ..models import Autoencoder
from ..models.base import ELEMENT_ERRORS
from ..settings import ExportOptions, ThresholdSpec, Tolerance
from ._calibrate import calibrate
from ._decision_head import add_decision_head, calibration_table, decision_golden, decision_parity, decision_section
from ._golden import ParityError, cpu_session, format_table, golden_report, graph_tolerances
from ._parity import PARITY_BATCHES, parity_report
from ._quiet import quiet
from ._slim import SLIM_OMITS
from ._target import check_target, lower_graph

__all__ = ["SCORE_DEFINITIONS", "export_bundle"]

#: calibration rows per onnxruntime call (:func:`_run_rows`): 32k rows x 128 float32 = 16 MB per intermediate
CALIBRATION_CHUNK = 1 << 15
#: score name -> definition of the scores a ThresholdSpec may name: registered in
#: aeruntime.format.SCORES with an element error the scorer graph computes (models.base.ELEMENT_ERRORS)
SCORE_DEFINITIONS: dict[str, dict[str, Any]] = {n: score_definition(n) for n in SCORES if n in ELEMENT_ERRORS}


class _Graph(torch.nn.Module):
    """Wraps one of the model's ``*_graph`` methods as a module for the exporter."""

    def __init__(self, model: Autoencoder, method: str) -> None:
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, x: torch.Tensor) -> Any:
        return getattr(self.model, self.method)(x)


def _strip(graph: onnx.GraphProto) -> None:
    """Remove exporter metadata (stack traces, fx names, doc strings) from a graph and its subgraphs."""
    del graph.metadata_props[:]
    graph.doc_string = ""
    for values in (graph.input, graph.output, graph.value_info, graph.initializer):
        for v in values:
            del v.metadata_props[:]
            v.doc_string = ""
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
        for attr in node.attribute:
            if attr.HasField("g"):
                _strip(attr.g)
            for g in attr.graphs:
                _strip(g)


def strip_exporter_metadata(proto: onnx.ModelProto) -> onnx.ModelProto:
    """``proto`` without metadata that records where and how it was exported (in place; returned).

    torch's exporter writes ``pkg.torch.onnx.stack_trace`` (absolute source paths),
    fx node names and class hierarchies into every node; they leak the exporting
    machine's directories and make the graph hash depend on the checkout location.
    """
    del proto.metadata_props[:]
    proto.doc_string = ""
    _strip(proto.graph)
    for fn in proto.functions:
        del fn.metadata_props[:]
        fn.doc_string = ""
        for node in fn.node:
            del node.metadata_props[:]
            node.doc_string = ""
    return proto


def _export_graph(
    model: Autoencoder, method: str, example: torch.Tensor, inp: str, outputs: list[str], verbose: bool
) -> onnx.ModelProto:
    with quiet(not verbose):
        program = torch.onnx.export(
            _Graph(model, method),
            (example,),
            None,
            input_names=[inp],
            output_names=outputs,
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True,
            external_data=False,
            verbose=verbose,
            optimize=True,
        )
    proto = strip_exporter_metadata(program.model_proto)
    # Weights live inside the graph: single-file models, no side .data file.
    for init in proto.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:  # pragma: no cover - defensive
            raise RuntimeError("exporter produced external data; expected single-file graphs")
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _io(proto: onnx.ModelProto, which: str) -> list[dict[str, Any]]:
    """The graph's required inputs (an input with an initializer default, the decision scorer's
    ``threshold``, is optional and described in the manifest's ``decisions``) or its outputs."""
    defaults = {i.name for i in proto.graph.initializer}
    values = proto.graph.input if which == "inputs" else proto.graph.output
    out = []
    for v in (v for v in values if v.name not in defaults):
        dims = [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name
        out.append({"name": v.name, "shape": ["batch", *dims[1:]], "dtype": dtype})
    return out


def _frozen_copy(model: Autoencoder, score: str) -> Autoencoder:
    """A CPU, eval-mode deep copy of ``model`` scoring ``score``: the caller's model is never changed."""
    frozen = copy.deepcopy(model).eval().cpu()
    frozen.score_name = score
    return frozen


def _score_section(model: Autoencoder, score: str) -> dict[str, Any]:
    check_choice("score", score, sorted(SCORE_DEFINITIONS))
    # A kind may define its own default score (VAE: neg_elbo on request); an explicit
    # element-wise score chosen at export takes precedence over it.
    return (model.score_definition() if score == "mse" else None) or score_definition(score)


def _calibration_rows(model: Autoencoder, calibration_x: np.ndarray) -> np.ndarray:
    X = np.ascontiguousarray(calibration_x, dtype=np.float32)
    if X.ndim != len(model.input_shape) + 1 or X.shape[1:] != model.input_shape or len(X) == 0:
        raise InvalidInputError(
            f"calibration rows have shape {X.shape}, but the model expects (n_rows, "
            f"{', '.join(map(str, model.input_shape))}) with n_rows >= 1."
        )
    return X


def _run_rows(proto: onnx.ModelProto, X: np.ndarray) -> np.ndarray:
    """The first output of graph ``proto`` on the rows ``X`` (n_rows, *input_shape), :data:`CALIBRATION_CHUNK`
    rows per onnxruntime call: the session's intermediates (and the arena that keeps them) stay small
    however many rows calibrate. A row's output does not depend on the rows run with it."""
    sess = cpu_session(proto.SerializeToString())
    return np.concatenate(
        [sess.run(None, {"x": X[i : i + CALIBRATION_CHUNK]})[0] for i in range(0, len(X), CALIBRATION_CHUNK)]
    )


def _feature_names(names: Any, feature_shape: tuple[int, ...]) -> list[str] | None:
    """``feature_names`` checked: one distinct name per input value (a series: per column of a step)."""
    if names is None:
        return None
    names = [str(n) for n in names]
    n = int(np.prod(feature_shape))
    if len(names) != n or len(set(names)) != n or not all(names):
        raise InvalidInputError(
            f"feature_names must be {n} distinct non-empty names (one per input feature), got {len(names)} "
            f"({len(set(names))} distinct); pass the training table's column names without the label column."
        )
    return names


def _graphs(model: Autoencoder, verbose: bool, target: str | None = None) -> dict[str, onnx.ModelProto]:
    """Encoder, decoder and scorer graphs, exported and checked (lowered for onnxruntime ``target``)."""
    limits = check_target(target)
    io = {
        "encoder": ("encoder_graph", "x", list(model.encoder_outputs), model.input_shape),
        "decoder": ("decoder_graph", "z", ["x_hat"], model.latent_shape),
        "scorer": ("scorer_graph", "x", ["score"], model.input_shape),
    }
    return {
        role: lower_graph(_export_graph(model, method, torch.zeros((2, *shape)), inp, outs, verbose), limits)
        for role, (method, inp, outs, shape) in io.items()
    }


def _threshold(scores: np.ndarray, spec: ThresholdSpec, y: np.ndarray | None) -> dict[str, Any]:
    """The manifest's threshold section from the exported scorer's held-out scores."""
    thr = calibrate(scores, spec.method, spec.param, y=y)
    if spec.value is not None:
        value = float(spec.value)
        thr = {**thr, "value": value, "method": "fixed", "params": {"value": value}}
    return thr


def _add_golden(
    writer: BundleWriter, model: Autoencoder, X: np.ndarray, outputs: dict[str, list[str]], scorer: onnx.ModelProto
) -> None:
    """Golden vectors at :data:`GOLDEN_BATCHES`, expected outputs from torch (the decision scorer's
    ``label`` and ``p_value``: numpy on the exported graph's score, :func:`decision_golden`)."""
    decide = decision_golden(scorer)
    with torch.inference_mode():
        for b in GOLDEN_BATCHES:
            x = X[np.arange(b) % len(X)]
            xt = torch.from_numpy(x)
            enc = model.encoder_graph(xt)
            enc = list(enc) if isinstance(enc, (tuple, list)) else [enc]
            z = enc[0].numpy()
            writer.add_golden("encoder", [("x", x)], list(zip(outputs["encoder"], [e.numpy() for e in enc])))
            writer.add_golden("decoder", [("z", z)], [(outputs["decoder"][0], model.decoder_graph(enc[0]).numpy())])
            writer.add_golden("scorer", [("x", x)], decide(x, [(outputs["scorer"][0], model.scorer_graph(xt).numpy())]))


def _producer(opset: int) -> dict[str, Any]:
    return {
        "aeexport": __version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "opset": opset,
        "python": platform.python_version(),
    }


def _parity_check(
    model: Autoencoder,
    X: np.ndarray,
    graphs: dict[str, dict[str, Any]],
    tol: Tolerance,
    golden_tols: dict[str, Tolerance],
    batches: tuple[int, ...],
) -> Any:
    def check(tmp: Path) -> dict[str, Any]:
        report = parity_report(model, tmp, X, graphs=graphs, batches=batches, tol=tol)
        report["rows"] += decision_parity(tmp, graphs, X, batches)
        report["rows"] += golden_report(tmp, graphs, tol, golden_tols)
        report["ok"] = all(r["ok"] for r in report["rows"])
        report["max_abs"] = max(r["max_abs"] for r in report["rows"])
        if not report["ok"]:
            raise ParityError("export failed the parity check; nothing was written.\n" + format_table(report))
        return {"parity": report}

    return check


def _add_graphs(writer: BundleWriter, protos: dict[str, onnx.ModelProto]) -> dict[str, dict[str, Any]]:
    """Hand the graphs to the writer; return its graph entries (inputs, outputs, file per role)."""
    for role, proto in protos.items():
        ins, outs = _io(proto, "inputs"), _io(proto, "outputs")
        writer.add_graph(
            role,
            proto.SerializeToString(),
            inputs=[i["name"] for i in ins],
            outputs=[o["name"] for o in outs],
            file=GRAPH_FILES[role],
            metadata={"inputs": _json(ins), "outputs": _json(outs)},
        )
    return writer.graph_entries()


def _manifest(
    model: Autoencoder, parts: dict[str, Any], names: list[str] | None, training: Any, dataset: Any
) -> dict[str, Any]:
    """The manifest sections the exporter fills (the writer fills graphs, golden, files and parity)."""
    inp: dict[str, Any] = {"name": "x", "shape": list(model.input_shape), "dtype": "float32"}
    if names is not None:
        inp["feature_names"] = names
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {"kind": model.kind, "config": model.config_dict()},
        "input": inp,
        "latent": {
            "name": parts["graphs"]["encoder"]["outputs"][0],
            "shape": list(model.latent_shape),
            "quantization": {"int8": fit_int8(parts["codes"])},
        },
        "graphs": None,
        "scaler": {
            "kind": (training or {}).get("train_config", {}).get("scaler", "standard"),
            "shape": list(model.input_shape),
            "mean": model.scaler_mean.reshape(-1).tolist(),
            "scale": model.scaler_scale.reshape(-1).tolist(),
        },
        "score": parts["score"],
        "threshold": parts["threshold"],
        **({"decisions": parts["decisions"]} if parts.get("decisions") else {}),
        "golden": None,
        "weights": WEIGHTS_NAME,
        "files": None,
        "producer": _producer(parts["opset"]),
        "parity": None,
        "training": training or {},
        "dataset": dataset or {},
        **model.manifest_sections(),  # series kinds: the ``series`` section
    }


def _metadata(model: Autoencoder, parts: dict[str, Any], names: list[str] | None) -> dict[str, str]:
    """The ``aeexport.*`` metadata the writer puts into every graph."""
    metadata = {
        "model_kind": model.kind,
        "input_shape": _json(list(model.input_shape)),
        "latent_shape": _json(list(model.latent_shape)),
        "score": _json(parts["score"]),
        "threshold": repr(parts["threshold"]["value"]),
        "producer": f"aeexport {__version__}",
    }
    if names is not None:
        metadata["feature_names"] = _json(names)
    # a kind's own sections (series: window, step score, alarm rule) in every graph too: a consumer that
    # reads one graph only (examples/c --stream) finds them there (docs/bundle-format.md section 11)
    metadata.update({key: _json(value) for key, value in model.manifest_sections().items()})
    return metadata


def _golden_section(tol: Tolerance, golden_tols: dict[str, Tolerance]) -> dict[str, Any]:
    return {
        "tolerance": asdict(tol),
        "tolerances": {r: asdict(t) for r, t in golden_tols.items()},
        "batches": {f"test_data_set_{i}": b for i, b in enumerate(GOLDEN_BATCHES)},
        "rule": "abs(actual - expected) <= atol + rtol * abs(expected), element-wise",
    }


def _write(writer: BundleWriter, out: str | Path, slim: bool, manifest: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """Publish the bundle; a slim one is written whole beside ``out``, then copied without :data:`SLIM_OMITS`."""
    if not slim:
        return writer.write(out, manifest, **kw)
    parent = Path(out).absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=TMP_PREFIX, dir=parent) as full:
        writer.write(Path(full) / "bundle", manifest, **kw)
        return copy_bundle(Path(full) / "bundle", out, omit=SLIM_OMITS)


def export_bundle(
    model: Autoencoder,
    out: str | Path,
    *,
    calibration_x: np.ndarray,
    threshold_spec: ThresholdSpec | None = None,
    options: ExportOptions | None = None,
    training: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    calibration_y: np.ndarray | None = None,
) -> dict[str, Any]:
    """Export ``model`` (not modified: the export works on a copy) to the bundle directory ``out``; return its manifest.

    ``calibration_x`` (n_rows, *input_shape): held-out normal rows in raw units; the threshold
    (``threshold_spec``, a :class:`~aeexport.settings.ThresholdSpec`; ``calibration_y``: their 0/1
    labels, for ``f1``) is calibrated on their scores from the exported scorer, the int8 code
    parameters on their codes, and parity is measured on them. ``options``: an
    :class:`~aeexport.settings.ExportOptions` (tolerance, batches, verbose, slim). ``training`` and
    ``dataset`` are recorded in the manifest; ``dataset["feature_names"]`` (when there): one name per
    input feature, stored in the manifest's input section and every graph. Raises :class:`ParityError` when onnxruntime and torch disagree beyond the tolerance (nothing is written).
    """
    spec, opts = threshold_spec or ThresholdSpec(), options or ExportOptions()
    tol = opts.tol or Tolerance()
    score_def = _score_section(model, spec.score)
    if spec.value is not None:  # the same rule as aeruntime.load(threshold=...), for this score
        check_threshold(spec.value, score_def["name"])
    model = _frozen_copy(model, spec.score)
    X = _calibration_rows(model, calibration_x)
    names = _feature_names((dataset or {}).get("feature_names"), model.named_shape)
    protos = _graphs(model, opts.verbose, opts.target_onnxruntime)
    writer = BundleWriter()
    scores = _run_rows(protos["scorer"], X)
    threshold = _threshold(scores, spec, calibration_y)
    calibration = calibration_table(scores)
    protos["scorer"] = add_decision_head(protos["scorer"], calibration, threshold["value"])
    graphs = _add_graphs(writer, protos)
    parts = {
        "graphs": graphs,
        "score": score_def,
        "threshold": threshold,
        "decisions": decision_section(calibration, len(scores)),
        "codes": _run_rows(protos["encoder"], X),  # z, or mu for a VAE
        "opset": int(protos["encoder"].opset_import[0].version),
    }
    _add_golden(writer, model, X, {r: graphs[r]["outputs"] for r in graphs}, protos["scorer"])
    writer.add_file(WEIGHTS_NAME, save_safetensors({k: v.detach().contiguous() for k, v in model.state_dict().items()}))
    golden_tols = graph_tolerances(tol, model.scaler_mean.numpy(), model.scaler_scale.numpy())
    return _write(
        writer,
        out,
        opts.slim,
        _manifest(model, parts, names, training, dataset),
        metadata=_metadata(model, parts, names),
        golden=_golden_section(tol, golden_tols),
        check=_parity_check(model, X, graphs, tol, golden_tols, opts.batches or PARITY_BATCHES),
    )


def _json(value: Any) -> str:
    return json.dumps(value)
