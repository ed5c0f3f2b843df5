"""Names and limits of the bundle format (see ``docs/bundle-format.md``)."""

from __future__ import annotations

from ..fs.outputs import BUNDLE_MARKER, MAX_MARKER_BYTES

__all__ = [
    "CORE_ROLES",
    "FORMAT_VERSION",
    "GOLDEN_BATCHES",
    "GRAPH_FILES",
    "MANIFEST_NAME",
    "MAX_GRAPH_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_RANK",
    "MAX_ROW_ELEMENTS",
    "META_PREFIX",
    "SUPPORTED_FORMAT_VERSIONS",
    "TEST_DATA_DIR",
    "WEIGHTS_NAME",
]

#: version of the bundle format this release writes
FORMAT_VERSION = 1
#: versions this release can read
SUPPORTED_FORMAT_VERSIONS = (1,)
#: the output rule (:mod:`aeruntime.fs.outputs`) knows a bundle by this file
MANIFEST_NAME = BUNDLE_MARKER
#: role -> file name of each graph
GRAPH_FILES = {"encoder": "encoder.onnx", "decoder": "decoder.onnx", "scorer": "scorer.onnx"}
#: roles whose graphs every bundle of this format has (scorer optional)
CORE_ROLES = ("encoder", "decoder", "scorer")
#: prefix of the ``metadata_props`` keys written into every graph
META_PREFIX = "aeexport."
#: torch weights of the export (absent from slim bundles)
WEIGHTS_NAME = "weights.safetensors"
#: golden vectors: ``test_data/<role>/test_data_set_N/{input_i,output_i}.pb`` (ONNX model-zoo layout)
TEST_DATA_DIR = "test_data"
#: golden vector batch sizes: one row and a batch greater than one
GOLDEN_BATCHES = (1, 5)
#: largest manifest.json read (a real one is a few hundred KB)
MAX_MANIFEST_BYTES = MAX_MARKER_BYTES
#: protobuf cannot serialize a message over 2 GiB, so no valid single-file graph is larger
MAX_GRAPH_BYTES = 2**31 - 1
#: most dimensions of one row (input or latent)
MAX_RANK = 8
#: most elements in one row: 2**31 - 1, the onnxruntime/int32 indexing limit
MAX_ROW_ELEMENTS = 2**31 - 1
