"""What the browser tests share: the prerequisites, a static server, building and driving a site.

``drive`` runs ``examples/web/drive.mjs`` (playwright-core, headless ``chromium``) and
returns what the page reported; ``build`` writes a site with ``aeexport web``.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT

NODE = shutil.which("node")
CHROMIUM = os.environ.get("AEWEB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
WEB_DIR = ROOT / "examples" / "web"
DRIVER = WEB_DIR / "drive.mjs"

#: the marks of a module that drives the page: skipped without node or chromium
NEEDS_BROWSER = [
    pytest.mark.skipif(NODE is None, reason="node (Node.js) is not installed"),
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (apt-get install chromium, or AEWEB_CHROMIUM=BINARY)"
    ),
]


def require_web_modules() -> None:
    """Fail (not skip) without ``npm ci --prefix examples/web``: a skip would hide a missing install step."""
    for pkg in ("onnxruntime-web", "playwright-core"):
        if not (WEB_DIR / "node_modules" / pkg / "package.json").is_file():
            pytest.fail(
                f"examples/web/node_modules/{pkg} is missing: run `npm ci --prefix examples/web --no-audit --no-fund` "
                "(the README's test command does) so the browser page can be tested."
            )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
    }

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (any free port) within the block; gives the base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def build(bundle: Path, out: Path) -> str:
    from aeexport.cli import main

    r = CliRunner().invoke(main, ["web", str(bundle), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return r.output


def drive(url: str, *args: str | Path) -> dict:
    r = subprocess.run(
        [NODE, str(DRIVER), "--url", url, "--chromium", CHROMIUM, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, f"drive.mjs failed ({r.returncode}): {r.stderr[-4000:]}"
    return json.loads(r.stdout)
