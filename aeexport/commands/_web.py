"""``aeexport web``: a static site that verifies and scores a bundle in the browser (onnxruntime-web)."""

from __future__ import annotations

import click

from ._common import echo_result
from ._options import json_option, out_dir_option


@click.command("web")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@out_dir_option("Site directory", "a site")
@click.option(
    "--ort-dist",
    type=click.Path(file_okay=False),
    default=None,
    help="onnxruntime-web's dist/ folder (default: $AEEXPORT_ORT_DIST, else "
    "examples/web/node_modules/onnxruntime-web/dist of this checkout, after `npm ci --prefix examples/web`).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port in the printed URL.")
@json_option("Print what was written as JSON.")
def web_command(bundle: str, out: str, ort_dist: str | None, port: int, as_json: bool) -> None:
    """Write a static site to --out that scores BUNDLE in the browser.

    The page checks every graph's sha256 with WebCrypto before running it, runs the golden
    vectors, scores a CSV you drop on it (histogram, flagged rows and their top features,
    score,label download) and, for image bundles, scores a digit you draw. Serve the folder
    with any static server on localhost or https (WebCrypto needs a secure context).
    """
    from ..web import build_site

    site = build_site(bundle, out, ort_dist=ort_dist)
    mib = site.bytes / 2**20
    echo_result(
        as_json,
        {**site.to_dict(), "serve": f"python -m http.server -d {out} {port}", "url": f"http://localhost:{port}/"},
        f"wrote site -> {out} ({len(site.files)} files, {mib:.1f} MiB; bundle {site.bundle_id}, "
        f"onnxruntime-web {site.ort_version or '?'}{', with the drawing demo' if site.image else ''})",
        "open it with any static server, e.g.:",
        f"  python -m http.server -d {out} {port}",
        f"  then http://localhost:{port}/",
    )
