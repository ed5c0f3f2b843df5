"""``examples/c/rootfs.sh`` never deletes a folder it did not make (``$AEEXPORT_ROOTFS`` is the user's to choose)."""

from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import ROOTFS_SH, _trixie_host

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or _trixie_host(),
    reason="the rebuild path runs only as root off Debian 13 (on Debian 13 the host is used and no folder is made)",
)


@pytest.mark.parametrize("where", ["root", "partial"])
def test_a_foreign_folder_is_refused_not_deleted(tmp_path, where):
    root = tmp_path / "rootfs"
    theirs = root if where == "root" else tmp_path / "rootfs.partial"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep me")
    res = subprocess.run(
        ["bash", str(ROOTFS_SH), "path"],
        env={**os.environ, "AEEXPORT_ROOTFS": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 1, res.stderr
    assert f"{theirs} exists and was not made by" in res.stderr and "nothing was changed" in res.stderr
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]
    assert (theirs / "notes.txt").read_text() == "keep me"
