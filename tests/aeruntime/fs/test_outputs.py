"""The one overwrite rule of every output (issue 19, class 1): nothing we did not write is deleted.

Directory outputs (bundles, checkpoints, run folders, Spark tables) are checked by
``aeruntime.fs.check_output_dir``; file outputs by ``check_output_file``; stale
temporaries of a killed write are removed by the next write (a SIGKILLed subprocess).
Torch-free.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aeruntime.cli import main as aeruntime_main
from aeruntime.errors import InvalidInputError
from aeruntime.format.writer import copy_bundle
from aeruntime.fs import check_output_dir, marker_digests
from aeruntime.fs.atomic import TMP_PREFIX, _tmp_prefix, atomic_directory, remove_stale
from aeruntime.fs.outputs import SPARK_MARKER, spark_marker
from aeruntime.tables import write_scores
from tests.conftest import SUBPROCESS_ENV

CKPT = {"format": "aeexport-checkpoint/1", "kind": "dense"}
SUMMARY = {"dataset": "digits", "bundle": "b", "out": "o", "written_by": "aeexport run", "sha256": {}}


def _make(root: Path, layout: str, bundle: Path) -> Path:
    """A directory output ``root/out`` in one of the layouts of the table below."""
    out = root / "out"
    if layout == "empty":
        out.mkdir()
    elif layout.startswith("bundle"):
        shutil.copytree(bundle, out)
    elif layout.startswith("checkpoint"):
        out.mkdir()
        (out / "model.safetensors").write_bytes(b"w")
        (out / "config.json").write_text(json.dumps({**CKPT, "sha256": marker_digests(out, ["model.safetensors"])}))
    elif layout.startswith("spark"):
        out.mkdir()
        (out / "part-0.parquet").write_bytes(b"p")
        (out / "_SUCCESS").write_bytes(b"")
        (out / SPARK_MARKER).write_bytes(spark_marker(out, ["part-0.parquet", "_SUCCESS"]))
    elif layout.startswith("run"):
        out.mkdir()
        (out / "summary.json").write_text(json.dumps(SUMMARY))
    elif layout == "user":
        out.mkdir()
        (out / "data.csv").write_text("1,2\n")
        (out / "notes.txt").write_text("mine")
    elif layout == "foreign-manifest":
        out.mkdir()
        (out / "manifest.json").write_text('{"name": "someone else"}')
    elif layout == "file":
        out.write_text("a file")
    elif layout == "symlink":
        (root / "real").mkdir()
        out.symlink_to(root / "real")
    if layout.endswith("+user"):
        (out / "sub").mkdir(exist_ok=True)
        (out / "sub" / "keep.txt").write_text("mine")
    return out


# (layout, kind, None = accepted | a pattern of the refusal)
DIR_CASES = [
    ("new", "bundle", None),
    ("empty", "bundle", None),
    ("bundle", "bundle", None),
    ("bundle+user", "bundle", r"holds a bundle written by aeexport .* and 1 file\(s\) it did not write: sub/keep.txt"),
    ("user", "bundle", r"is not empty and is not a bundle .*: it holds data.csv, notes.txt\. Nothing was written"),
    ("foreign-manifest", "bundle", r"is not empty and is not a bundle written by aeexport"),
    ("file", "bundle", r"is a file; --out names a directory"),
    ("symlink", "bundle", r"is a symbolic link; pass the directory it points to"),
    ("bundle", "checkpoint", r"is not a checkpoint written by `aeexport train`"),
    ("checkpoint", "checkpoint", None),
    ("checkpoint+user", "checkpoint", r"1 file\(s\) it did not write: sub/keep.txt"),
    ("spark", "spark", None),
    ("spark+user", "spark", r"holds a table written by `aeruntime spark score` .*: sub/keep.txt"),
    ("user", "spark", r"is not a table written by `aeruntime spark score` \(_aeruntime.json, every sha256 matching\)"),
    ("run", "run", None),
    ("run+user", "run", None),  # a run folder is never replaced as a whole: its other files are kept
    ("user", "run", r"is not a folder written by `aeexport run`"),
]


@pytest.mark.parametrize(("layout", "kind", "refusal"), DIR_CASES, ids=[f"{k}-{layout}" for layout, k, _ in DIR_CASES])
def test_directory_rule(tmp_path, shipped_dense, layout, kind, refusal):
    out = _make(tmp_path, layout, shipped_dense)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    if refusal is None:
        check_output_dir(out, kind)
    else:
        with pytest.raises(InvalidInputError, match=refusal) as exc:
            check_output_dir(out, kind)
        assert str(out) in str(exc.value) and TMP_PREFIX not in str(exc.value)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before  # nothing touched


def test_run_folder_checks_its_checkpoint_and_bundle(tmp_path):
    out = _make(tmp_path, "run", tmp_path)
    (out / "checkpoint").mkdir()
    (out / "checkpoint" / "mine.txt").write_text("x")
    with pytest.raises(InvalidInputError, match=r"checkpoint' is not empty and is not a checkpoint"):
        check_output_dir(out, "run")


def test_slim_copy_refuses_a_folder_with_user_files_and_keeps_them(tmp_path, shipped_dense):
    out = _make(tmp_path, "user", shipped_dense)
    with pytest.raises(InvalidInputError, match=r"is not empty and is not a bundle"):
        copy_bundle(shipped_dense, out, omit=["weights.safetensors"])
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)]


def test_slim_copy_over_our_bundle_replaces_it_and_refuses_its_own_source(tmp_path, shipped_dense):
    out = _make(tmp_path, "bundle", shipped_dense)
    m = copy_bundle(shipped_dense, out, omit=["weights.safetensors"])
    assert not (out / "weights.safetensors").exists() and "weights.safetensors" in m["omitted"]
    with pytest.raises(InvalidInputError, match=r"is the input of this command"):
        copy_bundle(out, out, omit=[])


def _cli(*args):
    return CliRunner().invoke(aeruntime_main, [*map(str, args)])


@pytest.fixture
def rows_npy(tmp_path, synthetic_digits) -> Path:
    path = tmp_path / "rows.npy"
    np.save(path, synthetic_digits[0][:50])
    return path


# (command, how --out names the input): every one refused before anything is read, input intact
SAME_CASES = [
    ("score", "same"),
    ("score", "hardlink"),
    ("score", "symlink"),
    ("score", "relative"),
    ("encode", "hardlink"),
    ("reconstruct", "symlink"),
]


@pytest.mark.parametrize(("command", "how"), SAME_CASES)
def test_out_that_is_the_input_is_refused(tmp_path, shipped_dense, rows_npy, command, how, monkeypatch):
    before = rows_npy.read_bytes()
    out = rows_npy
    if how == "hardlink":
        out = tmp_path / "link.npy"
        os.link(rows_npy, out)
    elif how == "symlink":
        out = tmp_path / "link.npy"
        out.symlink_to(rows_npy)
    elif how == "relative":
        monkeypatch.chdir(tmp_path)
        out = Path("sub/../rows.npy")
        (tmp_path / "sub").mkdir()
    r = _cli(command, shipped_dense, rows_npy, "--out", out)
    assert r.exit_code == 2, r.output
    assert f"--out {str(out)!r} is the input file {str(rows_npy)!r}" in r.output
    assert "Nothing was read" in r.output
    assert rows_npy.read_bytes() == before


def test_an_existing_output_file_is_replaced(tmp_path, shipped_dense, rows_npy):
    out = tmp_path / "scores.npy"
    out.write_bytes(b"old")
    r = _cli("score", shipped_dense, rows_npy, "--out", out)
    assert r.exit_code == 0, r.output
    assert len(np.load(out, allow_pickle=False)) == 50


def test_an_output_file_that_is_a_directory_is_refused(tmp_path, shipped_dense, rows_npy):
    (tmp_path / "scores.npy").mkdir()
    r = _cli("score", shipped_dense, rows_npy, "--out", tmp_path / "scores.npy")
    assert r.exit_code == 2 and "is a directory" in r.output  # click's own check, before ours
    with pytest.raises(InvalidInputError, match=r"is a directory; --out names a file"):
        write_scores(tmp_path / "scores.npy", np.ones(2, np.float32), np.ones(2, np.int8))


# --- kill -9 -------------------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from aeruntime.tables import open_sink
    with open_sink(sys.argv[1]) as sink:
        for i in range(10_000):
            sink.write(np.full(100_000, i, np.float32), np.zeros(100_000, np.int8))
            if i == 2:
                print("writing", flush=True)
            time.sleep(0.01)
    """
)


def _dead_pid() -> int:
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(p.stdout)


def _ours(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f"{TMP_PREFIX}{target.name}-*"))


def test_kill_9_during_a_score_write_leaves_the_old_file_and_the_next_write_cleans_up(tmp_path):
    target = tmp_path / "scores.npy"
    write_scores(target, np.arange(5, dtype=np.float32), np.zeros(5, np.int8))
    old = target.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True, env=SUBPROCESS_ENV
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == old  # the old complete file, nothing partial
    stale = _ours(target)
    assert stale and all(p.stat().st_size > 0 for p in stale)  # the killed writer's body file
    live = Path(str(tmp_path / _tmp_prefix(target.name)) + "livewriter")  # a running writer's (ours: alive)
    live.write_bytes(b"in progress")
    write_scores(target, np.ones(7, np.float32), np.ones(7, np.int8))
    assert len(np.load(target, allow_pickle=False)) == 7
    assert _ours(target) == [live]  # the dead writer's temporaries are gone, the live one's stays


def test_a_killed_directory_write_is_cleaned_and_a_renamed_aside_target_put_back(tmp_path):
    target = tmp_path / "bundle"
    dead = _dead_pid()
    prefix = _tmp_prefix(target.name).replace(f"-{os.getpid()}-", f"-{dead}-")
    (tmp_path / f"{prefix}abc123").mkdir()  # a killed write's temporary
    aside = tmp_path / f"{prefix}old-xyz789"
    aside.mkdir()  # a killed swap that had renamed the old target aside
    (aside / "manifest.json").write_text("{}")
    other_host = tmp_path / f"{TMP_PREFIX}bundle-00000000-{dead}-abc123"
    other_host.mkdir()
    remove_stale(target)
    assert (target / "manifest.json").is_file()  # the old bundle is back at its name
    assert _ours(target) == [other_host]  # another host's temporary: its pid cannot be checked here
    with atomic_directory(target) as tmp:
        (tmp / "x").write_text("new")
    assert (target / "x").read_text() == "new" and _ours(target) == [other_host]


# (--out of `aeruntime spark score`, layout, None = accepted | the refusal): checked before Spark starts
SPARK_CASES = [
    ("hdfs://nn/scored", "new", None),  # remote: cannot be inspected, Spark's own --overwrite rule
    ("{out}", "spark", None),
    ("file://{out}", "spark", None),
    ("{out}", "user", r"is not a table written by `aeruntime spark score`"),
    ("{out}", "input", r"is the input of this command"),
]


@pytest.mark.parametrize(("out", "layout", "refusal"), SPARK_CASES)
def test_spark_local_out_follows_the_rule(tmp_path, shipped_dense, out, layout, refusal):
    pytest.importorskip("pyarrow", reason="needs pyarrow: Parquet needs aeruntime[tables]")
    from aeruntime.spark.cli import _local_target

    made = _make(tmp_path, "spark" if layout == "input" else layout, shipped_dense)
    out = out.format(out=made)
    inputs = (str(made) if layout == "input" else str(tmp_path / "in.parquet"), str(shipped_dense))
    if refusal is None:
        target = _local_target(out, False, inputs)
        assert (target is None) == out.startswith("hdfs://")
    else:
        with pytest.raises(InvalidInputError, match=refusal):
            _local_target(out, False, inputs)


def test_a_file_added_during_a_write_stops_the_swap(tmp_path, shipped_dense):
    out = _make(tmp_path, "bundle", shipped_dense)
    with pytest.raises(InvalidInputError, match=r"1 file\(s\) it did not write: late.txt"):
        with atomic_directory(out, kind="bundle") as tmp:
            (tmp / "manifest.json").write_text("{}")
            (out / "late.txt").write_text("added while we wrote")
    assert (out / "late.txt").is_file() and (out / "manifest.json").read_bytes() == (
        shipped_dense / "manifest.json"
    ).read_bytes()
    assert not list(tmp_path.glob(f"{TMP_PREFIX}*"))
