"""Reading a bundle directory: manifest, format version, file integrity.

The bundle contract (see ``docs/bundle-format.md``) is shared with aeexport, which
writes bundles with :class:`aeruntime.format.BundleWriter`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import BundleNotFoundError, IntegrityError, ManifestError, UnsupportedFormatError
from .constants import MANIFEST_NAME, MAX_MANIFEST_BYTES, SUPPORTED_FORMAT_VERSIONS
from .paths import listed_file
from .schema import validate_manifest
from .strictjson import parse_json

__all__ = ["check_digest", "read_manifest", "sha256_bytes", "sha256_file", "verify_files"]

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


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_digest(rel: str, actual: str, expected: Any) -> None:
    """Raise :class:`~aeruntime.errors.IntegrityError` when ``rel``'s sha256 ``actual`` is not the manifest's."""
    if actual != expected:
        raise IntegrityError(
            f"{rel} has sha256 {actual[:16]}…, but the manifest records {str(expected)[:16]}…: "
            "the file was modified or corrupted after export. Re-export or re-copy the bundle; "
            "pass verify=False only if you trust the change."
        )


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
    if not os.path.lexists(path):
        raise BundleNotFoundError(
            f"{str(path)!r} is missing; a bundle directory must contain {MANIFEST_NAME}. "
            "Point to the directory written by `aeexport export`, or re-export the model."
        )
    listed_file(root, MANIFEST_NAME, "file")
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"{str(path)!r} is {size} bytes, more than the {MAX_MANIFEST_BYTES} bytes a manifest may have; "
            "it is not a manifest written by aeexport. Re-export the bundle."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{str(path)!r} is not valid JSON ({exc}); re-export the bundle.") from None
    manifest = parse_json(text, repr(str(path)), "re-export the bundle.")
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


def verify_files(root: str | os.PathLike[str], manifest: dict[str, Any], *, skip: Iterable[str] = ()) -> None:
    """Check that every file listed in ``manifest['files']`` exists and matches its sha256.

    Files that resolve outside ``root`` (symlinks, ``..``) raise
    :class:`~aeruntime.errors.UnsafeBundleError` before they are opened.
    ``aeruntime.load(verify=False)`` skips this function (and the graph-body hash);
    the schema, metadata and safety checks run regardless. Files in ``skip`` are only
    checked for safety and presence (the loader hashes graphs from the bytes it reads once).
    """
    root = Path(root).resolve()
    skip = set(skip)
    for rel, expected in manifest["files"].items():
        path = listed_file(root, rel, "file")
        if rel in skip:
            continue
        check_digest(rel, sha256_file(path), expected)
