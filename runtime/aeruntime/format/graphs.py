"""Reading a bundle's graphs: integrity and safety checks, run before onnxruntime sees a graph.

Each graph file is read, scanned and hashed **once**; the checked bytes are
returned and are what onnxruntime parses. For every graph of a bundle,
:func:`read_graph`

1. refuses paths and symlinks that leave the bundle directory
   (:class:`~aeruntime.errors.UnsafeBundleError`);
2. reads the file in the format its name in ``manifest.json`` says, the one rule
   (:data:`GRAPH_FORMATS`: ``.onnx`` with :mod:`~aeruntime.format.onnxscan`, no ``onnx``
   package needed; ``.ort`` with onnxruntime's reader of the ORT flatbuffer schema,
   :mod:`~aeruntime.format.ortscan`), never by the bytes alone: ORT bytes in an ``.onnx``
   file are refused, and an ORT-format graph gets every check an ONNX graph gets (a
   graph whose checks cannot run here is refused, not run unchecked). It refuses
   malformed or truncated files (:class:`~aeruntime.errors.IntegrityError`), **any**
   external-data reference (:class:`~aeruntime.errors.UnsafeBundleError`: aeexport
   writes single-file graphs, so a bundle never needs onnxruntime to open another
   file, let alone one outside the bundle) and what is not on the operator allow-list
   (:func:`~aeruntime.format.ops.check_structure`);
3. checks the graph's ``aeexport.*`` metadata against ``manifest.json``: the same
   ``bundle_id``, ``role``, shapes and input/output names; its own
   ``graph_sha256`` equal to the manifest's; the threshold, minimum onnxruntime, model
   kind and score it repeats equal to the manifest's; and its ``partners`` (the
   ``graph_sha256`` of every other graph of the same export) equal to the
   manifest's records of those graphs;
4. with ``check_hash=True`` (``load(verify=True)``), compares the sha256 of the
   file's bytes with ``manifest["files"]`` and the hash of the serialized GraphProto
   inside it with those records (both from the one read; an ORT-format graph holds no
   GraphProto: its file hash and its metadata's records vouch for it).

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

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import BundleNotFoundError, IntegrityError, UnsafeBundleError
from .constants import CORE_ROLES, GRAPH_FILES, MAX_GRAPH_BYTES, META_PREFIX
from .manifest import check_digest, read_manifest, sha256_bytes, verify_files
from .onnxscan import ModelScan, ProtoError, scan_model
from .ops import check_structure
from .ortscan import OrtReaderMissing, is_ort_format, scan_ort
from .paths import is_inside, listed_file
from .strictjson import parse_json

__all__ = [
    "GRAPH_FORMATS",
    "RECOPY",
    "GraphFormat",
    "check_bundle_id",
    "check_io_names",
    "graph_file",
    "graph_format",
    "is_ort_format",
    "read_bundle",
    "read_graph",
    "read_graphs",
]

_RECOPY = "Copy all files of one bundle together (cp -r), or re-export it."
RECOPY = _RECOPY


def _meta_json(meta: dict[str, str], key: str, name: str) -> Any:
    if key not in meta:
        raise IntegrityError(
            f"{name}: metadata {key!r} is missing; the graph was not written by this "
            f"aeexport format or was edited. {_RECOPY}"
        )
    return parse_json(meta[key], f"{name}: metadata {key!r}", _RECOPY)


def check_bundle_id(got: Any, manifest: dict[str, Any], name: str) -> None:
    """The graph ``name`` records bundle id ``got``: it must be the manifest's (no graphs of two exports)."""
    if got != manifest["bundle_id"]:
        raise IntegrityError(
            f"{name} belongs to bundle {got!r}, but manifest.json describes bundle "
            f"{manifest['bundle_id']!r}: graphs from different exports were mixed. {_RECOPY}"
        )


def check_io_names(names: Any, key: str, role: str, manifest: dict[str, Any], name: str) -> None:
    """The ``key`` (``"inputs"`` / ``"outputs"``) names of graph ``name`` must be the manifest's for ``role``."""
    want = manifest["graphs"][role][key]
    if names != list(want):
        raise IntegrityError(
            f"{name} has {key} {names}, but manifest.json lists {want} for the {role} graph. {_RECOPY}"
        )


def _check_identity(role: str, name: str, meta: dict[str, str], manifest: dict[str, Any]) -> None:
    """bundle_id, format_version and (for core roles) role recorded in the graph."""
    check_bundle_id(meta.get("bundle_id"), manifest, name)
    if "format_version" in meta and meta["format_version"] != str(manifest["format_version"]):
        raise IntegrityError(
            f"{name} has format_version {meta['format_version']!r} but manifest.json has "
            f"{manifest['format_version']!r}. {_RECOPY}"
        )
    if role in CORE_ROLES and meta.get("role") != role:
        raise IntegrityError(
            f"manifest.json uses {name} as the {role} graph, but its metadata says it is the "
            f"{meta.get('role')!r} graph. {_RECOPY}"
        )


def _check_own_hash(
    role: str, name: str, meta: dict[str, str], scan: ModelScan, expected: Any, check_hash: bool
) -> None:
    """The graph's recorded graph_sha256 (and, with ``check_hash``, its body's) against the manifest's."""
    own = meta.get("graph_sha256")
    if (role in CORE_ROLES or expected is not None) and own != expected:
        raise IntegrityError(
            f"{name} records graph_sha256 {str(own)[:16]}…, but manifest.json records "
            f"{str(expected)[:16]}… for the {role} graph: the graph comes from another export. {_RECOPY}"
        )
    if check_hash and expected is not None and scan.graph_sha256 != expected:
        raise IntegrityError(
            f"the graph inside {name} hashes to {scan.graph_sha256[:16]}…, but its metadata and "
            f"manifest.json record {expected[:16]}…: the graph was modified after export. {_RECOPY}"
        )


def _check_partners(role: str, name: str, meta: dict[str, str], graphs: dict[str, Any]) -> None:
    """Every core graph the manifest lists is a partner, and every partner's hash is the manifest's."""
    partners = _meta_json(meta, "partners", name)
    if not isinstance(partners, dict):
        raise IntegrityError(f"{name}: metadata 'partners' is not an object. {_RECOPY}")
    if role in CORE_ROLES:
        for other in CORE_ROLES:
            if other != role and other in graphs and other not in partners:
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


def _check_io(role: str, name: str, meta: dict[str, str], manifest: dict[str, Any]) -> None:
    """Shapes and input/output names recorded in a core graph against the manifest."""
    for key, want in (("input_shape", manifest["input"]["shape"]), ("latent_shape", manifest["latent"]["shape"])):
        if key in meta and _meta_json(meta, key, name) != want:
            raise IntegrityError(f"{name} has {key} {meta[key]}, but manifest.json says {want}. {_RECOPY}")
    for key in ("inputs", "outputs"):
        if key in meta:
            recs = _meta_json(meta, key, name)
            records = isinstance(recs, list) and all(isinstance(r, dict) for r in recs)
            check_io_names([r.get("name") for r in recs] if records else None, key, role, manifest, name)


def _threshold_text(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _check_one_truth(role: str, name: str, meta: dict[str, str], manifest: dict[str, Any]) -> None:
    """Keys the graph metadata repeats from the manifest (threshold, minimum onnxruntime, model kind; the score the
    scorer graph computes) must agree. (``format_version``, ``bundle_id``, ``role``, shapes and
    input/output names are compared by :func:`_check_identity` and :func:`_check_io`.)

    The threshold is compared as stored: the float the graph's text denotes and the
    manifest's JSON number, exactly (aeexport writes both from one value).
    ``load(threshold=...)`` overrides both at run time; nothing here changes.
    """
    if "threshold" in meta:
        ours = manifest["threshold"]["value"]
        if _threshold_text(meta["threshold"]) != ours:
            raise IntegrityError(
                f"{name} records threshold {meta['threshold']}, but manifest.json has threshold.value {ours!r}: "
                f"a bundle holds one threshold, edited in only one place here. {_RECOPY}"
            )
    ours = manifest.get("min_onnxruntime")
    if role in CORE_ROLES and (ours is not None or "min_onnxruntime" in meta) and meta.get("min_onnxruntime") != ours:
        raise IntegrityError(
            f"{name} records min_onnxruntime {meta.get('min_onnxruntime')!r}, but manifest.json has "
            f"min_onnxruntime {ours!r}: a bundle holds one minimum runtime, edited in only one place here. {_RECOPY}"
        )
    if "model_kind" in meta and meta["model_kind"] != manifest["model"]["kind"]:
        raise IntegrityError(
            f"{name} records model kind {meta['model_kind']!r}, but manifest.json has model.kind "
            f"{manifest['model']['kind']!r}. {_RECOPY}"
        )
    if role == "scorer" and "score" in meta:
        score = _meta_json(meta, "score", name)
        theirs = score.get("name") if isinstance(score, dict) else score
        if theirs != manifest["score"]["name"]:
            raise IntegrityError(
                f"{name} computes score {theirs!r}, but manifest.json has score.name "
                f"{manifest['score']['name']!r}. {_RECOPY}"
            )


def _check_metadata(role: str, name: str, scan: ModelScan, manifest: dict[str, Any], check_hash: bool) -> None:
    meta = {k[len(META_PREFIX) :]: v for k, v in scan.metadata.items() if k.startswith(META_PREFIX)}
    core = role in CORE_ROLES
    _check_identity(role, name, meta, manifest)
    _check_one_truth(role, name, meta, manifest)
    _check_own_hash(role, name, meta, scan, manifest["graphs"][role].get("graph_sha256"), check_hash)
    if core or "partners" in meta:
        _check_partners(role, name, meta, manifest["graphs"])
    if core:
        _check_io(role, name, meta, manifest)


def graph_file(manifest: dict[str, Any], role: str) -> str:
    """Relative path of the ``role`` graph (``manifest["graphs"][role]["file"]``)."""
    return str(manifest["graphs"][role].get("file", GRAPH_FILES.get(role, f"{role}.onnx")))


class GraphFormat(NamedTuple):
    """How a graph file is read: its format's name, its reader, whether it is onnxruntime's ORT format."""

    name: str
    scan: Callable[[bytes], ModelScan]
    ort_format: bool


#: graph file suffix -> its format: the one rule deciding how a graph is read and checked
GRAPH_FORMATS: dict[str, GraphFormat] = {
    ".onnx": GraphFormat("ONNX", scan_model, False),
    ".ort": GraphFormat("ORT-format", scan_ort, True),
}


def graph_format(rel: str) -> GraphFormat:
    """The format of the graph file ``rel`` (a manifest's ``graphs.<role>.file``), by its name only."""
    suffix = os.path.splitext(rel)[1]
    if suffix not in GRAPH_FORMATS:  # the manifest schema allows only these suffixes
        raise UnsafeBundleError(f"{rel}: a graph file must end in {' or '.join(GRAPH_FORMATS)}. {_RECOPY}")
    return GRAPH_FORMATS[suffix]


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
    data = _read_file(root, role, manifest)
    rel = graph_file(manifest, role)
    expected = manifest["files"].get(rel)
    if check_hash and expected is not None:
        check_digest(rel, sha256_bytes(data), expected)
    fmt = graph_format(rel)
    _check_metadata(role, rel, _scan(root, rel, data, fmt), manifest, check_hash and not fmt.ort_format)
    return data


def _read_file(root: str | os.PathLike[str], role: str, manifest: dict[str, Any]) -> bytes:
    """The bytes of the ``role`` graph file: listed, inside the bundle, a regular file, not too large."""
    if manifest["graphs"].get(role) is None:
        raise BundleNotFoundError(
            f"this bundle has no {role} graph (graphs: {sorted(manifest['graphs'])}); "
            "re-export it with a current aeexport."
        )
    rel = graph_file(manifest, role)
    path = listed_file(root, rel, f"{role} graph")
    size = path.stat().st_size
    if size > MAX_GRAPH_BYTES:
        raise UnsafeBundleError(
            f"{rel} is {size} bytes, larger than any single-file ONNX graph can be (2 GiB); refusing to load it."
        )
    return path.read_bytes()


def _scan(root: str | os.PathLike[str], rel: str, data: bytes, fmt: GraphFormat) -> ModelScan:
    """Scan a graph file in the format its name says; refuse malformed files, external data, what is not allowed."""
    if not fmt.ort_format and is_ort_format(data):
        raise UnsafeBundleError(
            f"{rel} holds an ORT-format model, but its name says ONNX: manifest.json and the file name decide a "
            f"graph's format, and the bytes must be in it. Refusing it before onnxruntime sees it. {_RECOPY}"
        )
    try:
        scan = fmt.scan(data)
    except OrtReaderMissing as exc:
        raise UnsafeBundleError(
            f"{rel} is an ORT-format graph, but its checks cannot run here ({exc}); aeruntime refuses a graph it "
            "cannot check. Install onnxruntime with its `flatbuffers` dependency, or use the ONNX bundle."
        ) from None
    except ProtoError as exc:
        raise IntegrityError(
            f"{rel} is not a well-formed {fmt.name} model ({exc}); the file is damaged or truncated. {_RECOPY}"
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
    check_structure(rel, scan.structure, ort_format=fmt.ort_format)
    return scan


def read_graphs(root: str | os.PathLike[str], manifest: dict[str, Any], *, check_hash: bool = True) -> dict[str, bytes]:
    """:func:`read_graph` on every graph the manifest lists: role -> checked bytes (each file read once)."""
    return {role: read_graph(root, role, manifest, check_hash=check_hash) for role in manifest["graphs"]}


def read_bundle(root: str | os.PathLike[str], *, verify: bool = True) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read and check a whole bundle: ``(manifest, role -> checked graph bytes)``.

    The manifest is read and validated; with ``verify`` every listed file is hashed
    (graphs from the bytes :func:`read_graphs` reads, so each graph file is read and
    hashed once); the safety and metadata checks always run.
    """
    manifest = read_manifest(root)
    if verify:
        verify_files(root, manifest, skip=[graph_file(manifest, role) for role in manifest["graphs"]])
    return manifest, read_graphs(root, manifest, check_hash=verify)
