"""Ownership that cannot be faked by accident (issue 32, cause 4): the unit rule of ``check_output_dir``.

A bundle folder is ours only when its manifest's producer is aeexport and every listed file
still has its sha256; a site or a package only when its marker lists every file with a sha256
that still matches. Anything else is refused, naming the folder and what to do.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from aeruntime.errors import InvalidInputError
from aeruntime.fs import PACKAGE_MARKER, SITE_MARKER, check_output_dir, marker_digests


def _bundle(d, producer):
    d.mkdir()
    (d / "scorer.onnx").write_bytes(b"graph")
    files = {"scorer.onnx": hashlib.sha256(b"graph").hexdigest()}
    (d / "manifest.json").write_text(json.dumps({"format_version": "1.0", "files": files, "producer": producer}))


def _marked(d, marker, writer, hashed=True):
    d.mkdir()
    (d / "index.html").write_text("<html></html>")
    m = {"written_by": writer, "files": ["index.html"]}
    if hashed:
        m["sha256"] = marker_digests(d, ["index.html"])
    (d / marker).write_text(json.dumps(m))


def test_our_bundle_with_matching_hashes_is_ours(tmp_path):
    _bundle(tmp_path / "b", {"aeexport": "0.1.0"})
    check_output_dir(tmp_path / "b", "bundle")  # no refusal


@pytest.mark.parametrize("producer", [None, "other-tool 2.0", {"sklearn": "1.5"}])
def test_a_manifest_not_produced_by_aeexport_is_not_ours(tmp_path, producer):
    _bundle(tmp_path / "b", producer)
    with pytest.raises(InvalidInputError, match=r"--out '.*b' is not empty and is not a bundle written by aeexport"):
        check_output_dir(tmp_path / "b", "bundle")


def test_a_bundle_whose_listed_file_changed_is_not_ours(tmp_path):
    _bundle(tmp_path / "b", {"aeexport": "0.1.0"})
    (tmp_path / "b" / "scorer.onnx").write_bytes(b"the user's edit")
    with pytest.raises(InvalidInputError, match=r"every sha256 matching.*choose another --out, or empty or remove"):
        check_output_dir(tmp_path / "b", "bundle")


@pytest.mark.parametrize(
    ("kind", "marker", "writer"),
    [("site", SITE_MARKER, "aeexport web"), ("package", PACKAGE_MARKER, "aeexport package")],
)
def test_a_marker_needs_matching_hashes(tmp_path, kind, marker, writer):
    _marked(tmp_path / "ok", marker, writer)
    check_output_dir(tmp_path / "ok", kind)
    _marked(tmp_path / "old", marker, writer, hashed=False)
    with pytest.raises(InvalidInputError, match=r"is not empty and is not a"):
        check_output_dir(tmp_path / "old", kind)
    _marked(tmp_path / "edited", marker, writer)
    (tmp_path / "edited" / "index.html").write_text("mine now")
    with pytest.raises(InvalidInputError, match=r"is not empty and is not a"):
        check_output_dir(tmp_path / "edited", kind)
