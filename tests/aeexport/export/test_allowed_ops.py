"""The operator allow-list (aeruntime.format.ops.ALLOWED_OPS) cannot fall behind the exporter.

Every model kind, every activation and every score is exported (untrained: the graph's
operators do not depend on the weights) and each node of each graph, read with ``onnx``,
must be in the list, with no subgraph and no local function; the variants (int8 dynamic,
int8 static QDQ, fp16) of the shipped bundles too. A kind or variant that emits a new
operator fails here until the operator is added to ``ALLOWED_OPS`` (with its reason).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest

import aeruntime
from aeexport.export import export_bundle
from aeexport.models import REGISTRY, build_model, get_spec, make_config
from aeexport.models.base import ACTIVATIONS
from aeexport.settings import ThresholdSpec
from aeruntime.format import ALLOWED_OPS
from aeruntime.format.ops import ALLOWED_DOMAINS
from tests.conftest import MODELS


def _ops(bundle: Path) -> set[tuple[str, str]]:
    """(domain, op_type) of every node of every graph; asserts no subgraph, function or foreign opset."""
    found = set()
    for path in sorted(bundle.glob("*.onnx")):
        proto = onnx.load(str(path))
        assert not proto.functions, path
        assert {o.domain for o in proto.opset_import} <= ALLOWED_DOMAINS, path
        for node in proto.graph.node:
            assert all(a.type not in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)
            found.add(("" if node.domain == "ai.onnx" else node.domain, node.op_type))
    return found


def _not_allowed(ops: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((d, op) for d, op in ops if op not in ALLOWED_OPS.get(d, ()))


def _cases() -> list:
    """Every kind with relu/mse and mae, vae with neg_elbo; the other activations are slow rows."""
    out = []
    for kind in REGISTRY:
        out += [(kind, "relu", "mse"), (kind, "relu", "mae")]
        out += [pytest.param(kind, a, "mse", marks=pytest.mark.slow) for a in ACTIVATIONS if a != "relu"]
    out.append(("vae", "relu", "neg_elbo"))
    out.append(("ensemble", "relu", "members"))  # --members N: the score is the members' mean (Unsqueeze)
    return out


@pytest.mark.parametrize(("kind", "activation", "score"), _cases())
def test_every_exported_op_is_allowed(kind, activation, score, tmp_path):
    spec = get_spec(kind)
    names = {f.name for f in dataclasses.fields(spec.config_cls)}
    shape = {3: (1, 8, 8), 2: (8, 8)}.get(spec.input_rank, (64,))  # 2: windows of 8 steps x 8 columns
    overrides = {k: activation for k in ("activation", "output_activation") if k in names}
    threshold = ThresholdSpec(score=score)
    if score in ("neg_elbo", "members"):  # a kind's own score lives in its config
        overrides["score"], threshold = score, ThresholdSpec()
    model = build_model(kind, make_config(kind, shape, overrides), shape)
    x = np.random.default_rng(0).uniform(0, 16, (64, *shape)).astype(np.float32)
    export_bundle(model, tmp_path / "b", calibration_x=x, threshold_spec=threshold)
    assert _not_allowed(_ops(tmp_path / "b")) == []
    aeruntime.load(tmp_path / "b", providers="cpu")  # and the runtime's own scan agrees


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["int8-dynamic", "int8-static", "fp16"])
@pytest.mark.parametrize("name", ["digits-dense", "digits-conv", "digits-vae"])
def test_every_variant_op_is_allowed(name, variant, tmp_path):
    from aeexport.variants import make_variant

    make_variant(MODELS / name, variant, tmp_path / "v")
    assert _not_allowed(_ops(tmp_path / "v")) == []
    aeruntime.load(tmp_path / "v", providers="cpu")
