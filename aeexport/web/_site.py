"""``aeexport web``: a self-contained static site that scores a bundle in the browser.

The site is three things side by side, written atomically into one directory:

- the page (:data:`PAGE_DIR`, package data of aeexport: ``index.html`` and its ES modules),
- ``bundle/``: the bundle's ``manifest.json`` and every file it lists, verified first,
- ``ort/``: the part of onnxruntime-web the page loads (:data:`ORT_FILES`: the wasm build's
  ES module, its Emscripten glue and its ``.wasm``), copied from an npm install of
  ``examples/web`` or from ``--ort-dist``,

plus the marker :data:`~aeruntime.format.SITE_MARKER` (``aeexport-site.json``) listing the files, so a later
``aeexport web`` may replace the site (and nothing else: the overwrite rule of every output).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aeruntime.errors import InvalidInputError
from aeruntime.format import MANIFEST_NAME, listed_file, read_bundle
from aeruntime.fs import SITE_MARKER, atomic_directory, check_output_dir, marker_digests

__all__ = ["ORT_DIST_ENV", "ORT_FILES", "PAGE_DIR", "Site", "build_site", "default_ort_dist", "find_ort_dist"]

#: the page's files: package data of aeexport (pyproject.toml), the one copy of the page
PAGE_DIR = Path(__file__).resolve().parent / "page"
#: the files of onnxruntime-web's dist/ that the page loads (wasm only, no WebGPU/WebGL)
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
#: environment variable naming onnxruntime-web's dist/ folder (``--ort-dist`` wins over it)
ORT_DIST_ENV = "AEEXPORT_ORT_DIST"
_NPM = "npm ci --prefix examples/web --no-audit --no-fund"


@dataclass(frozen=True)
class Site:
    """What :func:`build_site` wrote."""

    out: Path
    bundle_id: str
    files: list[str]
    bytes: int
    ort_version: str | None
    image: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "bundle_id": self.bundle_id,
            "files": self.files,
            "bytes": self.bytes,
            "onnxruntime_web": self.ort_version,
        }


def default_ort_dist() -> Path:
    """``examples/web/node_modules/onnxruntime-web/dist`` of the source tree aeexport runs from."""
    return Path(__file__).resolve().parents[2] / "examples" / "web" / "node_modules" / "onnxruntime-web" / "dist"


def find_ort_dist(ort_dist: str | os.PathLike[str] | None = None) -> Path:
    """The onnxruntime-web ``dist/`` folder: ``ort_dist``, else $AEEXPORT_ORT_DIST, else :func:`default_ort_dist`.

    Raises :class:`InvalidInputError` naming the folder looked at, the files missing and
    what to run (``npm ci --prefix examples/web``) or pass (``--ort-dist``).
    """
    if ort_dist is not None:
        where, how = Path(ort_dist), f"--ort-dist {str(ort_dist)!r}"
    elif os.environ.get(ORT_DIST_ENV):
        where, how = Path(os.environ[ORT_DIST_ENV]), f"${ORT_DIST_ENV} ({os.environ[ORT_DIST_ENV]!r})"
    else:
        where, how = default_ort_dist(), f"the default {str(default_ort_dist())!r}"
    missing = [f for f in ORT_FILES if not (where / f).is_file()]
    if missing:
        raise InvalidInputError(
            f"onnxruntime-web was not found: {how} lacks {', '.join(missing)}. In an aeexport checkout run "
            f"`{_NPM}`; otherwise `npm install onnxruntime-web` anywhere and pass --ort-dist "
            f"node_modules/onnxruntime-web/dist (or set {ORT_DIST_ENV})."
        )
    return where


def _ort_version(dist: Path) -> str | None:
    try:
        return str(json.loads((dist.parent / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _page_files() -> list[str]:
    """The page's files relative to :data:`PAGE_DIR`: its views and the JavaScript core (``core/``)."""
    files = sorted(
        p.relative_to(PAGE_DIR).as_posix()
        for p in [*PAGE_DIR.iterdir(), *(PAGE_DIR / "core").glob("*.js")]
        if p.is_file() and p.suffix in {".html", ".js", ".css"}
    )
    if "index.html" not in files:
        raise InvalidInputError(
            f"the page of aeexport web is missing from {PAGE_DIR} (no index.html); reinstall aeexport."
        )
    return files


def build_site(
    bundle: str | os.PathLike[str], out: str | os.PathLike[str], *, ort_dist: str | os.PathLike[str] | None = None
) -> Site:
    """Write the static site for ``bundle`` to ``out`` (atomically) and return what it holds.

    The bundle is verified first (every sha256, graph metadata and partners, as
    ``aeruntime.load`` does); ``out`` follows the overwrite rule: new, empty, or a site
    written by ``aeexport web`` (then replaced), else :class:`InvalidInputError`.
    """
    src = Path(bundle)
    check_output_dir(out, "site", inputs=[src])
    dist = find_ort_dist(ort_dist)
    manifest, _ = read_bundle(src)  # every hash, safe paths, graph metadata, partners
    page = _page_files()
    written: list[str] = []
    with atomic_directory(out, kind="site") as tmp:
        (tmp / "core").mkdir()
        for rel in page:
            shutil.copyfile(PAGE_DIR / rel, tmp / rel)
            written.append(rel)
        (tmp / "ort").mkdir()
        for name in ORT_FILES:
            shutil.copyfile(dist / name, tmp / "ort" / name)
            written.append(f"ort/{name}")
        for rel in [MANIFEST_NAME, *manifest["files"]]:
            dst = tmp / "bundle" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(listed_file(src, rel), dst)  # only listed regular files inside the bundle
            written.append(f"bundle/{rel}")
        written.sort()
        marker = {
            "written_by": "aeexport web",
            "bundle_id": manifest["bundle_id"],
            "onnxruntime_web": _ort_version(dist),
            "files": written,
            "sha256": marker_digests(tmp, written),
        }
        (tmp / SITE_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        size = sum((tmp / rel).stat().st_size for rel in written)
    return Site(Path(out), manifest["bundle_id"], written, size, marker["onnxruntime_web"], _is_image(manifest))


def _is_image(manifest: dict[str, Any]) -> bool:
    """The page shows the drawing pad (the rule of app.js ``imageSide``)."""
    if isinstance(manifest["input"].get("feature_names"), list):
        return False
    shape = [int(d) for d in manifest["input"]["shape"]]
    spatial = shape[1:] if len(shape) == 3 and shape[0] == 1 else shape
    if len(spatial) == 2:
        return spatial[0] == spatial[1]
    if len(spatial) == 1:
        side = round(spatial[0] ** 0.5)
        return side * side == spatial[0] and 4 <= side <= 64
    return False
