"""``aeexport web BUNDLE --out SITE``: what the site holds, the overwrite rule, typed errors.

No browser and no npm install here: onnxruntime-web's dist/ is a stand-in folder with the
three files the page loads (tests/e2e/web runs the real one in Chromium).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from aeexport.cli import main
from aeexport.web import ORT_FILES, PAGE_DIR
from aeruntime.fs import TMP_PREFIX
from tests.conformance.corpus import BUNDLE_CASES, forged
from tests.conftest import MODELS

BUNDLE = MODELS / "digits-dense"


@pytest.fixture
def ort_dist(tmp_path) -> Path:
    dist = tmp_path / "onnxruntime-web" / "dist"
    dist.mkdir(parents=True)
    for name in ORT_FILES:
        (dist / name).write_bytes(f"stand-in {name}".encode())
    (dist / "ort.webgpu.min.mjs").write_text("not needed by the page")
    (dist.parent / "package.json").write_text(json.dumps({"name": "onnxruntime-web", "version": "9.9.9"}))
    return dist


def web(*args: str | Path) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["web", *map(str, args)])
    return r.exit_code, r.output


def _tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_site_holds_the_page_the_bundle_and_only_the_ort_files_the_page_loads(tmp_path, ort_dist):
    out = tmp_path / "site"
    code, text = web(BUNDLE, "--out", out, "--ort-dist", ort_dist, "--port", "8123")
    assert code == 0, text
    assert f"python -m http.server -d {out} 8123" in text and "http://localhost:8123/" in text
    assert "onnxruntime-web 9.9.9" in text and "with the drawing demo" in text
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    tree = _tree(out)
    page = sorted(
        p.relative_to(PAGE_DIR).as_posix() for p in PAGE_DIR.rglob("*") if p.suffix in {".html", ".js", ".css"}
    )
    core = {"core/bundle.js", "core/errors.js", "core/manifest.js", "core/onnx.js", "core/protobuf.js", "core/table.js"}
    assert {"index.html", "app.js", "web.js", "style.css", *core} <= set(page)
    expected = {
        *page,
        *(f"ort/{n}" for n in ORT_FILES),
        "bundle/manifest.json",
        *(f"bundle/{r}" for r in manifest["files"]),
    }
    assert set(tree) == expected | {"aeexport-site.json"}
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256(tree[f"bundle/{rel}"]).hexdigest() == digest
    assert tree["bundle/manifest.json"] == (BUNDLE / "manifest.json").read_bytes()
    marker = json.loads(tree["aeexport-site.json"])
    assert marker["written_by"] == "aeexport web" and marker["bundle_id"] == manifest["bundle_id"]
    assert marker["onnxruntime_web"] == "9.9.9" and sorted(marker["files"]) == sorted(expected)
    # the page imports the wasm build of onnxruntime-web from ort/, nothing else
    assert "ort.wasm.min.mjs" in tree["app.js"].decode()


def test_json_and_rebuilding_over_its_own_site(tmp_path, ort_dist):
    out = tmp_path / "site"
    assert web(BUNDLE, "--out", out, "--ort-dist", ort_dist)[0] == 0
    code, text = web(MODELS / "digits-conv", "--out", out, "--ort-dist", ort_dist, "--json")
    assert code == 0, text
    info = json.loads(text)
    conv = json.loads((MODELS / "digits-conv" / "manifest.json").read_text())
    assert info["bundle_id"] == conv["bundle_id"] and info["url"] == "http://localhost:8000/"
    assert json.loads((out / "bundle" / "manifest.json").read_text())["bundle_id"] == conv["bundle_id"]
    assert info["bytes"] == sum(
        p.stat().st_size for p in out.rglob("*") if p.is_file() and p.name != "aeexport-site.json"
    )


def test_ort_dist_from_the_environment(tmp_path, ort_dist, monkeypatch):
    monkeypatch.setenv("AEEXPORT_ORT_DIST", str(ort_dist))
    code, text = web(BUNDLE, "--out", tmp_path / "site")
    assert code == 0, text


def test_missing_onnxruntime_web_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("AEEXPORT_ORT_DIST", str(tmp_path / "nowhere"))
    code, text = web(BUNDLE, "--out", tmp_path / "site")
    assert code == 2
    assert "onnxruntime-web was not found" in text and "ort.wasm.min.mjs" in text
    assert "npm ci --prefix examples/web" in text and "--ort-dist" in text
    assert "Traceback" not in text and not (tmp_path / "site").exists()


@pytest.mark.parametrize("what", ["user", "site+user"])
def test_a_folder_of_someone_else_is_refused_and_kept(tmp_path, ort_dist, what):
    out = tmp_path / "site"
    if what == "site+user":
        assert web(BUNDLE, "--out", out, "--ort-dist", ort_dist)[0] == 0
    out.mkdir(exist_ok=True)
    (out / "notes.txt").write_text("mine")
    before = _tree(out)
    code, text = web(BUNDLE, "--out", out, "--ort-dist", ort_dist)
    assert code == 2, text
    assert "notes.txt" in text and "Nothing was written" in text and "Traceback" not in text
    assert _tree(out) == before


def test_a_tampered_bundle_is_refused_before_anything_is_written(tmp_path, ort_dist):
    bad = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bad)
    data = bytearray((bad / "scorer.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bad / "scorer.onnx").write_bytes(bytes(data))
    code, text = web(bad, "--out", tmp_path / "site", "--ort-dist", ort_dist)
    assert code == 1, text
    assert "scorer.onnx" in text and "sha256" in text and "Traceback" not in text
    assert not (tmp_path / "site").exists()


def test_a_bad_bundle_path(tmp_path, ort_dist):
    code, text = web(tmp_path / "missing", "--out", tmp_path / "site", "--ort-dist", ort_dist)
    assert code == 2 and "does not exist" in text
    (tmp_path / "empty").mkdir()
    code, text = web(tmp_path / "empty", "--out", tmp_path / "site", "--ort-dist", ort_dist)
    assert code == 1 and "manifest.json" in text and "Traceback" not in text  # BundleNotFoundError, as aeruntime
    assert not (tmp_path / "site").exists()


def test_the_site_cannot_be_the_bundle(tmp_path, ort_dist):
    copy = tmp_path / "bundle"
    shutil.copytree(BUNDLE, copy)
    code, text = web(copy, "--out", copy, "--ort-dist", ort_dist)
    assert code == 2 and "input" in text


def test_every_page_file_ships_as_package_data():
    """A non-editable install has the page: pyproject's package-data globs cover every file of it."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")
    cfg = tomllib.loads((MODELS.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "aeexport.web" in cfg["packages"]
    globs = cfg["package-data"]["aeexport.web"]
    files = [p.relative_to(PAGE_DIR.parent).as_posix() for p in PAGE_DIR.rglob("*") if p.is_file()]
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), (files, globs)


# ----------------------------------------------------------------------------- the corpus cases the page is never served
SPECIAL = [c for c in BUNDLE_CASES if not c.web]


@pytest.mark.parametrize("case", SPECIAL, ids=lambda c: c.name)
def test_the_site_writer_copies_no_link_fifo_or_device(tmp_path, ort_dist, case):
    """The corpus cases a site cannot hold (links, FIFOs, devices): ``aeexport web`` refuses the bundle (exit 1,
    nothing written) or, where they are unlisted, copies only the listed regular files."""
    root = forged(case, tmp_path / "corpus")
    out = tmp_path / "site"
    code, text = web(root, "--out", out, "--ort-dist", ort_dist)
    if case.code is not None:
        assert code == 1 and "Error: " in text, text
        assert "is not a regular file" in text or "outside the bundle" in text, text
        assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)]
    else:
        assert code == 0, text
        copied = {p.relative_to(out / "bundle").as_posix() for p in (out / "bundle").rglob("*") if p.is_file()}
        assert copied == {"manifest.json", *json.loads((root / "manifest.json").read_text())["files"]}
        assert not [p for p in (out / "bundle").rglob("*") if p.is_symlink()]
