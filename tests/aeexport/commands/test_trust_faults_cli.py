"""Environment faults in ``aeexport`` are typed one-line errors, never "this is a bug" (issue 19, class 5).

The aeexport side of ``tests/aeruntime/fs/test_trust_faults.py``: bundles (``export``),
checkpoints (``train``, :func:`aeexport.train.save_checkpoint`) and ``verify``, on a
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
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aeexport.cli import main as ae_main
from aeruntime.errors import FileSystemError
from tests.aeruntime.fs.test_trust_faults import FsEnv, check_fault, refused_fifo


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, dense_trained, digits_split) -> Path:
    from aeexport.train import save_checkpoint

    out = tmp_path_factory.mktemp("ckpt") / "ckpt"
    save_checkpoint(out, dense_trained.model, holdout=digits_split.val, summary=dense_trained.summary())
    return out


@dataclass
class Env(FsEnv):
    checkpoint: Path = Path()
    bundle: Path = Path()
    rows: np.ndarray = field(default_factory=lambda: np.empty((0, 64), np.float32))

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
    e = Env(tmp_path, monkeypatch, checkpoint=checkpoint, bundle=dense_bundle, rows=digits_split.train[:300])
    yield e
    e.unmount()


def _safetensors_full(e: Env) -> None:
    """safetensors reports a full disk as a SafetensorError naming the OS error."""
    from safetensors import SafetensorError

    import aeexport.train._checkpoint as ck

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


ENOSPC = r"cannot write '.*/{}': no space left on the device \(ENOSPC\); free some space"
EROFS = r"cannot write '.*/{}': the file system is read-only \(EROFS\); choose a path on a writable"
EACCES = r"cannot write '.*/b': permission denied \(EACCES\); check the permissions"
ENOTDIR = r"cannot write '.*afile/b': '.*afile' is a file, not a folder \(ENOTDIR\)"
DAMAGED = r"{}' is not a readable safetensors file \(.*\); the checkpoint is truncated or damaged"
MODIFIED = r"{} has sha256 .* the file was modified or corrupted"
NOT_REGULAR = r"input '.*' is a directory; expected a regular file"


def _mkdtemp_fails(code: int) -> Callable[[Env], list[str]]:
    return lambda e: (e.inject(tempfile, "mkdtemp", code), _export(e, e.tmp))[1]


def _from_damaged(name: str, keep: int) -> Callable[[Env], list[str]]:
    return lambda e: _export(e, e.tmp, e.damaged_checkpoint(name, keep))


def _verify_damaged(name: str) -> Callable[[Env], list[str]]:
    return lambda e: ["verify", str(e.damaged_bundle(name, 0.5))]


def _train_on_truncated(name: str) -> Callable[[Env], list[str]]:
    return lambda e: _train(e, e.tmp / "out", e.truncated(name))


def _parent_is_a_file(e: Env) -> list[str]:
    e.tmp.joinpath("afile").write_text("x")
    return _export(e, e.tmp / "afile")


FAULTS = [
    Fault("export-full-tmpfs", lambda e: _export(e, e.full()), 1, ENOSPC.format("b")),
    Fault("export-enospc-injected", lambda e: (_write_bytes_full(e), _export(e, e.tmp))[1], 1, ENOSPC.format("b")),
    Fault("export-read-only-tmpfs", lambda e: _export(e, e.tmpfs("size=64k,ro")), 1, EROFS.format("b")),
    Fault("export-read-only-injected", _mkdtemp_fails(errno.EROFS), 1, EROFS.format("b")),
    Fault("export-permission-denied-injected", _mkdtemp_fails(errno.EACCES), 1, EACCES),
    Fault("export-out-parent-is-a-file", _parent_is_a_file, 1, ENOTDIR),
    Fault("train-full-tmpfs", lambda e: _train(e, e.full()), 1, ENOSPC.format("c")),
    Fault("train-enospc-safetensors", lambda e: (_safetensors_full(e), _train(e, e.tmp))[1], 1, ENOSPC.format("c")),
    Fault("train-read-only-tmpfs", lambda e: _train(e, e.tmpfs("size=64k,ro")), 1, EROFS.format("c")),
    Fault("export-truncated-model", _from_damaged("model.safetensors", 100), 1, DAMAGED.format(r"model\.safetensors")),
    Fault(
        "export-truncated-holdout",
        _from_damaged("holdout.safetensors", 200),
        1,
        DAMAGED.format(r"holdout\.safetensors"),
    ),
    Fault("export-truncated-config-json", _from_damaged("config.json", 40), 1, r"config\.json: not valid JSON"),
    Fault("train-on-a-directory", lambda e: _train(e, e.tmp / "out", e.tmp), 2, NOT_REGULAR),
    Fault("train-on-truncated-fortran-npy", _train_on_truncated("rows.npy"), 2, r"rows\.npy: cannot read it as \.npy"),
    Fault("train-on-truncated-parquet", _train_on_truncated("rows.parquet"), 2, r"rows\.parquet: not a readable"),
    Fault("verify-truncated-onnx", _verify_damaged("encoder.onnx"), 1, MODIFIED.format(r"encoder\.onnx")),
    Fault(
        "verify-truncated-weights", _verify_damaged("weights.safetensors"), 1, MODIFIED.format(r"weights\.safetensors")
    ),
    Fault("verify-truncated-manifest", _verify_damaged("manifest.json"), 1, r"manifest\.json' is not valid JSON"),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault_is_a_typed_one_line_error(env, fault):
    args = fault.args(env)
    check_fault(CliRunner().invoke(ae_main, args), args, fault.code, fault.pattern)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_train_on_a_fifo_is_refused_without_opening_it(tmp_path):
    refused_fifo(["aeexport", "train"], tmp_path / "rows.csv", ["--out", str(tmp_path / "c")])
    assert not (tmp_path / "c").exists()


def test_save_checkpoint_on_a_full_disk(env, dense_trained, digits_split):
    from aeexport.train import save_checkpoint

    where = env.full()
    with pytest.raises(FileSystemError, match=r"no space left on the device \(ENOSPC\)") as info:
        save_checkpoint(where / "ckpt", dense_trained.model, holdout=digits_split.val)
    assert info.value.path == str(where / "ckpt") and info.value.errno == errno.ENOSPC
    assert sorted(p.name for p in where.iterdir()) == ["filler"]  # nothing partial, no temporary entry
