"""Issue 32, causes 2-4: only listed regular files are opened; every output is atomic; ownership is proven.

- ``aeexport verify`` opens the golden files the manifest lists, never a glob of ``test_data/``:
  an unlisted FIFO there is never opened; a malformed listed ``.pb`` is a typed one-line error.
- ``--plot`` goes through the atomic writer: a write that fails (no space left) leaves the old
  PNG intact and no temporary file behind.
- A folder is replaced only when it is provably ours: another tool's ``manifest.json`` with
  ``format_version`` and ``files`` does not make it ours, a listed file changed since we wrote
  it does not either, and a user's file beside our bundle is never deleted.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from aeexport.cli import main as aeexport_main
from aeruntime.cli import main as rt_main
from aeruntime.fs.atomic import TMP_PREFIX
from tests.conftest import SUBPROCESS_ENV
from tests.helpers import read_manifest, rehash

BUG = "this is a bug"


def _tree(path):
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- cause 4: ownership
def _foreign(out):
    """A folder of another tool: a manifest.json with format_version and files, and the user's data."""
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"format_version": "1.0", "files": {"data.csv": "0" * 64}}))
    (out / "data.csv").write_text("a,b\n1,2\n")


def _changed(out, bundle):
    shutil.copytree(bundle, out)
    (out / "README.txt").unlink(missing_ok=True)
    with open(out / "test_data" / "scorer" / "test_data_set_0" / "input_0.pb", "ab") as fh:
        fh.write(b"\0")  # the user's edit: no longer what we wrote


def _user_file(out, bundle):
    shutil.copytree(bundle, out)
    (out / "data.csv").write_text("a,b\n1,2\n")


@pytest.mark.parametrize(
    ("layout", "pattern"),
    [
        ("foreign", r"is not empty and is not a bundle written by aeexport .*data\.csv"),
        ("changed", r"is not empty and is not a bundle written by aeexport \(manifest\.json by aeexport, every sha256"),
        ("user-file", r"holds a bundle written by aeexport .* 1 file\(s\) it did not write: data\.csv"),
    ],
)
@pytest.mark.parametrize("command", ["slim {bundle} --out {out}", "quantize {bundle} --fp16 --out {out}"])
def test_a_folder_that_is_not_provably_ours_is_refused(tmp_path, bundle_copy, layout, pattern, command):
    out = tmp_path / "out"
    {"foreign": lambda: _foreign(out), "changed": lambda: _changed(out, bundle_copy)}.get(
        layout, lambda: _user_file(out, bundle_copy)
    )()
    before = _tree(out)
    r = CliRunner().invoke(aeexport_main, command.format(bundle=bundle_copy, out=out).split())
    assert r.exit_code == 2, r.output
    assert "Error: " in r.output and __import__("re").search(pattern, r.output), r.output
    assert _tree(out) == before  # nothing of the user's deleted or changed
    assert not list(tmp_path.rglob(f"{TMP_PREFIX}*"))


def test_our_unchanged_bundle_is_replaced(tmp_path, bundle_copy):
    out = tmp_path / "out"
    assert CliRunner().invoke(aeexport_main, ["slim", str(bundle_copy), "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(aeexport_main, ["slim", str(bundle_copy), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert read_manifest(out)["bundle_id"] == read_manifest(bundle_copy)["bundle_id"]


# ----------------------------------------------------------------------------- cause 3: atomic plots
def test_plot_write_that_fails_keeps_the_old_png_and_leaves_no_half_file(
    tmp_path, dense_bundle, digits_split, monkeypatch
):
    data = tmp_path / "test.npz"
    np.savez(data, X=digits_split.test, y=digits_split.y_test)
    png = tmp_path / "eval.png"
    png.write_bytes(b"the old figure")
    real_fsync = os.fsync

    def full(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(TMP_PREFIX):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    r = CliRunner().invoke(aeexport_main, ["evaluate", str(dense_bundle), str(data), "--plot", str(png)])
    assert r.exit_code == 1, r.output
    assert "no space left" in r.output.lower() and BUG not in r.output, r.output
    assert png.read_bytes() == b"the old figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.png", "test.npz"]


@pytest.mark.parametrize("bad", ["{data}", "{tmp}/x.png/"])
def test_plot_follows_the_output_rule(tmp_path, dense_bundle, digits_split, bad):
    data = tmp_path / "test.npz"
    np.savez(data, X=digits_split.test, y=digits_split.y_test)
    r = CliRunner().invoke(
        aeexport_main, ["evaluate", str(dense_bundle), str(data), "--plot", bad.format(data=data, tmp=tmp_path)]
    )
    assert r.exit_code == 2 and BUG not in r.output, r.output


def test_out_with_a_trailing_slash_is_refused(tmp_path, dense_bundle, digits):
    rows = tmp_path / "rows.npy"
    np.save(rows, digits[0][:20])
    r = CliRunner().invoke(rt_main, ["score", str(dense_bundle), str(rows), "--out", f"{tmp_path}/x.csv/"])
    assert r.exit_code == 2, r.output
    assert "ends with a slash, which names a directory" in r.output
    assert not (tmp_path / "x.csv").exists()


# ----------------------------------------------------------------------------- cause 2: listed files only
def test_verify_never_opens_an_unlisted_fifo_or_junk(bundle_copy):
    case = bundle_copy / "test_data" / "scorer" / "test_data_set_7"
    case.mkdir()
    os.mkfifo(case / "output_0.pb")  # a glob would open it and block forever
    (bundle_copy / "test_data" / "scorer" / "test_data_set_0" / "output_9.pb").write_bytes(b"\xff" * 16)
    res = subprocess.run(
        [sys.executable, "-m", "aeexport", "verify", str(bundle_copy)],
        capture_output=True, text=True, timeout=240, env=SUBPROCESS_ENV, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "test_data_set_7" not in res.stdout and "output_9" not in res.stdout


@pytest.mark.parametrize("cli", ["aeexport", "aeruntime"])
def test_malformed_listed_golden_file_is_a_typed_error(bundle_copy, cli):
    bad = bundle_copy / "test_data" / "scorer" / "test_data_set_0" / "output_0.pb"
    bad.write_bytes(b"\x0a\x05abc")  # hash re-recorded below: only the reader can refuse it
    rehash(bundle_copy)
    main = aeexport_main if cli == "aeexport" else rt_main
    r = CliRunner().invoke(main, ["verify", str(bundle_copy)])
    assert r.exit_code == 1, r.output
    assert "golden file 'test_data/scorer/test_data_set_0/output_0.pb' is not a valid TensorProto" in r.output
    assert BUG not in r.output and "Traceback" not in r.output
