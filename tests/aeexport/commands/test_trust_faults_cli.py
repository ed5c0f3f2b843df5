"""Environment faults in ``aeexport`` are typed one-line errors, never "this is a bug" (issue 19, class 5).

The aeexport side of ``tests/aeruntime/test_trust_faults.py``: bundles (``export``),
checkpoints (``train``, :func:`aeexport.checkpoint.save_checkpoint`) and ``verify``, on a
full or read-only file system, with a path component that is a file, with truncated
checkpoint, bundle and data files. Each row has the exact exit code and message pattern;
nothing is left at the final path and no ``.aeexport-tmp-*`` entry stays beside it.

Disk full and read-only use a real 64 KiB ``tmpfs`` (root only: those rows skip with the
reason elsewhere) and, everywhere, an injection: ``ENOSPC`` from the bundle writer's file
writes or from safetensors (which reports it as ``... (os error 28)``), ``EACCES`` and
``EROFS`` from ``tempfile.mkdtemp`` (as root, ``chmod`` stops nothing).
"""

from __future__ import annotations

import errno
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aeexport.cli import main as ae_main
from aeruntime.errors import FileSystemError
from tests.aeruntime.test_trust_faults import _fill, _mount
from tests.conftest import SUBPROCESS_ENV

TMP = ".aeexport-tmp-"
BUG = "this is a bug"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, dense_trained, digits_split) -> Path:
    from aeexport.checkpoint import save_checkpoint

    out = tmp_path_factory.mktemp("ckpt") / "ckpt"
    save_checkpoint(out, dense_trained.model, holdout=digits_split.val, summary=dense_trained.summary())
    return out


@dataclass
class Env:
    tmp: Path
    checkpoint: Path
    bundle: Path
    rows: np.ndarray
    monkeypatch: pytest.MonkeyPatch
    mounts: list[Path]

    def tmpfs(self, options: str) -> Path:
        where = self.tmp / f"fs{len(self.mounts)}"
        _mount(where, options)
        self.mounts.append(where)
        return where

    def full(self) -> Path:
        where = self.tmpfs("size=64k")
        _fill(where)
        return where

    def inject(self, target: object, name: str, code: int) -> None:
        def fail(*args: object, **kwargs: object) -> None:
            raise OSError(code, os.strerror(code), str(self.tmp / f"{TMP}injected"))

        self.monkeypatch.setattr(target, name, fail)

    def damaged_checkpoint(self, name: str, keep: int) -> Path:
        dst = self.tmp / "damaged-ckpt"
        shutil.copytree(self.checkpoint, dst)
        (dst / name).write_bytes((dst / name).read_bytes()[:keep])
        return dst

    def damaged_bundle(self, name: str, keep: float) -> Path:
        dst = self.tmp / "damaged-bundle"
        shutil.copytree(self.bundle, dst)
        data = (dst / name).read_bytes()
        (dst / name).write_bytes(data[: int(len(data) * keep)])
        return dst

    def data(self, name: str) -> Path:
        p = self.tmp / name
        if name.endswith(".parquet"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({f"f{i}": self.rows[:, i] for i in range(self.rows.shape[1])}), p)
        else:
            np.save(p, np.asfortranarray(self.rows))
        return p

    def truncated(self, name: str) -> Path:
        p = self.data(name)
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        return p


@pytest.fixture
def env(tmp_path, checkpoint, dense_bundle, digits_split, monkeypatch):
    e = Env(tmp_path, checkpoint, dense_bundle, digits_split.train[:300], monkeypatch, [])
    yield e
    for where in reversed(e.mounts):
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def _safetensors_full(e: Env) -> None:
    """safetensors reports a full disk as a SafetensorError naming the OS error."""
    import aeexport.checkpoint as ck
    from safetensors import SafetensorError

    def fail(*args: object, **kwargs: object) -> None:
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    e.monkeypatch.setattr(ck, "save_file", fail)


def _write_bytes_full(e: Env) -> None:
    def fail(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))  # names our temporary directory

    e.monkeypatch.setattr(pathlib.Path, "write_bytes", fail)


def _export(e: Env, where: Path, ckpt: Path | None = None) -> list[str]:
    return ["export", str(ckpt or e.checkpoint), "--out", str(where / "b")]


def _train(e: Env, where: Path, data: Path | None = None) -> list[str]:
    return ["train", str(data or e.data("rows.npy")), "--out", str(where / "c"), "--epochs", "1", "-q"]


@dataclass(frozen=True)
class Fault:
    id: str
    args: Callable[[Env], list[str]]
    code: int
    pattern: str  # re.search in the error line
    out: Callable[[Env], Path | None] = lambda e: None  # must not exist after


ENOSPC = r"cannot write '.*/{}': no space left on the device \(ENOSPC\); free some space"
EROFS = r"cannot write '.*/{}': the file system is read-only \(EROFS\); choose a path on a writable"
FAULTS = [
    Fault("export-full-tmpfs", lambda e: _export(e, e.full()), 1, ENOSPC.format("b"), lambda e: e.mounts[0] / "b"),
    Fault(
        "export-enospc-injected",
        lambda e: (_write_bytes_full(e), _export(e, e.tmp))[1],
        1,
        ENOSPC.format("b"),
        lambda e: e.tmp / "b",
    ),
    Fault(
        "export-read-only-tmpfs",
        lambda e: _export(e, e.tmpfs("size=64k,ro")),
        1,
        EROFS.format("b"),
        lambda e: e.mounts[0] / "b",
    ),
    Fault(
        "export-read-only-injected",
        lambda e: (e.inject(tempfile, "mkdtemp", errno.EROFS), _export(e, e.tmp))[1],
        1,
        EROFS.format("b"),
        lambda e: e.tmp / "b",
    ),
    Fault(
        "export-permission-denied-injected",
        lambda e: (e.inject(tempfile, "mkdtemp", errno.EACCES), _export(e, e.tmp))[1],
        1,
        r"cannot write '.*/b': permission denied \(EACCES\); check the permissions",
        lambda e: e.tmp / "b",
    ),
    Fault(
        "export-out-parent-is-a-file",
        lambda e: (e.tmp.joinpath("afile").write_text("x"), _export(e, e.tmp / "afile"))[1],
        1,
        r"cannot write '.*afile/b': '.*afile' is a file, not a folder \(ENOTDIR\)",
    ),
    Fault("train-full-tmpfs", lambda e: _train(e, e.full()), 1, ENOSPC.format("c"), lambda e: e.mounts[0] / "c"),
    Fault(
        "train-enospc-from-safetensors",
        lambda e: (_safetensors_full(e), _train(e, e.tmp))[1],
        1,
        ENOSPC.format("c"),
        lambda e: e.tmp / "c",
    ),
    Fault(
        "train-read-only-tmpfs",
        lambda e: _train(e, e.tmpfs("size=64k,ro")),
        1,
        EROFS.format("c"),
        lambda e: e.mounts[0] / "c",
    ),
    Fault(
        "export-truncated-model-safetensors",
        lambda e: _export(e, e.tmp, e.damaged_checkpoint("model.safetensors", 100)),
        1,
        r"model\.safetensors' is not a readable safetensors file \(.*\); the checkpoint is truncated or damaged",
        lambda e: e.tmp / "b",
    ),
    Fault(
        "export-truncated-holdout-safetensors",
        lambda e: _export(e, e.tmp, e.damaged_checkpoint("holdout.safetensors", 200)),
        1,
        r"holdout\.safetensors' is not a readable safetensors file",
        lambda e: e.tmp / "b",
    ),
    Fault(
        "export-truncated-config-json",
        lambda e: _export(e, e.tmp, e.damaged_checkpoint("config.json", 40)),
        1,
        r"config\.json: not valid JSON",
        lambda e: e.tmp / "b",
    ),
    Fault(
        "train-on-a-directory",
        lambda e: _train(e, e.tmp / "out", e.tmp),
        2,
        r"input '.*' is a directory; expected a regular file",
    ),
    Fault(
        "train-on-truncated-fortran-npy",
        lambda e: _train(e, e.tmp / "out", e.truncated("rows.npy")),
        2,
        r"rows\.npy: cannot read it as \.npy .*truncated",
    ),
    Fault(
        "train-on-truncated-parquet",
        lambda e: _train(e, e.tmp / "out", e.truncated("rows.parquet")),
        2,
        r"rows\.parquet: not a readable Parquet file",
    ),
    Fault(
        "verify-truncated-onnx",
        lambda e: ["verify", str(e.damaged_bundle("encoder.onnx", 0.5))],
        1,
        r"encoder\.onnx has sha256 .* the file was modified or corrupted",
    ),
    Fault(
        "verify-truncated-weights",
        lambda e: ["verify", str(e.damaged_bundle("weights.safetensors", 0.5))],
        1,
        r"weights\.safetensors has sha256 .* the file was modified or corrupted",
    ),
    Fault(
        "verify-truncated-manifest",
        lambda e: ["verify", str(e.damaged_bundle("manifest.json", 0.5))],
        1,
        r"manifest\.json' is not valid JSON",
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault_is_a_typed_one_line_error(env, fault):
    res = CliRunner().invoke(ae_main, fault.args(env))
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert res.exit_code == fault.code, res.output
    assert len(errors) == 1, res.stderr
    assert BUG not in res.output
    assert TMP not in errors[0]  # the user's path, never our temporary name
    assert re.search(fault.pattern, errors[0]), errors[0]
    final = fault.out(env)
    if final is not None:
        assert not final.exists()
        assert not [p.name for p in final.parent.iterdir() if p.name.startswith(TMP)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_train_on_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    res = subprocess.run(
        [sys.executable, "-m", "aeexport", "train", str(fifo), "--out", str(tmp_path / "c")],
        capture_output=True,
        text=True,
        timeout=120,  # opening the FIFO would block forever
        env=SUBPROCESS_ENV,
        check=False,
    )
    assert res.returncode == 2, res.stderr
    assert f"Error: input '{fifo}' is a FIFO (named pipe); expected a regular file" in res.stderr
    assert BUG not in res.stderr and not (tmp_path / "c").exists()


def test_save_checkpoint_on_a_full_disk(env, dense_trained, digits_split):
    from aeexport.checkpoint import save_checkpoint

    where = env.full()
    with pytest.raises(FileSystemError, match=r"no space left on the device \(ENOSPC\)") as info:
        save_checkpoint(where / "ckpt", dense_trained.model, holdout=digits_split.val)
    assert info.value.path == str(where / "ckpt") and info.value.errno == errno.ENOSPC
    assert sorted(p.name for p in where.iterdir()) == ["filler"]  # nothing partial, no temporary entry
