"""`aeexport web`: the static site that scores rows in the browser (the page is package data in ``page/``)."""

from __future__ import annotations

from ._site import ORT_DIST_ENV, ORT_FILES, PAGE_DIR, Site, build_site, default_ort_dist, find_ort_dist

__all__ = ["ORT_DIST_ENV", "ORT_FILES", "PAGE_DIR", "Site", "build_site", "default_ort_dist", "find_ort_dist"]
