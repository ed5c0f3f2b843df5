"""Writing bundles: one writer for exports, variants and slim copies (numpy only).

:class:`BundleWriter` takes serialized graphs, graph metadata, golden arrays and
other files, and does what every bundle needs:

- each graph's ``graph_sha256`` (sha256 of its serialized GraphProto, read with
  :mod:`aeruntime.format.onnxscan`) and the ``bundle_id`` derived from them;
- the ``aeexport.*`` ``metadata_props`` of every graph (format version, bundle id,
  role, the caller's metadata, its own hash and its ``partners``' hashes), written
  into the serialized ModelProto without the ``onnx`` package
  (:func:`aeruntime.format.proto.set_model_metadata`);
- golden vectors as ``TensorProto`` files in the ONNX model-zoo layout;
- ``manifest.json`` with the sha256 of every file it wrote;
- the atomic swap: everything is written to a temporary directory beside the
  target, which replaces the target only when all of it (and the caller's check,
  e.g. parity) succeeded.

Example
-------
>>> w = BundleWriter()                                            # doctest: +SKIP
>>> w.add_graph("encoder", enc_bytes, inputs=["x"], outputs=["z"])  # doctest: +SKIP
>>> w.add_golden("encoder", [("x", x)], [("z", z)])              # doctest: +SKIP
>>> manifest = w.write("bundle", {"model": ..., ...}, metadata={"model_kind": "dense"})  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..fs.atomic import atomic_directory
from ..fs.outputs import check_output_dir
from .compat import minimum_for_graphs
from .constants import FORMAT_VERSION, GRAPH_FILES, MANIFEST_NAME, META_PREFIX, TEST_DATA_DIR
from .graphs import read_bundle
from .onnxscan import scan_model
from .paths import listed_file, safe_path
from .proto import set_model_metadata, tensor_bytes

__all__ = ["BundleWriter", "bundle_id_of", "copy_bundle", "graph_sha256"]

#: manifest keys the writer fills in
_OWNED = ("format_version", "bundle_id", "graphs", "golden", "files", "omitted", "min_onnxruntime")


def graph_sha256(model: bytes) -> str:
    """sha256 of the serialized GraphProto inside a serialized ModelProto (what the manifest records)."""
    return scan_model(model).graph_sha256


def bundle_id_of(hashes: Mapping[str, str], salt: str = "") -> str:
    """32 hex digits: sha256 of ``salt`` and the graph hashes in role order (no timestamp, no path)."""
    return hashlib.sha256((salt + "".join(hashes[r] for r in sorted(hashes))).encode()).hexdigest()[:32]


@dataclass
class _Graph:
    data: bytes  # serialized ModelProto
    file: str  # relative path in the bundle
    inputs: list[str]  # input names
    outputs: list[str]  # output names
    metadata: dict[str, str]  # graph-specific aeexport.* entries (without prefix)
    sha256: str  # of the GraphProto
    convert: Callable[[bytes], bytes] | None = None  # final file bytes from the ONNX bytes (ORT format)
    extra: dict[str, Any] = field(default_factory=dict)  # more keys of manifest["graphs"][role]


class BundleWriter:
    """Collects the parts of a bundle; :meth:`write` publishes them atomically.

    Parameters
    ----------
    id_salt : str
        Mixed into the ``bundle_id`` before the graph hashes (variants use
        ``parent_id + kind``, so a variant never shares its parent's id).
    """

    def __init__(self, *, id_salt: str = "") -> None:
        self._salt = id_salt
        self._graphs: dict[str, _Graph] = {}
        self._golden: dict[str, list[tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]]] = {}
        self._files: dict[str, bytes] = {}

    # ------------------------------------------------------------------ parts
    def add_graph(
        self,
        role: str,
        model: bytes,
        *,
        inputs: Sequence[str],
        outputs: Sequence[str],
        file: str | None = None,
        metadata: Mapping[str, str] | None = None,
        convert: Callable[[bytes], bytes] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Add the serialized ModelProto of ``role``; return its ``graph_sha256``.

        ``metadata`` holds this graph's own ``aeexport.*`` entries (keys without the
        prefix, e.g. ``inputs``); ``convert`` turns the final ONNX bytes (metadata
        set) into the bytes written (onnxruntime's ORT format); ``extra`` adds keys
        to the graph's manifest entry.
        """
        digest = graph_sha256(model)
        self._graphs[role] = _Graph(
            bytes(model),
            file or GRAPH_FILES.get(role, f"{role}.onnx"),
            list(inputs),
            list(outputs),
            dict(metadata or {}),
            digest,
            convert,
            dict(extra or {}),
        )
        return digest

    def add_golden(
        self, role: str, inputs: Sequence[tuple[str, np.ndarray]], outputs: Sequence[tuple[str, np.ndarray]]
    ) -> str:
        """Add one golden vector set (named arrays in graph order) of ``role``; return its set name."""
        sets = self._golden.setdefault(role, [])
        sets.append(([(n, np.asarray(a)) for n, a in inputs], [(n, np.asarray(a)) for n, a in outputs]))
        return f"test_data_set_{len(sets) - 1}"

    def add_file(self, rel: str, data: bytes) -> None:
        """Add another file (weights, ``required_operators.config``) at the relative path ``rel``."""
        self._files[rel] = bytes(data)

    # ------------------------------------------------------------------ derived
    @property
    def graph_hashes(self) -> dict[str, str]:
        """role -> graph_sha256 of the graphs added so far."""
        return {r: g.sha256 for r, g in self._graphs.items()}

    @property
    def bundle_id(self) -> str:
        """The bundle id: a function of the graphs (and ``id_salt``) only."""
        return bundle_id_of(self.graph_hashes, self._salt)

    @property
    def min_onnxruntime(self) -> str:
        """The oldest onnxruntime release loading every graph (:mod:`aeruntime.format.compat`)."""
        graphs = self._graphs.values()
        return minimum_for_graphs([g.data for g in graphs], ort_format=any(g.convert for g in graphs))

    def graph_entries(self) -> dict[str, dict[str, Any]]:
        """``manifest["graphs"]``: role -> file, inputs, outputs, graph_sha256 (and extra keys)."""
        return {
            r: {
                **g.extra,
                "file": g.file,
                "inputs": list(g.inputs),
                "outputs": list(g.outputs),
                "graph_sha256": g.sha256,
            }
            for r, g in self._graphs.items()
        }

    def graph_bytes(self, role: str, metadata: Mapping[str, str] | None = None) -> bytes:
        """The file bytes of ``role`` as :meth:`write` writes them, with common ``metadata``."""
        g = self._graphs[role]
        entries = {
            "format_version": str(FORMAT_VERSION),
            "bundle_id": self.bundle_id,
            "role": role,
            **dict(metadata or {}),
            **g.metadata,
            "graph_sha256": g.sha256,
            "partners": json.dumps(
                {r: {"file": o.file, "graph_sha256": o.sha256} for r, o in self._graphs.items() if r != role}
            ),
        }
        data = set_model_metadata(
            g.data,
            {META_PREFIX + k: v for k, v in entries.items()},
            drop_prefix=META_PREFIX,
            producer=_producer(entries),
            doc_string=_doc(role, entries),
        )
        return g.convert(data) if g.convert else data

    # ------------------------------------------------------------------ write
    def write(
        self,
        out: str | os.PathLike[str],
        manifest: Mapping[str, Any],
        *,
        metadata: Mapping[str, str] | None = None,
        golden: Mapping[str, Any] | None = None,
        omitted: Sequence[str] | None = None,
        check: Callable[[Path], Mapping[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """Write the bundle to ``out`` atomically; return the manifest written.

        Parameters
        ----------
        out : path
            Bundle directory: new, empty, or a bundle of ours (replaced atomically); anything
            else is refused (:func:`aeruntime.fs.outputs.check_output_dir`).
        manifest : mapping
            The manifest's other sections, in the order they should appear
            (``format_version``, ``bundle_id``, ``graphs``, ``golden.sets``, ``files``
            and ``omitted`` are the writer's).
        metadata : mapping of str to str, optional
            ``aeexport.*`` entries common to every graph (keys without the prefix).
        golden : mapping, optional
            More keys of ``manifest["golden"]`` (tolerances, notes); ``sets`` is the writer's.
        omitted : sequence of str, optional
            Files left out on purpose (slim bundles), recorded as ``manifest["omitted"]``.
        check : callable, optional
            Called with the temporary directory once every file but the manifest is
            written; it may raise (nothing is published) or return manifest sections
            to add (e.g. ``{"parity": report}``).
        """
        if "encoder" not in self._graphs or "decoder" not in self._graphs:
            raise InvalidInputError(f"a bundle needs encoder and decoder graphs, got {sorted(self._graphs)}.")
        written: dict[str, bytes] = {}
        metadata = {**dict(metadata or {}), "min_onnxruntime": self.min_onnxruntime}
        with atomic_directory(out, kind="bundle") as tmp:
            for role, g in self._graphs.items():
                written[g.file] = self.graph_bytes(role, metadata)
            for role, sets in self._golden.items():
                for n, (ins, outs) in enumerate(sets):
                    case = f"{TEST_DATA_DIR}/{role}/test_data_set_{n}"
                    for i, (name, arr) in enumerate(ins):
                        written[f"{case}/input_{i}.pb"] = tensor_bytes(arr, name)
                    for i, (name, arr) in enumerate(outs):
                        written[f"{case}/output_{i}.pb"] = tensor_bytes(arr, name)
            written.update(self._files)
            for rel, data in written.items():
                path = safe_path(tmp, rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            added = dict(check(tmp) or {}) if check is not None else {}
            result = self._manifest(manifest, added, written, golden, omitted)
            (tmp / MANIFEST_NAME).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return result

    def _manifest(
        self,
        manifest: Mapping[str, Any],
        added: Mapping[str, Any],
        written: Mapping[str, bytes],
        golden: Mapping[str, Any] | None,
        omitted: Sequence[str] | None,
    ) -> dict[str, Any]:
        owned: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "bundle_id": self.bundle_id,
            "graphs": self.graph_entries(),
            "files": {rel: hashlib.sha256(written[rel]).hexdigest() for rel in sorted(written)},
            "min_onnxruntime": self.min_onnxruntime,
        }
        if self._golden or golden:
            owned["golden"] = {
                **dict(golden or {}),
                "sets": {r: [f"test_data_set_{i}" for i in range(len(s))] for r, s in self._golden.items()},
            }
        if omitted:
            owned["omitted"] = list(omitted)
        result: dict[str, Any] = {"format_version": owned.pop("format_version"), "bundle_id": owned.pop("bundle_id")}
        for key, value in {**dict(manifest), **dict(added)}.items():
            if key in _OWNED:
                if key in owned:
                    result[key] = owned.pop(key)
                continue
            result[key] = value
        result.update(owned)
        return result


def _producer(entries: Mapping[str, str]) -> tuple[str, str]:
    name, _, version = entries.get("producer", "aeexport").partition(" ")
    return name, version


def _doc(role: str, entries: Mapping[str, str]) -> str:
    kind = entries.get("model_kind", "")
    return f"aeexport {role} graph of a {kind} autoencoder (bundle {entries['bundle_id']})"


def copy_bundle(
    src: str | os.PathLike[str], out: str | os.PathLike[str], *, omit: Sequence[str], note: str | None = None
) -> dict[str, Any]:
    """Copy the bundle ``src`` to ``out`` without the files under the paths in ``omit``; return the manifest.

    The source is verified first (hashes, safe paths, graph checks). Graphs are copied byte for
    byte, so ``bundle_id`` and every graph hash stay; the new manifest's ``files``
    lists exactly the files copied and ``omitted`` the paths left out (a path ending
    in ``/`` stands for a directory). Sections describing omitted files
    (``weights``, ``golden``) are dropped with them.
    """
    src = Path(src)
    check_output_dir(out, "bundle", inputs=[src])
    m, _ = read_bundle(src)  # every hash, safe paths, graph metadata and partners
    manifest = _slim_manifest(m, omit, note)
    with atomic_directory(out, kind="bundle") as tmp:
        for rel in manifest["files"]:
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(listed_file(src, rel), dst)  # only listed regular files, no link followed
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _left_out(rel: str, omit: Sequence[str]) -> bool:
    """``rel`` is one of the paths in ``omit`` or below one ending in ``/``."""
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in omit)


def _slim_manifest(m: Mapping[str, Any], omit: Sequence[str], note: str | None = None) -> dict[str, Any]:
    """The manifest of a copy of the bundle ``m`` without the files under the paths in ``omit``.

    ``files`` keeps the files copied, ``omitted`` lists every path left out (with those
    of ``m``), ``omitted_note`` is ``note``; ``weights`` and ``golden`` are dropped when
    their files are left out. Leaving out a graph raises
    :class:`~aeruntime.errors.InvalidInputError`.
    """
    omit = list(omit)
    graphs = sorted({g["file"] for g in m["graphs"].values() if _left_out(g["file"], omit)})
    if graphs:
        raise InvalidInputError(f"graphs {graphs} cannot be left out of a bundle; omit other files.")
    manifest = dict(m)
    if m.get("weights") and _left_out(m["weights"], omit):
        manifest.pop("weights")
    if any(_left_out(rel, omit) for rel in m["files"] if rel.startswith(TEST_DATA_DIR + "/")):
        manifest.pop("golden", None)
    manifest["files"] = {rel: digest for rel, digest in m["files"].items() if not _left_out(rel, omit)}
    manifest["omitted"] = sorted({*m.get("omitted", []), *omit})
    if note:
        manifest["omitted_note"] = note
    return manifest
