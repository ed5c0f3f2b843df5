"""The browser consumer: the page in :mod:`page <aeexport.web.site>` and ``aeexport web`` that ships it.

:mod:`aeexport.web.site` writes a static site (the page, the bundle, onnxruntime-web's wasm);
the page itself lives in ``aeexport/web/page/`` (package data, plain ES modules, no build step).
"""

from __future__ import annotations

from .site import ORT_FILES, PAGE_DIR, Site, build_site, find_ort_dist

__all__ = ["ORT_FILES", "PAGE_DIR", "Site", "build_site", "find_ort_dist"]
