"""The bundle format in one place (numpy only; no onnx, no onnxruntime, no torch).

=====================  ==========================================================
module                 owns
=====================  ==========================================================
``constants``          format version, file names, ``META_PREFIX``, limits
``paths``              the one safe-path rule (:func:`safe_path`)
``schema``             the manifest schema (:func:`validate_manifest`)
``manifest``           reading ``manifest.json``, file hashes (:func:`read_manifest`)
``scores``             the score registry (:data:`SCORES`, :func:`register_score`)
``strictjson``         the one JSON reader of bundle files (:func:`parse_json`)
``onnxscan``           reading the protobuf of an ``.onnx`` file without onnx
``ops``                the operator allow-list and shape bounds (:func:`check_structure`)
``graphs``             reading and checking graphs once (:func:`read_graphs`)
``proto``              writing graph metadata and TensorProto files by hand
``atomic``             atomic file and directory writes, stale temporaries of killed writes
``outputs``            the overwrite rule of every output (``check_output_dir``/``check_output_file``)
``writer``             :class:`BundleWriter`: every bundle is written by it
=====================  ==========================================================

aeexport writes bundles through this package only; aeruntime reads them with it.
"""

from __future__ import annotations

from .atomic import TMP_PREFIX, atomic_directory, atomic_write_bytes
from .compat import RELEASES, Release, minimum_for_bundle, minimum_for_graphs, release_limits
from .constants import (
    CORE_ROLES,
    FORMAT_VERSION,
    GOLDEN_BATCHES,
    GRAPH_FILES,
    MANIFEST_NAME,
    META_PREFIX,
    SUPPORTED_FORMAT_VERSIONS,
    TEST_DATA_DIR,
    WEIGHTS_NAME,
)
from .graphs import graph_file, read_bundle, read_graph, read_graphs
from .manifest import read_manifest, sha256_bytes, sha256_file, verify_files
from .onnxscan import GraphStructure, ModelScan, ProtoError, scan_model
from .ops import ALLOWED_OPS, check_structure
from .outputs import DIR_RULE, FILE_RULE, PACKAGE_MARKER, SITE_MARKER, check_output_dir, check_output_file
from .paths import safe_path
from .proto import read_tensor, set_model_metadata, tensor_bytes
from .schema import check_relpath, validate_manifest
from .scores import (
    DEFAULT_SCORE,
    SCORES,
    ScoreSpec,
    check_threshold,
    get_score,
    nonnegative_scores,
    register_score,
    score_definition,
    score_names,
)
from .strictjson import parse_json
from .writer import BundleWriter, bundle_id_of, copy_bundle, graph_sha256

__all__ = [
    "RELEASES",
    "Release",
    "minimum_for_bundle",
    "minimum_for_graphs",
    "release_limits",
    "ALLOWED_OPS",
    "CORE_ROLES",
    "DIR_RULE",
    "FILE_RULE",
    "DEFAULT_SCORE",
    "FORMAT_VERSION",
    "GOLDEN_BATCHES",
    "GRAPH_FILES",
    "MANIFEST_NAME",
    "META_PREFIX",
    "SCORES",
    "PACKAGE_MARKER",
    "SITE_MARKER",
    "SUPPORTED_FORMAT_VERSIONS",
    "TEST_DATA_DIR",
    "TMP_PREFIX",
    "WEIGHTS_NAME",
    "BundleWriter",
    "GraphStructure",
    "ModelScan",
    "ProtoError",
    "ScoreSpec",
    "atomic_directory",
    "atomic_write_bytes",
    "check_output_dir",
    "check_output_file",
    "bundle_id_of",
    "check_relpath",
    "check_structure",
    "check_threshold",
    "copy_bundle",
    "get_score",
    "graph_file",
    "graph_sha256",
    "nonnegative_scores",
    "parse_json",
    "read_bundle",
    "read_graph",
    "read_graphs",
    "read_manifest",
    "read_tensor",
    "register_score",
    "safe_path",
    "scan_model",
    "score_definition",
    "score_names",
    "set_model_metadata",
    "sha256_bytes",
    "sha256_file",
    "tensor_bytes",
    "validate_manifest",
    "verify_files",
]
