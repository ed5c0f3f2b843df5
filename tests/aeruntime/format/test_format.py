"""aeruntime.format: reading, the score registry, the one safe-path rule and the torch-free writer.

Everything here runs on the shipped bundles with numpy + onnxruntime only.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
import aeruntime.format as fmt
from aeruntime.cli import main as aeruntime_main
from aeruntime.errors import (
    AeError,
    BundleError,
    BundleNotFoundError,
    IntegrityError,
    InvalidInputError,
    ManifestError,
    UnsafeBundleError,
    UnsupportedFormatError,
)

from ..conftest import SHIPPED


def _copy(name: str, dst: pathlib.Path) -> pathlib.Path:
    shutil.copytree(SHIPPED[name], dst)
    return dst


def _edit(root: pathlib.Path, fn) -> dict:
    m = json.loads((root / "manifest.json").read_text())
    fn(m)
    (root / "manifest.json").write_text(json.dumps(m))
    return m


def _drop_scorer(m: dict) -> None:
    m["graphs"].pop("scorer")
    m["files"].pop("scorer.onnx")
    for k in [k for k in m["files"] if k.startswith("test_data/scorer/")]:
        m["files"].pop(k)


def _rows(name: str, n: int = 40, seed: int = 0) -> np.ndarray:
    m = json.loads((SHIPPED[name] / "manifest.json").read_text())
    shape = m["input"]["shape"]
    mean, scale = (np.asarray(m["scaler"][k], np.float32).reshape(shape) for k in ("mean", "scale"))
    return (mean + scale * np.random.default_rng(seed).standard_normal((n, *shape))).astype(np.float32)


# ---------------------------------------------------------------------- composed scores (bug: always MSE)
def _without_scorer(name: str, dst: pathlib.Path, score: str) -> aeruntime.Model:
    """A copy of a shipped bundle without scorer.onnx whose manifest declares ``score``."""
    b = _copy(name, dst)
    (b / "scorer.onnx").unlink()
    shutil.rmtree(b / "test_data" / "scorer")
    _edit(b, lambda m: (_drop_scorer(m), m.update(score=fmt.score_definition(score))))
    return aeruntime.load(b, providers="cpu")


def test_bundle_without_scorer_scores_mae_by_its_score_name(tmp_path):
    model = _without_scorer("dense", tmp_path / "b", "mae")
    x = _rows("dense")
    scale = np.asarray(model.manifest["scaler"]["scale"], np.float32)
    want = (np.abs(x - model.reconstruct(x)) / scale).mean(axis=1)
    np.testing.assert_allclose(model.score(x), want, rtol=1e-5)
    mse = (((x - model.reconstruct(x)) / scale) ** 2).mean(axis=1)
    assert not np.allclose(model.score(x), mse, rtol=1e-2)  # the old answer, whatever the score name
    np.testing.assert_allclose(model.feature_errors(x).mean(axis=1), want, rtol=1e-5)


def test_bundle_without_scorer_scores_neg_elbo_with_the_elbo_formula(tmp_path):
    model = _without_scorer("vae", tmp_path / "vae", "neg_elbo")
    x = _rows("vae")
    mu, logvar = model.posterior(x)
    scale = np.asarray(model.manifest["scaler"]["scale"], np.float64)
    r = (x.astype(np.float64) - model.decode(mu)) / scale
    # -log N(xs; decode(mu), I) summed over the D features, plus KL(N(mu, var) || N(0, I)) per latent unit
    nll = 0.5 * (r**2).sum(axis=1) + 0.5 * r.shape[1] * math.log(2 * math.pi)
    var = np.exp(logvar.astype(np.float64))
    kl = 0.5 * (var + mu.astype(np.float64) ** 2 - 1 - np.log(var)).sum(axis=1)
    np.testing.assert_allclose(model.score(x), nll + kl, rtol=1e-5)
    with pytest.raises(ManifestError, match="no per-feature decomposition"):
        model.explain(x)


def test_bundle_without_scorer_and_unknown_score_is_refused_at_load(tmp_path):
    b = _copy("dense", tmp_path / "b")
    (b / "scorer.onnx").unlink()
    _edit(b, lambda m: (_drop_scorer(m), m["score"].update(name="cosine")))
    with pytest.raises(ManifestError, match="score 'cosine' is not known.*known: \\['mae', 'mse', 'neg_elbo'\\]"):
        aeruntime.load(b, providers="cpu")


# ---------------------------------------------------------------------- score registry
def test_score_registry_rules_and_registration():
    assert {"mse", "mae", "neg_elbo"} <= set(fmt.score_names())
    assert fmt.nonnegative_scores() >= {"mse", "mae", "neg_elbo"}
    assert fmt.get_score("mse").element_error is np.square
    with pytest.raises(InvalidInputError, match="is negative, but 'mae' scores are >= 0"):
        fmt.check_threshold(-0.1, "mae")
    with pytest.raises(InvalidInputError, match="finite number"):
        fmt.check_threshold(float("nan"), "mse")
    spec = fmt.ScoreSpec(
        "test_signed_mean",
        {"name": "test_signed_mean", "direction": "higher_is_more_anomalous"},
        element_error=lambda r: r,
        nonnegative=False,
    )
    try:
        fmt.register_score(spec)
        assert fmt.check_threshold(-0.5, "test_signed_mean") == -0.5
        r = np.array([[1.0, -3.0], [2.0, 2.0]])
        np.testing.assert_allclose(spec.score_rows(r, {}), [-1.0, 2.0])
        with pytest.raises(ValueError, match="already registered"):
            fmt.register_score(fmt.ScoreSpec("test_signed_mean", {}, element_error=np.abs, nonnegative=True))
    finally:
        fmt.SCORES.pop("test_signed_mean", None)


# ---------------------------------------------------------------------- reading once, one path rule
def test_load_reads_and_hashes_each_graph_once(monkeypatch):
    reads: list[str] = []
    real_read = pathlib.Path.read_bytes
    hashed: list[str] = []
    real_hash = fmt.manifest.sha256_file

    def counting_read(self):
        reads.append(self.name)
        return real_read(self)

    def counting_hash(path, *a, **kw):
        hashed.append(pathlib.Path(path).name)
        return real_hash(path, *a, **kw)

    monkeypatch.setattr(pathlib.Path, "read_bytes", counting_read)
    monkeypatch.setattr(fmt.manifest, "sha256_file", counting_hash)
    model = aeruntime.load(SHIPPED["dense"], providers="cpu")
    model.reconstruct(_rows("dense", 3))
    graphs = ["decoder.onnx", "encoder.onnx", "scorer.onnx"]
    assert sorted(r for r in reads if r.endswith(".onnx")) == graphs
    assert not set(hashed) & set(graphs)  # file hashes of graphs come from the bytes read once
    assert "weights.safetensors" in hashed


@pytest.mark.parametrize("target", ["encoder.onnx", "weights.safetensors"])
def test_one_path_rule_for_graphs_and_listed_files(tmp_path, target):
    b = _copy("dense", tmp_path / "b")
    outside = tmp_path / "outside.bin"
    shutil.copy(b / target, outside)
    (b / target).unlink()
    os.symlink(outside, b / target)
    with pytest.raises(UnsafeBundleError, match=f"bundle file '{target}' resolves to .*outside the bundle"):
        aeruntime.load(b, providers="cpu")
    with pytest.raises(UnsafeBundleError, match="outside the bundle"):
        fmt.safe_path(b, "../outside.bin")
    assert fmt.safe_path(b, "manifest.json") == b / "manifest.json"


def test_feature_names_from_the_manifest_name_explanations(tmp_path):
    b = _copy("dense", tmp_path / "b")
    names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    _edit(b, lambda m: m["input"].update(feature_names=names))
    model = aeruntime.load(b, providers="cpu")
    assert model.feature_names == names
    x = _rows("dense", 2)
    ex = model.explain(x, top_k=2)
    assert ex.names == [[names[j] for j in row] for row in ex.indices.tolist()]
    assert model.explain(x, top_k=1, feature_names=[f"f{i}" for i in range(64)]).names[0][0].startswith("f")
    assert aeruntime.load(SHIPPED["dense"], providers="cpu").feature_names is None
    _edit(b, lambda m: m["input"].update(feature_names=names[:3]))
    with pytest.raises(ManifestError, match="input.feature_names must be a list of 64 distinct names"):
        aeruntime.load(b, providers="cpu")


# ---------------------------------------------------------------------- exit codes
def test_every_invalid_bundle_error_exits_1(tmp_path):
    for cls in (
        BundleError,
        BundleNotFoundError,
        IntegrityError,
        ManifestError,
        UnsafeBundleError,
        UnsupportedFormatError,
    ):
        assert cls("x").exit_code == 1, cls
    assert InvalidInputError("x").exit_code == 2 and AeError("x").exit_code == 1
    runner = CliRunner()
    missing = _copy("dense", tmp_path / "missing")
    (missing / "decoder.onnx").unlink()
    modified = _copy("dense", tmp_path / "modified")
    (modified / "decoder.onnx").write_bytes(b"\x00" + (modified / "decoder.onnx").read_bytes())
    version = _copy("dense", tmp_path / "version")
    _edit(version, lambda m: m.update(format_version=99))
    for bundle, message in (
        (missing, "decoder.onnx' listed in the manifest is missing"),
        (modified, "decoder.onnx has sha256"),
        (version, "format_version 99"),
    ):
        res = runner.invoke(aeruntime_main, ["info", str(bundle)])
        assert res.exit_code == 1 and message in res.output, (bundle, res.output)


# ---------------------------------------------------------------------- proto and writer (numpy only)
def test_golden_tensors_round_trip_byte_for_byte():
    for p in sorted((SHIPPED["conv"] / "test_data").rglob("*.pb")):
        data = p.read_bytes()
        name, arr = fmt.read_tensor(data)
        # float32 tensors, and the decision scorer's bool labels (scorer/*/output_1.pb)
        assert arr.dtype == (np.bool_ if name == "label" else np.float32) and name
        assert fmt.tensor_bytes(arr, name) == data


def _writer_from(src: pathlib.Path, salt: str = "") -> tuple[fmt.BundleWriter, dict]:
    m = json.loads((src / "manifest.json").read_text())
    w = fmt.BundleWriter(id_salt=salt)
    for role, g in m["graphs"].items():
        data = (src / g["file"]).read_bytes()
        own = {k: v for k, v in fmt.scan_model(data).metadata.items() if k in ("aeexport.inputs", "aeexport.outputs")}
        stripped = fmt.set_model_metadata(data, {}, drop_prefix=fmt.META_PREFIX)
        w.add_graph(
            role,
            stripped,
            inputs=g["inputs"],
            outputs=g["outputs"],
            metadata={k.removeprefix(fmt.META_PREFIX): v for k, v in own.items()},
        )
    for role in m["graphs"]:
        for case in sorted((src / "test_data" / role).glob("test_data_set_*")):
            ins = [fmt.read_tensor(p.read_bytes()) for p in sorted(case.glob("input_*.pb"))]
            outs = [fmt.read_tensor(p.read_bytes()) for p in sorted(case.glob("output_*.pb"))]
            w.add_golden(role, ins, outs)
    return w, m


def test_bundle_writer_rebuilds_a_bundle_that_loads_and_scores_the_same(tmp_path):
    w, m = _writer_from(SHIPPED["dense"])
    assert w.graph_hashes == {r: g["graph_sha256"] for r, g in m["graphs"].items()}
    assert w.bundle_id == m["bundle_id"]  # the id is a function of the graphs only
    keep = {k: v for k, v in m.items() if k not in ("weights", "files", "golden", "created")}
    meta = {"model_kind": "dense", "threshold": repr(m["threshold"]["value"]), "producer": "aeexport 0.1.0"}
    out = w.write(tmp_path / "rebuilt", {**keep, "created": "later"}, metadata=meta, golden={"note": "x"})
    assert sorted(out["files"]) == sorted(
        p.relative_to(tmp_path / "rebuilt").as_posix()
        for p in (tmp_path / "rebuilt").rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )
    assert out["bundle_id"] == m["bundle_id"] and out["golden"]["sets"]["scorer"] == [
        "test_data_set_0",
        "test_data_set_1",
    ]
    model, ref = aeruntime.load(tmp_path / "rebuilt", providers="cpu"), aeruntime.load(SHIPPED["dense"])
    x = _rows("dense")
    np.testing.assert_array_equal(model.score(x), ref.score(x))
    meta_of = fmt.scan_model((tmp_path / "rebuilt" / "scorer.onnx").read_bytes()).metadata
    assert meta_of["aeexport.role"] == "scorer" and meta_of["aeexport.model_kind"] == "dense"
    assert json.loads(meta_of["aeexport.partners"])["encoder"]["graph_sha256"] == m["graphs"]["encoder"]["graph_sha256"]
    for rel in out["files"]:
        if rel.endswith(".pb"):
            assert (tmp_path / "rebuilt" / rel).read_bytes() == (SHIPPED["dense"] / rel).read_bytes()


def test_bundle_writer_check_failure_publishes_nothing(tmp_path):
    target = _copy("dense", tmp_path / "target")
    before = (target / "manifest.json").read_bytes()
    w, m = _writer_from(SHIPPED["dense"], salt="other")
    assert w.bundle_id != m["bundle_id"]

    def check(tmp):
        assert (tmp / "encoder.onnx").is_file() and not (tmp / "manifest.json").exists()
        raise InvalidInputError("parity failed")

    with pytest.raises(InvalidInputError, match="parity failed"):
        w.write(target, {k: v for k, v in m.items() if k != "files"}, check=check)
    assert (target / "manifest.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["target"]


def test_slim_copy_verifies_and_scores_fully(tmp_path):
    slim = fmt.copy_bundle(SHIPPED["dense"], tmp_path / "slim", omit=[fmt.WEIGHTS_NAME, "test_data/"])
    present = sorted(
        p.relative_to(tmp_path / "slim").as_posix()
        for p in (tmp_path / "slim").rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )
    assert sorted(slim["files"]) == present == ["decoder.onnx", "encoder.onnx", "scorer.onnx"]
    assert slim["omitted"] == ["test_data/", "weights.safetensors"] and "weights" not in slim
    model, ref = aeruntime.load(tmp_path / "slim", providers="cpu"), aeruntime.load(SHIPPED["dense"])
    x = _rows("dense")
    np.testing.assert_array_equal(model.score(x), ref.score(x))
    assert model.manifest["bundle_id"] == ref.manifest["bundle_id"]
    (tmp_path / "slim" / "scorer.onnx").write_bytes((tmp_path / "slim" / "scorer.onnx").read_bytes() + b"\x00")
    with pytest.raises(IntegrityError, match="scorer.onnx has sha256"):
        aeruntime.load(tmp_path / "slim", providers="cpu")
    with pytest.raises(InvalidInputError, match="cannot be left out"):
        fmt.copy_bundle(SHIPPED["dense"], tmp_path / "bad", omit=["encoder.onnx"])
