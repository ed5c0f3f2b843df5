"""Reading a bundle directory: manifest, format version, file integrity.

The bundle contract (see ``docs/bundle-format.md``) is shared with aeexport, which
writes bundles with the constants defined here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import BundleNotFoundError, IntegrityError, ManifestError, UnsafeBundleError, UnsupportedFormatError
from .schema import validate_manifest

__all__ = [
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "MANIFEST_NAME",
    "GRAPH_FILES",
    "META_PREFIX",
    "sha256_file",
    "read_manifest",
    "verify_files",
]

#: version of the bundle format this release writes
FORMAT_VERSION = 1
#: versions this release can read
SUPPORTED_FORMAT_VERSIONS = (1,)
MANIFEST_NAME = "manifest.json"
#: role -> file name of each graph
GRAPH_FILES = {"encoder": "encoder.onnx", "decoder": "decoder.onnx", "scorer": "scorer.onnx"}
#: prefix of the ``metadata_props`` keys written into every graph
META_PREFIX = "aeexport."
#: largest manifest.json read (a real one is a few hundred KB)
MAX_MANIFEST_BYTES = 64 * 2**20

_REQUIRED = {
    "format_version": int,
    "bundle_id": str,
    "model": dict,
    "input": dict,
    "latent": dict,
    "graphs": dict,
    "score": dict,
    "threshold": dict,
    "files": dict,
}


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``root/manifest.json``; return it as a dict.

    Raises
    ------
    BundleNotFoundError
        ``root`` or its manifest does not exist.
    ManifestError
        The manifest is not JSON or does not follow the schema (:mod:`aeruntime.schema`).
    UnsafeBundleError
        ``manifest.json`` is a symlink leaving the bundle directory.
    UnsupportedFormatError
        Its ``format_version`` is not one this release reads.
    """
    root = Path(root)
    if not root.is_dir():
        raise BundleNotFoundError(
            f"bundle directory {str(root)!r} does not exist or is not a directory; expected a "
            "directory written by `aeexport export` (with manifest.json, encoder.onnx, ...)."
        )
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise BundleNotFoundError(
            f"{str(path)!r} is missing; a bundle directory must contain {MANIFEST_NAME}. "
            "Point to the directory written by `aeexport export`, or re-export the model."
        )
    _inside(root, path, MANIFEST_NAME)
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"{str(path)!r} is {size} bytes, more than the {MAX_MANIFEST_BYTES} bytes a manifest may have; "
            "it is not a manifest written by aeexport. Re-export the bundle."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{str(path)!r} is not valid JSON ({exc}); re-export the bundle.") from None
    except RecursionError:
        raise ManifestError(f"{str(path)!r} nests JSON too deeply to be a manifest; re-export the bundle.") from None
    if not isinstance(manifest, dict):
        raise ManifestError(
            f"{str(path)!r} holds a {type(manifest).__name__}, expected a JSON object; re-export the bundle."
        )
    version = manifest.get("format_version")
    if version not in SUPPORTED_FORMAT_VERSIONS or isinstance(version, bool):
        raise UnsupportedFormatError(
            f"bundle {str(root)!r} has format_version {version!r}, but this aeruntime reads "
            f"format versions {list(SUPPORTED_FORMAT_VERSIONS)}. Upgrade aeruntime "
            "(pip install -U aeruntime) or re-export the bundle with a matching aeexport."
        )
    for key, typ in _REQUIRED.items():
        if not isinstance(manifest.get(key), typ):
            raise ManifestError(
                f"{str(path)!r}: field {key!r} must be a {typ.__name__}, got "
                f"{type(manifest.get(key)).__name__}; the manifest is damaged, re-export the bundle."
            )
    validate_manifest(manifest)
    return manifest


def _inside(root: Path, path: Path, rel: str) -> None:
    root_real = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if root_real not in real.parents:
        raise UnsafeBundleError(
            f"bundle file {rel!r} resolves to {str(real)!r}, outside the bundle directory "
            f"{str(root_real)!r} (a symlink or '..' leaves the bundle); refusing to read it. "
            "Copy the real files into the bundle (cp -rL) instead of linking to them."
        )


def verify_files(root: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Check that every file listed in ``manifest['files']`` exists and matches its sha256.

    Files that resolve outside ``root`` (symlinks, ``..``) raise
    :class:`~aeruntime.errors.UnsafeBundleError` before they are opened.
    ``aeruntime.load(verify=False)`` skips this function (and the graph-body hash);
    the schema, metadata and safety checks run regardless.
    """
    root = Path(root).resolve()
    for rel, expected in manifest["files"].items():
        path = (root / rel).resolve()
        _inside(root, path, rel)
        if not path.is_file():
            raise BundleNotFoundError(
                f"bundle file {str(root / rel)!r} listed in the manifest is missing; "
                "copy the complete bundle directory or re-export it."
            )
        actual = sha256_file(path)
        if actual != expected:
            raise IntegrityError(
                f"{rel} has sha256 {actual[:16]}…, but the manifest records {str(expected)[:16]}…: "
                "the file was modified or corrupted after export. Re-export or re-copy the bundle; "
                "pass verify=False only if you trust the change."
            )
