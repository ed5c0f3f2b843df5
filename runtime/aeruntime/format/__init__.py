"""The bundle format in one place (numpy only; no onnx, no onnxruntime, no torch).

=====================  ==========================================================
module                 owns
=====================  ==========================================================
``constants``          format version, file names, ``META_PREFIX``, limits
``paths``              the one safe-path rule (:func:`safe_path`)
``schema``             the manifest schema (:func:`validate_manifest`)
``manifest``           reading ``manifest.json``, file hashes (:func:`read_manifest`)
``scores``             the score registry (:data:`SCORES`, :func:`register_score`)
``onnxscan``           reading the protobuf of an ``.onnx`` file without onnx
``graphs``             reading and checking graphs once (:func:`read_graphs`)
``proto``              writing graph metadata and TensorProto files by hand
``atomic``             atomic file and directory writes
``writer``             :class:`BundleWriter`: every bundle is written by it
=====================  ==========================================================

aeexport writes bundles through this package only; aeruntime reads them with it.
"""

from __future__ import annotations

from .atomic import TMP_PREFIX, atomic_directory, atomic_write_bytes
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
from .graphs import graph_file, read_graph, read_graphs
from .manifest import read_manifest, sha256_bytes, sha256_file, verify_files
from .onnxscan import ModelScan, ProtoError, scan_model
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
from .writer import BundleWriter, bundle_id_of, copy_bundle, graph_sha256

__all__ = [
    "FORMAT_VERSION", "SUPPORTED_FORMAT_VERSIONS", "MANIFEST_NAME", "GRAPH_FILES", "CORE_ROLES", "META_PREFIX",
    "WEIGHTS_NAME", "TEST_DATA_DIR", "GOLDEN_BATCHES",
    "safe_path", "check_relpath", "validate_manifest",
    "read_manifest", "verify_files", "sha256_file", "sha256_bytes",
    "ScoreSpec", "SCORES", "DEFAULT_SCORE", "register_score", "get_score", "score_names", "score_definition",
    "nonnegative_scores", "check_threshold",
    "ModelScan", "ProtoError", "scan_model", "read_graph", "read_graphs", "graph_file",
    "set_model_metadata", "tensor_bytes", "read_tensor",
    "atomic_directory", "atomic_write_bytes", "TMP_PREFIX",
    "BundleWriter", "copy_bundle", "graph_sha256", "bundle_id_of",
]
