"""Compatibility names: the bundle format lives in :mod:`aeruntime.format`."""

from .format.constants import (  # noqa: F401
    FORMAT_VERSION,
    GRAPH_FILES,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    META_PREFIX,
    SUPPORTED_FORMAT_VERSIONS,
)
from .format.manifest import read_manifest, sha256_file, verify_files  # noqa: F401
