"""Helpers shared by the tests: tamper with bundle copies, and the markers of optional dependencies."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

#: tests that read or write CSV/Parquet: they skip on an edge install without ``aeruntime[tables]``
needs_pyarrow = pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow: CSV/Parquet need aeruntime[tables]"
)


def copy_bundle(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def read_manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / "manifest.json").read_text())


def write_manifest(root: Path, m: Any) -> None:
    (root / "manifest.json").write_text(json.dumps(m, indent=1))


def rehash(root: Path, m: dict[str, Any] | None = None) -> dict[str, Any]:
    """Recompute ``files`` sha256 in the manifest, as someone rewriting it to match would."""
    m = read_manifest(root) if m is None else m
    for rel in m["files"]:
        m["files"][rel] = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    write_manifest(root, m)
    return m


def edit_manifest(root: Path, fn: Callable[[dict[str, Any]], Any]) -> None:
    m = read_manifest(root)
    fn(m)
    write_manifest(root, m)


def graph_sha256(proto: Any) -> str:
    return hashlib.sha256(proto.graph.SerializeToString(deterministic=True)).hexdigest()


def set_meta(proto: Any, **kv: str) -> None:
    props = {p.key: p.value for p in proto.metadata_props}
    props.update({f"aeexport.{k}": v for k, v in kv.items()})
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v


def perturb_weights(proto: Any, factor: float = 1.01) -> None:
    """Scale the first float initializer: a different model with the same interface."""
    from onnx import numpy_helper

    for init in proto.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size > 1:
            init.CopyFrom(numpy_helper.from_array(arr * np.float32(factor), init.name))
            return
    raise AssertionError("no float initializer")


def fake_other_export(src: Path, dst: Path, new_id: str = "f" * 32) -> Path:
    """A self-consistent bundle of a *different* model: what a second export produces.

    Every graph gets other weights, its own bundle id, graph_sha256 and partners;
    the manifest matches. It loads and scores (it is just another model).
    """
    import onnx

    copy_bundle(src, dst)
    m = read_manifest(dst)
    protos = {r: onnx.load(str(dst / g["file"])) for r, g in m["graphs"].items()}
    for p in protos.values():
        perturb_weights(p)
    hashes = {r: graph_sha256(p) for r, p in protos.items()}
    for r, p in protos.items():
        partners = {o: {"file": m["graphs"][o]["file"], "graph_sha256": hashes[o]} for o in protos if o != r}
        set_meta(p, bundle_id=new_id, graph_sha256=hashes[r], partners=json.dumps(partners))
        onnx.save(p, str(dst / m["graphs"][r]["file"]))
        m["graphs"][r]["graph_sha256"] = hashes[r]
    m["bundle_id"] = new_id
    rehash(dst, m)
    return dst
