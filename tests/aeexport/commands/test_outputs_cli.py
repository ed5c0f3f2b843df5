"""aeexport never deletes what it did not write (issue 19, class 1): --out/--bundle folders and files.

Every refusal is exit 2 with the path given, what is there and the fix, before any work
(no training, no export); the user's files are intact afterwards. A bundle, checkpoint
or run folder of ours is replaced (a run folder keeps the user's other files).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aeexport.cli import main as aeexport_main
from aeruntime.fs.atomic import TMP_PREFIX


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, dense_trained, digits_split) -> Path:
    from aeexport.train import save_checkpoint

    out = tmp_path_factory.mktemp("ckpt") / "ckpt"
    save_checkpoint(out, dense_trained.model, holdout=digits_split.val[:300], summary=dense_trained.summary())
    return out


@pytest.fixture
def rows(tmp_path, digits) -> Path:
    path = tmp_path / "rows.npy"
    np.save(path, digits[0][:200])
    return path


def _user_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "notes.txt").write_text("mine")
    return path


def _tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _layout(tmp_path: Path, what: str, ctx: dict[str, Path]) -> Path:
    """Build the --out of one table row; ``ctx`` holds the inputs (checkpoint, bundle, rows)."""
    out = tmp_path / "out"
    if what == "user":
        _user_dir(out)
    elif what == "bundle+user":
        shutil.copytree(ctx["bundle"], out)
        _user_dir(out / "extra")
    elif what == "checkpoint+user":
        shutil.copytree(ctx["checkpoint"], out)
        (out / "notes.txt").write_text("mine")
    elif what == "bundle":
        shutil.copytree(ctx["bundle"], out)
    elif what == "file":
        out.write_text("a file of the user's")
    elif what == "run/user-bundle":
        out.mkdir()
        (out / "summary.json").write_text(json.dumps({"dataset": "d", "written_by": "aeexport run", "sha256": {}}))
        _user_dir(out / "bundle")
    elif what == "run/forged-summary":  # the keys of our summary, but no hashes: not provably ours
        out.mkdir()
        (out / "summary.json").write_text(json.dumps({"dataset": "d", "bundle": "b", "out": "o"}))
        (out / "test_scores.npz").write_bytes(b"the user's")
    elif what in ("hardlink", "symlink"):
        out = tmp_path / "rows-link.npy"
        os.link(ctx["rows"], out) if what == "hardlink" else out.symlink_to(ctx["rows"])
    return out


# (command with {ckpt} {bundle} {rows} {out} placeholders, --out layout, the refusal's pattern)
REFUSED = [
    ("export {ckpt} --out {out}", "user", r"is not empty and is not a bundle written by aeexport .*notes.txt"),
    ("export {ckpt} --out {out}", "bundle+user", r"holds a bundle .* 1 file\(s\) it did not write: extra/notes.txt"),
    ("export {ckpt} --out {out}", "checkpoint+user", r"is not a bundle written by aeexport"),
    ("export {ckpt} --out {ckpt}", "none", r"is the input of this command"),
    ("train {rows} --out {out} --epochs 50", "user", r"is not a checkpoint written by `aeexport train`"),
    ("train {rows} --out {out} --epochs 50", "bundle", r"is not a checkpoint written by `aeexport train`"),
    ("train {rows} --out {out} --epochs 50", "checkpoint+user", r"1 file\(s\) it did not write: notes.txt"),
    ("train {rows} --out {rows}", "none", r"is a file"),  # click's file_okay=False, then ours
    ("train {rows} --out {out}", "hardlink", r"is a file"),
    ("train {rows} --out {out}", "symlink", r"is a file"),
    ("run {rows} --out {out} --epochs 50", "user", r"is not a folder written by `aeexport run`"),
    ("run {rows} --out {out} --epochs 50", "run/user-bundle", r"bundle' is not empty and is not a bundle"),
    ("run {rows} --out {out} --epochs 50", "run/forged-summary", r"is not a folder written by `aeexport run`"),
    ("run {rows} --out {tmp}/new --bundle {out} --epochs 50", "user", r"--bundle .* is not a bundle written by"),
    ("slim {bundle} --out {out}", "user", r"is not empty and is not a bundle"),
    ("quantize {bundle} --fp16 --out {out}", "user", r"is not empty and is not a bundle"),
    ("report {bundle} {rows} --out {out}", "hardlink", r"is the input file .* Nothing was read"),
    ("report {bundle} {rows} --out {out}", "symlink", r"is the input file"),
]


@pytest.mark.parametrize(("command", "layout", "pattern"), REFUSED)
def test_refused_before_any_work_and_nothing_of_the_user_is_touched(
    runner, tmp_path, checkpoint, bundle_copy, rows, command, layout, pattern
):
    ctx = {"checkpoint": checkpoint, "bundle": bundle_copy, "rows": rows}
    out = _layout(tmp_path, layout, ctx)
    watched = [p for p in (out, checkpoint, bundle_copy, rows) if p.exists()]
    before = [_tree(p) if p.is_dir() else p.read_bytes() for p in watched]
    args = command.format(ckpt=checkpoint, bundle=bundle_copy, rows=rows, out=out, tmp=tmp_path).split()
    t0 = time.perf_counter()
    r = runner.invoke(aeexport_main, args)
    assert r.exit_code == 2, r.output
    assert "Error: " in r.output and re.search(pattern, r.output), r.output
    assert time.perf_counter() - t0 < 5  # refused before training (50 epochs would take longer)
    assert [_tree(p) if p.is_dir() else p.read_bytes() for p in watched] == before
    assert not list(tmp_path.rglob(f"{TMP_PREFIX}*"))


def test_export_replaces_our_bundle(runner, tmp_path, checkpoint, bundle_copy):
    old = json.loads((bundle_copy / "manifest.json").read_text())
    r = runner.invoke(aeexport_main, ["export", str(checkpoint), "--out", str(bundle_copy), "--slim"])
    assert r.exit_code == 0, r.output
    new = json.loads((bundle_copy / "manifest.json").read_text())
    assert new != old and "weights.safetensors" in new["omitted"]
    assert not (bundle_copy / "weights.safetensors").exists()


def test_train_replaces_our_checkpoint(runner, tmp_path, rows, checkpoint):
    out = tmp_path / "ckpt"
    shutil.copytree(checkpoint, out)
    r = runner.invoke(aeexport_main, ["train", str(rows), "--out", str(out), "--epochs", "1", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "config.json").read_text())["dataset"]["rows"] == 200


def test_run_over_our_run_folder_keeps_the_users_other_files(runner, tmp_path, rows):
    out = tmp_path / "run"
    first = runner.invoke(aeexport_main, ["run", str(rows), "--out", str(out), "--epochs", "1", "--json"])
    assert first.exit_code == 0, first.output
    (out / "my-notes.txt").write_text("mine")
    again = runner.invoke(aeexport_main, ["run", str(rows), "--out", str(out), "--epochs", "1", "--json"])
    assert again.exit_code == 0, again.output
    assert (out / "my-notes.txt").read_text() == "mine"
    assert {p.name for p in out.iterdir()} >= {"summary.json", "checkpoint", "bundle", "my-notes.txt"}
