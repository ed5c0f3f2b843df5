"""How a variant's graphs are built: every parent graph through the kind's tool, a decision scorer's head
taken off before and put back after (:mod:`aeexport.export` decision head)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from aeruntime.format import (
    BundleWriter,
)

from ..export import (
    add_decision_head,
    check_target,
    has_decision_head,
    lower_graph,
    read_calibration,
    score_only,
    variant_calibration,
)
from ._kinds import CPU, VariantSpec, to_ort_format


def _run(model: bytes, inp: str, x: np.ndarray, batch: int = 65536) -> list[np.ndarray]:
    """All outputs of the graph ``model`` (bytes, ONNX or ORT format) on ``x``, in batches."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only: not the warning about the decision scorer's threshold input
    sess = ort.InferenceSession(model, opts, providers=CPU)
    parts = [sess.run(None, {inp: x[i : i + batch]}) for i in range(0, len(x), batch)]
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]


def _build_graphs(
    spec: VariantSpec,
    pm: dict[str, Any],
    parent_data: dict[str, bytes],
    parent_meta: dict[str, dict[str, str]],
    calib: np.ndarray,
    writer: BundleWriter,
    target: str | None = None,
) -> dict[str, onnx.ModelProto]:
    """Transform every parent graph with the kind's tool (lowered for onnxruntime ``target``) and add it to
    ``writer``; return the transformed graphs. A decision scorer is transformed without its head
    (:func:`aeexport.decision_head.score_only`): :func:`_add_head` puts it back once the threshold is known."""
    limits = check_target(target)
    graphs = pm["graphs"]
    # Feeds per role for static calibration: x for encoder/scorer, the parent's z for the decoder.
    z_calib = _run(parent_data["encoder"], graphs["encoder"]["inputs"][0], calib)[0]
    built = {}
    with tempfile.TemporaryDirectory() as work:
        for role, info in graphs.items():
            feeds = {info["inputs"][0]: (z_calib if role == "decoder" else calib)}
            parent = onnx.load_from_string(parent_data[role])
            parent = score_only(parent) if has_decision_head(parent) else parent
            built[role] = lower_graph(spec.build(parent, role, feeds, Path(work)), limits)
            _add_graph(writer, spec, role, info, built[role], parent_meta)
    return built


def _add_graph(
    writer: BundleWriter,
    spec: VariantSpec,
    role: str,
    info: dict[str, Any],
    proto: onnx.ModelProto,
    parent_meta: dict[str, dict[str, str]],
) -> None:
    own = {k: parent_meta[role][k] for k in ("inputs", "outputs") if k in parent_meta[role]}
    writer.add_graph(
        role,
        proto.SerializeToString(),
        inputs=info["inputs"],
        outputs=info["outputs"],
        file=Path(info["file"]).with_suffix(spec.suffix).name,
        metadata=own,
        convert=to_ort_format if spec.suffix == ".ort" else None,
        extra={k: v for k, v in info.items() if k not in ("file", "graph_sha256")},
    )


def _add_head(
    writer: BundleWriter,
    spec: VariantSpec,
    pm: dict[str, Any],
    built: dict[str, onnx.ModelProto],
    parent: tuple[bytes, dict[str, dict[str, str]]],
    rows: np.ndarray,
    threshold: float,
) -> bool:
    """The parent's decision head on the variant's scorer, at the variant's ``threshold``; False when the
    parent scorer has none. The calibration scores are the parent's, quantile-matched onto the variant's
    scores of ``rows`` (:func:`aeexport.decision_head.variant_calibration`), as the threshold is."""
    parent_scorer, parent_meta = parent
    head = onnx.load_from_string(parent_scorer)
    if not has_decision_head(head):
        return False
    inp = pm["graphs"]["scorer"]["inputs"][0]
    sp = _run(parent_scorer, inp, rows)[0]
    sv = _run(built["scorer"].SerializeToString(), inp, rows)[0]
    cal = variant_calibration(read_calibration(head), sp, sv)
    _add_graph(
        writer, spec, "scorer", pm["graphs"]["scorer"], add_decision_head(built["scorer"], cal, threshold), parent_meta
    )
    return True
