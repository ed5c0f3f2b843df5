"""Reading a bundle's graphs: integrity and safety checks, run before onnxruntime sees a graph.

Each graph file is read, scanned and hashed **once**; the checked bytes are
returned and are what onnxruntime parses. For every graph of a bundle,
:func:`read_graph`

1. refuses paths and symlinks that leave the bundle directory
   (:class:`~aeruntime.errors.UnsafeBundleError`);
2. scans the file with :mod:`aeruntime.onnxscan` (no ``onnx`` package needed) and
   refuses malformed or truncated protobuf (:class:`~aeruntime.errors.IntegrityError`)
   and **any** external-data reference (:class:`~aeruntime.errors.UnsafeBundleError`):
   aeexport writes single-file graphs, so a bundle never needs onnxruntime to open
   another file, let alone one outside the bundle;
3. checks the graph's ``aeexport.*`` metadata against ``manifest.json``: the same
   ``bundle_id``, ``role``, shapes and input/output names; its own
   ``graph_sha256`` equal to the manifest's; and its ``partners`` (the
   ``graph_sha256`` of every other graph of the same export) equal to the
   manifest's records of those graphs;
4. with ``check_hash=True`` (``load(verify=True)``), compares the sha256 of the
   file's bytes with ``manifest["files"]`` and the hash of the serialized GraphProto
   inside it with those records (both from the one read).

What this guarantees: graphs from two exports cannot be mixed, even when
``manifest.json`` is rewritten to match the foreign graph, because each graph's
body hash is recorded in the metadata of its partners, which the manifest cannot
change. A bundle's metadata is not signed: someone who edits the metadata inside
every graph *and* the manifest can forge a consistent bundle. Integrity here
protects against accidents and naive tampering, not against a determined forger;
ship bundles over an authenticated channel (or sign the bundle directory) for that.

The bytes that were checked are the bytes handed to onnxruntime
(``InferenceSession(bytes)``), so the file cannot be swapped between the check and
the load.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from ..errors import BundleNotFoundError, IntegrityError, UnsafeBundleError
from .constants import CORE_ROLES, GRAPH_FILES, MAX_GRAPH_BYTES, META_PREFIX
from .onnxscan import ModelScan, ProtoError, scan_model
from .paths import is_inside, safe_path

__all__ = ["RECOPY", "graph_file", "is_ort_format", "read_graph", "read_graphs"]

_RECOPY = "Copy all files of one bundle together (cp -r), or re-export it."
RECOPY = _RECOPY


def _meta_json(meta: dict[str, str], key: str, name: str) -> Any:
    try:
        return json.loads(meta[key])
    except (KeyError, ValueError, RecursionError):
        raise IntegrityError(
            f"{name}: metadata {key!r} is missing or not JSON; the graph was not written by this "
            f"aeexport format or was edited. {_RECOPY}"
        ) from None


def _check_metadata(role: str, name: str, scan: ModelScan, manifest: dict[str, Any], check_hash: bool) -> None:
    meta = {k[len(META_PREFIX) :]: v for k, v in scan.metadata.items() if k.startswith(META_PREFIX)}
    graphs = manifest["graphs"]
    info = graphs[role]
    core = role in CORE_ROLES
    got = meta.get("bundle_id")
    if got != manifest["bundle_id"]:
        raise IntegrityError(
            f"{name} belongs to bundle {got!r}, but manifest.json describes bundle "
            f"{manifest['bundle_id']!r}: graphs from different exports were mixed. {_RECOPY}"
        )
    if "format_version" in meta and meta["format_version"] != str(manifest["format_version"]):
        raise IntegrityError(
            f"{name} has format_version {meta['format_version']!r} but manifest.json has "
            f"{manifest['format_version']!r}. {_RECOPY}"
        )
    if core and meta.get("role") != role:
        raise IntegrityError(
            f"manifest.json uses {name} as the {role} graph, but its metadata says it is the "
            f"{meta.get('role')!r} graph. {_RECOPY}"
        )
    expected = info.get("graph_sha256")
    own = meta.get("graph_sha256")
    if (core or expected is not None) and own != expected:
        raise IntegrityError(
            f"{name} records graph_sha256 {str(own)[:16]}…, but manifest.json records "
            f"{str(expected)[:16]}… for the {role} graph: the graph comes from another export. {_RECOPY}"
        )
    if check_hash and expected is not None and scan.graph_sha256 != expected:
        raise IntegrityError(
            f"the graph inside {name} hashes to {scan.graph_sha256[:16]}…, but its metadata and "
            f"manifest.json record {expected[:16]}…: the graph was modified after export. {_RECOPY}"
        )
    if core or "partners" in meta:
        partners = _meta_json(meta, "partners", name)
        if not isinstance(partners, dict):
            raise IntegrityError(f"{name}: metadata 'partners' is not an object. {_RECOPY}")
        for other in CORE_ROLES:
            if other == role or other not in graphs or not core:
                continue
            if other not in partners:
                raise IntegrityError(
                    f"{name} was exported without a {other} graph, but manifest.json lists one "
                    f"({graphs[other].get('file')!r}): graphs from different exports were mixed. {_RECOPY}"
                )
        for other, rec in partners.items():
            if other not in graphs or "graph_sha256" not in graphs[other]:
                continue
            theirs = rec.get("graph_sha256") if isinstance(rec, dict) else None
            if theirs != graphs[other]["graph_sha256"]:
                raise IntegrityError(
                    f"{name} was exported together with a {other} graph of sha256 {str(theirs)[:16]}…, "
                    f"but manifest.json records {graphs[other]['graph_sha256'][:16]}… for {other}: graphs "
                    f"from different exports were mixed. {_RECOPY}"
                )
    if core:
        for key, want in (("input_shape", manifest["input"]["shape"]), ("latent_shape", manifest["latent"]["shape"])):
            if key in meta and _meta_json(meta, key, name) != want:
                raise IntegrityError(f"{name} has {key} {meta[key]}, but manifest.json says {want}. {_RECOPY}")
        for key in ("inputs", "outputs"):
            if key in meta:
                recs = _meta_json(meta, key, name)
                names = (
                    [r.get("name") for r in recs]
                    if isinstance(recs, list) and all(isinstance(r, dict) for r in recs)
                    else None
                )
                if names != info[key]:
                    raise IntegrityError(
                        f"{name} has {key} {names}, but manifest.json lists {info[key]} for the {role} graph. {_RECOPY}"
                    )


def graph_file(manifest: dict[str, Any], role: str) -> str:
    """Relative path of the ``role`` graph (``manifest["graphs"][role]["file"]``)."""
    return str(manifest["graphs"][role].get("file", GRAPH_FILES.get(role, f"{role}.onnx")))


def _check_file_hash(rel: str, data: bytes, manifest: dict[str, Any]) -> None:
    expected = manifest["files"].get(rel)
    actual = hashlib.sha256(data).hexdigest()
    if expected is not None and actual != expected:
        raise IntegrityError(
            f"{rel} has sha256 {actual[:16]}…, but the manifest records {str(expected)[:16]}…: "
            "the file was modified or corrupted after export. Re-export or re-copy the bundle; "
            "pass verify=False only if you trust the change."
        )


def is_ort_format(data: bytes) -> bool:
    """True for onnxruntime's ORT format (a flatbuffer with file identifier ``ORTM``)."""
    return data[4:8] == b"ORTM"


def read_graph(root: str | os.PathLike[str], role: str, manifest: dict[str, Any], *, check_hash: bool = True) -> bytes:
    """Read, scan and check the ``role`` graph of a bundle; return its bytes for onnxruntime.

    Parameters
    ----------
    root : path
        Bundle directory.
    role : str
        Key of ``manifest["graphs"]`` (``"encoder"``, ``"decoder"``, ``"scorer"``, ...).
    manifest : dict
        The validated manifest (:func:`aeruntime.format.read_manifest`).
    check_hash : bool
        Also compare the file's sha256 with ``manifest["files"]`` and the GraphProto's
        with the recorded ``graph_sha256``.

    Returns
    -------
    bytes
        The file's contents, as checked: hand these to ``onnxruntime.InferenceSession``.

    Raises
    ------
    BundleNotFoundError, UnsafeBundleError, IntegrityError
    """
    info = manifest["graphs"].get(role)
    if info is None:
        raise BundleNotFoundError(
            f"this bundle has no {role} graph (graphs: {sorted(manifest['graphs'])}); "
            "re-export it with a current aeexport."
        )
    rel = graph_file(manifest, role)
    path = safe_path(root, rel, f"{role} graph")
    if not path.is_file():
        raise BundleNotFoundError(
            f"bundle file {str(path)!r} is missing or not a regular file; copy the complete bundle "
            "directory or re-export it."
        )
    size = path.stat().st_size
    if size > MAX_GRAPH_BYTES:
        raise UnsafeBundleError(
            f"{rel} is {size} bytes, larger than any single-file ONNX graph can be (2 GiB); refusing to load it."
        )
    data = path.read_bytes()
    if check_hash:
        _check_file_hash(rel, data, manifest)
    if is_ort_format(data):
        # ORT-format graphs (flatbuffers, from `aeexport optimize --ort-format`) hold their
        # weights inline and cannot reference external data; the file's sha256 (manifest)
        # and the session's `aeexport.bundle_id` metadata vouch for them.
        return data
    try:
        scan = scan_model(data)
    except ProtoError as exc:
        raise IntegrityError(
            f"{rel} is not a well-formed ONNX model ({exc}); the file is damaged or truncated. {_RECOPY}"
        ) from None
    if scan.external:
        tensor, location = scan.external[0]
        inside = bool(location) and is_inside(root, location)
        where = (
            f"inside the bundle at {location!r}"
            if inside
            else f"at {location!r}, outside the bundle directory"
            if location
            else "with no location"
        )
        raise UnsafeBundleError(
            f"{rel} stores tensor {tensor!r} ({len(scan.external)} tensor(s) in all) as ONNX external data "
            f"{where}; aeruntime refuses external data before onnxruntime opens any other file. "
            "aeexport writes single-file graphs: re-export the bundle, or embed the weights with "
            "onnx.load(path, load_external_data=True) and onnx.save(model, path) on a trusted machine."
        )
    _check_metadata(role, rel, scan, manifest, check_hash)
    return data


def read_graphs(root: str | os.PathLike[str], manifest: dict[str, Any], *, check_hash: bool = True) -> dict[str, bytes]:
    """:func:`read_graph` on every graph the manifest lists: role -> checked bytes (each file read once)."""
    return {role: read_graph(root, role, manifest, check_hash=check_hash) for role in manifest["graphs"]}


def read_bundle(root: str | os.PathLike[str], *, verify: bool = True) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read and check a whole bundle: ``(manifest, role -> checked graph bytes)``.

    The manifest is read and validated; with ``verify`` every listed file is hashed
    (graphs from the bytes :func:`read_graphs` reads, so each graph file is read and
    hashed once); the safety and metadata checks always run.
    """
    from .manifest import read_manifest, verify_files

    manifest = read_manifest(root)
    if verify:
        verify_files(root, manifest, skip=[graph_file(manifest, role) for role in manifest["graphs"]])
    return manifest, read_graphs(root, manifest, check_hash=verify)
