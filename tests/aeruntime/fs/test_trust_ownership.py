"""Ownership that cannot be faked by accident (issue 32, cause 4): the unit rule of ``check_output_dir``.

A bundle folder is ours only when its manifest's producer is aeexport and every listed file
still has its sha256; a site, a package, a Spark table, a checkpoint or a run folder only when
its marker lists every file with a sha256 that still matches. Anything else is refused, naming the folder and what to do.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from aeruntime.errors import InvalidInputError
from aeruntime.fs import (
    PACKAGE_MARKER,
    SITE_MARKER,
    SPARK_MARKER,
    atomic_directory,
    check_output_dir,
    marker_digests,
    spark_marker,
)


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


# ----------------------------------------------------------------------------- Spark tables, checkpoints, runs
def _spark_table(d):
    """A local table as ``aeruntime spark score`` leaves it: many parts, their sha256 in the marker."""
    d.mkdir()
    parts = [f"part-{i:05d}.parquet" for i in range(12)] + ["_SUCCESS"]
    for i, name in enumerate(parts):
        (d / name).write_bytes(f"rows of part {i}".encode())
    (d / SPARK_MARKER).write_bytes(spark_marker(d, parts))
    return parts


def _checkpoint(d):
    d.mkdir()
    (d / "model.safetensors").write_bytes(b"weights")
    (d / "holdout.safetensors").write_bytes(b"rows")
    digests = marker_digests(d, ["model.safetensors", "holdout.safetensors"])
    (d / "config.json").write_text(json.dumps({"format": "aeexport-checkpoint/1", "sha256": digests}))


def _run(d):
    d.mkdir()
    (d / "test_scores.npz").write_bytes(b"scores")
    summary = {"dataset": "digits", "written_by": "aeexport run", "sha256": marker_digests(d, ["test_scores.npz"])}
    (d / "summary.json").write_text(json.dumps(summary))


def _no_hashes(d, marker):
    m = json.loads((d / marker).read_text())
    del m["sha256"]
    (d / marker).write_text(json.dumps(m))


def _wrong_hash(d, marker):
    m = json.loads((d / marker).read_text())
    first = sorted(m["sha256"])[0]
    m["sha256"][first] = hashlib.sha256(b"something else").hexdigest()
    (d / marker).write_text(json.dumps(m))


def _extra_file(d, marker):
    (d / "notes.txt").write_text("mine")


def _edited_part(d, marker):
    name = sorted(m for m in json.loads((d / marker).read_text())["sha256"])[0]
    (d / name).write_bytes(b"the user's own bytes")


def _tree(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


OWNED = {
    "spark": (_spark_table, SPARK_MARKER),
    "checkpoint": (_checkpoint, "config.json"),
    "run": (_run, "summary.json"),
}
FORGERIES = {
    "no-hashes": (_no_hashes, r"is not empty and is not a .* every sha256 matching"),
    "wrong-hash": (_wrong_hash, r"is not empty and is not a .* every sha256 matching"),
    "edited-file": (_edited_part, r"is not empty and is not a .* every sha256 matching"),
    "extra-user-file": (_extra_file, r"1 file\(s\) it did not write: notes.txt; replacing it would delete them"),
}


@pytest.mark.parametrize("kind", sorted(OWNED))
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_or_edited_marker_is_refused_and_nothing_is_deleted(tmp_path, kind, forgery):
    make, marker = OWNED[kind]
    edit, pattern = FORGERIES[forgery]
    out = tmp_path / "out"
    make(out)
    edit(out, marker)
    before = _tree(out)
    if kind == "run" and forgery == "extra-user-file":  # a run folder keeps the user's other files
        check_output_dir(out, kind)
        return
    with pytest.raises(InvalidInputError, match=pattern):
        with atomic_directory(out, kind=kind) as tmp:
            (tmp / "new.txt").write_text("x")
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left


@pytest.mark.parametrize("kind", ["spark", "checkpoint"])
def test_our_own_previous_output_is_replaced(tmp_path, kind):
    make, marker = OWNED[kind]
    out = tmp_path / "out"
    make(out)
    with atomic_directory(out, kind=kind) as tmp:
        (tmp / "part-0.parquet").write_bytes(b"new rows")
    assert _tree(out) == {"part-0.parquet": b"new rows"}


def test_the_spark_marker_lists_every_part_with_its_sha256(tmp_path):
    parts = _spark_table(tmp_path / "t")
    m = json.loads((tmp_path / "t" / SPARK_MARKER).read_text())
    assert m["files"] == sorted(parts) and m["written_by"] == "aeruntime spark"
    assert m["sha256"] == {p: hashlib.sha256((tmp_path / "t" / p).read_bytes()).hexdigest() for p in parts}


def test_a_run_folder_with_a_summary_we_cannot_prove_is_refused(tmp_path):
    out = tmp_path / "run"
    _run(out)
    check_output_dir(out, "run")  # ours
    (out / "summary.json").write_text(json.dumps({"dataset": "d", "bundle": "b", "out": "o"}))  # the old keys only
    with pytest.raises(InvalidInputError, match=r"is not empty and is not a folder written by `aeexport run`"):
        check_output_dir(out, "run")
