"""The one writer of a package folder: check the bundle, write atomically, mark what we wrote.

The bundle is loaded with :func:`aeruntime.load` first (every hash, the graph checks, the
threshold), so a package is never made of a bundle aeruntime would refuse. The folder is
written through :func:`aeruntime.format.atomic_directory` with the ``package`` overwrite
rule: ``--out`` must be new, empty, or a package we wrote (its marker
``aeexport-package.json`` lists our files); anything else is refused before any work.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aeruntime
from aeruntime.errors import InvalidInputError
from aeruntime.format import MANIFEST_NAME, listed_file
from aeruntime.fs import PACKAGE_MARKER, atomic_directory, check_output_dir, marker_digests

__all__ = ["Package", "PackageSource", "copy_bundle_files", "write_package"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class PackageSource:
    """What a format writer gets: the checked bundle and the package's settings."""

    path: Path
    model: aeruntime.Model
    name: str
    max_batch_size: int = 1024

    @property
    def manifest(self) -> dict[str, Any]:
        return self.model.manifest


@dataclass
class Package:
    """What ``aeexport package`` wrote."""

    format: str
    out: str
    name: str
    bundle_id: str
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "out": self.out,
            "name": self.name,
            "bundle_id": self.bundle_id,
            "files": self.files,
        }


def copy_bundle_files(src: Path, manifest: dict[str, Any], dst: Path) -> None:
    """Copy the bundle's ``manifest.json`` and every file it lists, byte for byte, to ``dst`` (hashes unchanged)."""
    dst.mkdir(parents=True)
    for rel in [MANIFEST_NAME, *manifest["files"]]:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(listed_file(src, rel), target)  # only listed regular files, no link followed


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInputError(
            f"--name must be 1 to 128 letters, digits, '_', '.' or '-' starting with a letter or digit, got {name!r}; "
            "choose another --name."
        )
    return name


def write_package(
    bundle: str,
    out: str,
    fmt: str,
    fill: Callable[[Path, PackageSource], None],
    *,
    name: str | None = None,
    max_batch_size: int = 1024,
) -> Package:
    """Check ``bundle``, then write ``out`` atomically with ``fill(tmp, source)`` and our marker."""
    src = Path(bundle)
    check_output_dir(out, "package", inputs=[src])  # before the bundle is read
    model = aeruntime.load(src, providers="cpu")
    source = PackageSource(src, model, _check_name(name or src.resolve().name), max_batch_size)
    with atomic_directory(out, kind="package") as tmp:
        fill(tmp, source)
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        marker = {
            "written_by": "aeexport package",
            "format": fmt,
            "bundle_id": model.manifest["bundle_id"],
            "files": files,
            "sha256": marker_digests(tmp, files),
        }
        (tmp / PACKAGE_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return Package(fmt, str(out), source.name, str(model.manifest["bundle_id"]), files)
