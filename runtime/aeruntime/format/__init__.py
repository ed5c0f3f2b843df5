"""The bundle format in one place (numpy only; no onnx, no onnxruntime, no torch).

=====================  ==========================================================
module                 owns
=====================  ==========================================================
``constants``          format version, file names, ``META_PREFIX``, limits
``paths``              the one safe-path rule (:func:`safe_path`, :func:`listed_file`)
``golden``             the listed golden vectors (:func:`golden_sets`, :func:`read_golden`)
``schema``             the manifest schema (:func:`validate_manifest`)
``manifest``           reading ``manifest.json``, file hashes (:func:`read_manifest`)
``scores``             the score registry (:data:`SCORES`, :func:`register_score`)
``strictjson``         the one JSON reader of bundle files (:func:`parse_json`)
``onnxscan``           reading the protobuf of an ``.onnx`` file without onnx
``ortscan``            reading an ``.ort`` graph with onnxruntime's reader of the ORT flatbuffer schema
``ops``                the operator allow-list and shape bounds (:func:`check_structure`)
``graphs``             reading and checking graphs once (:func:`read_graphs`)
``proto``              writing graph metadata and TensorProto files by hand
``writer``             :class:`BundleWriter`: every bundle is written by it
=====================  ==========================================================

aeexport writes bundles through this package only; aeruntime reads them with it. Files are
published by the file-system rules below it (:mod:`aeruntime.fs`: atomic writes, the output rule).
"""

from __future__ import annotations

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
from .golden import golden_sets, read_golden
from .graphs import graph_file, read_bundle, read_graph, read_graphs
from .manifest import read_manifest, sha256_bytes, sha256_file, verify_files
from .onnxscan import GraphStructure, ModelScan, ProtoError, scan_model
from .ops import ALLOWED_OPS, check_structure
from .ortscan import scan_ort
from .paths import listed_file, safe_path
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
    "DEFAULT_SCORE",
    "FORMAT_VERSION",
    "GOLDEN_BATCHES",
    "GRAPH_FILES",
    "MANIFEST_NAME",
    "META_PREFIX",
    "SCORES",
    "SUPPORTED_FORMAT_VERSIONS",
    "TEST_DATA_DIR",
    "WEIGHTS_NAME",
    "BundleWriter",
    "GraphStructure",
    "ModelScan",
    "ProtoError",
    "ScoreSpec",
    "bundle_id_of",
    "check_relpath",
    "check_structure",
    "check_threshold",
    "copy_bundle",
    "get_score",
    "golden_sets",
    "graph_file",
    "graph_sha256",
    "listed_file",
    "nonnegative_scores",
    "parse_json",
    "read_bundle",
    "read_graph",
    "read_graphs",
    "read_golden",
    "read_manifest",
    "read_tensor",
    "register_score",
    "safe_path",
    "scan_model",
    "scan_ort",
    "score_definition",
    "score_names",
    "set_model_metadata",
    "sha256_bytes",
    "sha256_file",
    "tensor_bytes",
    "validate_manifest",
    "verify_files",
]
