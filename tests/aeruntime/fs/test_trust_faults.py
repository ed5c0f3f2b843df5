"""Environment faults are typed one-line errors, never "this is a bug" (issue 19, class 5).

A table of faults of the file system and of truncated or wrong-kind files, each run
through ``aeruntime score`` (in-process, so faults can be injected) with the exact exit
code and message pattern; the message names the path the user gave, never a temporary
name of ours, and nothing (no output, no ``.aeexport-tmp-*`` file) is left behind.

How each fault is made:

- disk full and read-only: a real 64 KiB ``tmpfs`` (filled / mounted ``ro``), which needs
  root (``mount``); those rows skip with the reason elsewhere. Disk full also runs
  everywhere through an ``ENOSPC`` injection (``os.fsync`` of the output fails, as it does
  on NFS or a thin-provisioned disk), and so does read-only (``EROFS`` from ``mkstemp``);
- permission denied: an ``EACCES`` injection (the tests may run as root, where ``chmod``
  stops nothing);
- a FIFO as input: a real ``mkfifo``, run as a subprocess with a timeout (a reader that
  opened it would block forever).
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aeruntime.cli import main as rt_main
from aeruntime.errors import BundleNotFoundError, FileSystemError, InvalidInputError
from aeruntime.fs.faults import os_fault
from tests.conftest import SUBPROCESS_ENV
from tests.helpers import needs_pyarrow

N = 64  # features of the digits-dense bundle
TMP = ".aeexport-tmp-"
BUG = "this is a bug"


# ---------------------------------------------------------------------------- file systems
def _mount(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        why = (res.stderr.strip().splitlines() or ["failed"])[0]  # one line: mount adds a dmesg hint
        pytest.skip(f"a real small file system needs `mount -t tmpfs` (run as root): {why}")


def _fill(where: Path) -> None:
    """Write to ``where`` until the file system is full."""
    fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


@dataclass
class FsEnv:
    """A test's folder, with small file systems mounted in it and faults injected (shared with aeexport's table)."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    mounts: list[Path] = field(default_factory=list)

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

    def unmount(self) -> None:
        for where in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def check_fault(res: object, args: list[str], code: int, pattern: str) -> None:
    """One ``Error:`` line matching ``pattern``, exit ``code``, no "this is a bug", no temporary name, and
    nothing at ``--out`` (when given) nor a temporary entry beside it."""
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]  # type: ignore[attr-defined]
    assert res.exit_code == code, res.output  # type: ignore[attr-defined]
    assert len(errors) == 1, res.stderr  # type: ignore[attr-defined]
    assert BUG not in res.output  # type: ignore[attr-defined]
    assert TMP not in errors[0]  # the user's path, never our temporary name
    assert re.search(pattern, errors[0]), errors[0]
    if "--out" in args:
        final = Path(args[args.index("--out") + 1])
        assert not final.exists()
        if final.parent.is_dir():
            assert not [p.name for p in final.parent.iterdir() if p.name.startswith(TMP)]


@dataclass
class Env(FsEnv):
    bundle: Path = Path()
    x: np.ndarray = field(default_factory=lambda: np.empty((0, N), np.float32))

    def npy(self, name: str = "x.npy", arr: np.ndarray | None = None) -> Path:
        p = self.tmp / name
        np.save(p, self.x if arr is None else arr)
        return p

    def truncated(self, src: Path, keep: float = 0.5) -> Path:
        data = src.read_bytes()
        dst = src.with_name("cut-" + src.name)
        dst.write_bytes(data[: int(len(data) * keep)])
        return dst


@pytest.fixture
def env(tmp_path, shipped_dense, synthetic_digits, monkeypatch):
    e = Env(tmp_path, monkeypatch, bundle=shipped_dense, x=synthetic_digits[0][:200])
    yield e
    e.unmount()


# ---------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Fault:
    id: str
    args: Callable[[Env], list[str]]  # `aeruntime score` arguments after the bundle
    code: int
    pattern: str  # re.search in the error line


def _out(e: Env, where: Path, name: str) -> list[str]:
    return [str(e.npy()), "--out", str(where / name)]


def _parquet(e: Env) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = e.tmp / "x.parquet"
    pq.write_table(pa.table({f"f{i}": e.x[:, i] for i in range(N)}), p)
    return p


def _csv(e: Env) -> Path:
    p = e.tmp / "x.csv"
    lines = [",".join(f"f{i}" for i in range(N))] + [",".join(f"{v:g}" for v in row) for row in e.x]
    p.write_text("\n".join(lines) + "\n")
    return p


def _vanishing_csv(e: Env) -> list[str]:
    """The CSV is removed after its first line was read (another program deleted it)."""
    import aeruntime.tables.csv_reader as tcsv

    src = _csv(e)
    layout = tcsv._csv_layout

    def then_remove(path: Path, *args: object) -> object:
        result = layout(path, *args)
        path.unlink()
        return result

    e.monkeypatch.setattr(tcsv, "_csv_layout", then_remove)
    return [str(src), "--out", str(e.tmp / "o.npy")]


def _unreadable_graph(e: Env) -> list[str]:
    """The bundle's graph cannot be read (permission): no reader maps it, the command line does."""
    import pathlib

    graph = str(e.bundle / "encoder.onnx")

    def denied(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), graph)

    e.monkeypatch.setattr(pathlib.Path, "read_bytes", denied)
    return [str(e.npy())]


def _dir_out(e: Env) -> list[str]:
    (e.tmp / "plain").mkdir()
    (e.tmp / "plain" / "sub").write_text("a file, where a folder is needed")
    return [str(e.npy()), "--out", str(e.tmp / "plain" / "sub" / "deeper" / "o.npy")]


def _bundle_with(e: Env, name: str, keep: float) -> Path:
    import shutil

    b = e.tmp / "bundle"
    shutil.copytree(e.bundle, b)
    data = (b / name).read_bytes()
    (b / name).write_bytes(data[: int(len(data) * keep)])
    return b


ENOSPC_MSG = r"cannot write '.*o\.{}': no space left on the device \(ENOSPC\); free some space"
FAULTS = [
    # disk full: a real full tmpfs, every output type
    *[
        Fault(f"full-tmpfs-{s}", lambda e, s=s: _out(e, e.full(), f"o.{s}"), 1, ENOSPC_MSG.format(s))
        for s in ("npy", "npz", "csv", "parquet")
    ],
    # disk full, injected (runs without root): fsync of the output reports ENOSPC
    *[
        Fault(
            f"enospc-fsync-{s}",
            lambda e, s=s: (e.inject(os, "fsync", errno.ENOSPC), _out(e, e.tmp, f"o.{s}"))[1],
            1,
            ENOSPC_MSG.format(s),
        )
        for s in ("npy", "csv")
    ],
    Fault(
        "read-only-tmpfs",
        lambda e: _out(e, e.tmpfs("size=64k,ro"), "o.npy"),
        1,
        r"cannot write '.*o\.npy': the file system is read-only \(EROFS\); choose a path on a writable",
    ),
    Fault(
        "read-only-injected",
        lambda e: (e.inject(tempfile, "mkstemp", errno.EROFS), _out(e, e.tmp, "o.parquet"))[1],
        1,
        r"cannot write '.*o\.parquet': the file system is read-only \(EROFS\)",
    ),
    Fault(
        "permission-denied-injected",
        lambda e: (e.inject(tempfile, "mkstemp", errno.EACCES), _out(e, e.tmp, "o.csv"))[1],
        1,
        r"cannot write '.*o\.csv': permission denied \(EACCES\); check the permissions",
    ),
    Fault(
        "out-parent-is-a-file",
        lambda e: (e.tmp.joinpath("afile").write_text("x"), _out(e, e.tmp / "afile", "o.npy"))[1],
        1,
        r"cannot write '.*afile/o\.npy': '.*afile' is a file, not a folder \(ENOTDIR\)",
    ),
    Fault(
        "out-grandparent-is-a-file",
        _dir_out,
        1,
        r"cannot write '.*deeper/o\.npy': '.*plain/sub' is a file, not a folder \(ENOTDIR\)",
    ),
    Fault("input-is-a-directory", lambda e: [str(e.tmp)], 2, r"Invalid value for 'INPUT': .* is a directory"),
    Fault(
        "truncated-fortran-npy",
        lambda e: [str(e.truncated(e.npy("f.npy", np.asfortranarray(e.x))))],
        2,
        r"cut-f\.npy: cannot read it as \.npy .*truncated",
    ),
    Fault(
        "truncated-c-npy",
        lambda e: [str(e.truncated(e.npy()))],
        2,
        r"cut-x\.npy: the file is truncated \(header says shape \(200, 64\)\)",
    ),
    Fault(
        "truncated-npz",
        lambda e: [str(e.truncated((np.savez(e.tmp / "x.npz", X=e.x), e.tmp / "x.npz")[1]))],
        2,
        r"cut-x\.npz: cannot read it as \.npz \(File is not a zip file\); the file may be truncated",
    ),
    Fault(
        "truncated-npz-header-only",
        lambda e: [str(e.truncated((np.savez(e.tmp / "x.npz", X=e.x), e.tmp / "x.npz")[1], 0.002))],
        2,
        r"cut-x\.npz: cannot read it as \.npz",
    ),
    Fault(
        "truncated-parquet",
        lambda e: [str(e.truncated(_parquet(e)))],
        2,
        r"cut-x\.parquet: not a readable Parquet file \(.*magic bytes",
    ),
    Fault(
        "truncated-csv-mid-line",
        lambda e: [str(e.truncated(_csv(e), 0.5003))],
        2,
        r"cut-x\.csv: line \d+ has \d+ fields, but the header has 64",
    ),
    Fault(
        "bundle-graph-unreadable",
        _unreadable_graph,
        1,
        r"cannot access '.*encoder\.onnx': permission denied \(EACCES\)",
    ),
    Fault(
        "input-vanishes-while-read",
        _vanishing_csv,
        1,
        r"cannot read '.*x\.csv': it does not exist \(was it removed while in use\?\) \(ENOENT\)",
    ),
]


#: the rows that read or write Parquet or read CSV: they need pyarrow (skipped on the edge install)
_TABLE_FAULTS = {"full-tmpfs-parquet", "read-only-injected", "truncated-parquet", "truncated-csv-mid-line"}


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(f, id=f.id, marks=needs_pyarrow if f.id in _TABLE_FAULTS or "vanishes" in f.id else ())
        for f in FAULTS
    ],
)
def test_fault_is_a_typed_one_line_error(env, fault):
    args = fault.args(env)
    check_fault(CliRunner().invoke(rt_main, ["score", str(env.bundle), *args]), args, fault.code, fault.pattern)


# ---------------------------------------------------------------------------- inputs that must not hang
def refused_fifo(command: list[str], fifo: Path, more: list[str]) -> None:
    """``python -m <command> ... FIFO ...`` exits 2 naming the FIFO, without opening it (that would block)."""
    os.mkfifo(fifo)
    res = subprocess.run(
        [sys.executable, "-m", *command, str(fifo), *more],
        capture_output=True,
        text=True,
        timeout=120,  # a reader that opened the FIFO would wait forever
        env=SUBPROCESS_ENV,
        check=False,
    )
    assert res.returncode == 2, res.stderr
    assert f"Error: input '{fifo}' is a FIFO (named pipe); expected a regular file" in res.stderr
    assert BUG not in res.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_input_is_refused_without_opening_it(tmp_path, shipped_dense):
    refused_fifo(["aeruntime", "score", str(shipped_dense)], tmp_path / "rows.npy", [])


# ---------------------------------------------------------------------------- the API
def test_api_read_refuses_a_fifo_and_a_directory(tmp_path):
    from aeruntime.tables import open_source, read_table

    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInputError, match=r"is a FIFO \(named pipe\); expected a regular file"):
        open_source(fifo, 10)
    with pytest.raises(InvalidInputError, match=r"is a directory; expected a regular file"):
        read_table(tmp_path)
    with pytest.raises(BundleNotFoundError, match=r"does not exist"):
        read_table(tmp_path / "missing.npy")


def test_api_read_permission_denied_and_vanished(tmp_path, monkeypatch):
    from aeruntime.tables import open_source, read_table

    path = tmp_path / "rows.npy"
    np.save(path, np.zeros((4, N), np.float32))
    source = open_source(path, 2)  # opened, then the file system refuses (root ignores chmod: injected)
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda *a, **k: (_ for _ in ()).throw(PermissionError(errno.EACCES, "denied")))
    with pytest.raises(FileSystemError, match=r"cannot read '.*rows\.npy': permission denied \(EACCES\)"):
        read_table(path)
    monkeypatch.setattr(os, "open", real_open)
    assert len(list(source)) == 2  # an .npy source already mapped keeps reading


@needs_pyarrow
def test_api_read_vanished_csv(tmp_path):
    from aeruntime.tables import open_source

    csv = tmp_path / "rows.csv"
    csv.write_text("a,b\n1,2\n3,4\n")
    rows = open_source(csv, 1)
    csv.unlink()  # removed by another program after it was opened
    with pytest.raises(FileSystemError, match=r"cannot read '.*rows\.csv': it does not exist") as info:
        list(rows)
    assert info.value.errno == errno.ENOENT


def test_api_write_scores_typed_errors(tmp_path, monkeypatch):
    from aeruntime.tables import write_scores

    scores, labels = np.zeros(3, np.float32), np.zeros(3, np.int8)
    (tmp_path / "adir.npy").mkdir()
    # refused before anything is written, by the one output rule (format/outputs.py)
    with pytest.raises(InvalidInputError, match=r"--out '.*adir\.npy' is a directory; --out names a file"):
        write_scores(tmp_path / "adir.npy", scores, labels)
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space")))
    with pytest.raises(FileSystemError, match=r"no space left") as info:
        write_scores(tmp_path / "s.npz", scores, labels)
    assert info.value.errno == errno.ENOSPC and info.value.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir.npy"]


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "no space left on the device (ENOSPC)"),
        (errno.EROFS, "the file system is read-only (EROFS)"),
        (errno.EACCES, "permission denied (EACCES)"),
        (errno.EPERM, "operation not permitted (EPERM)"),
        (errno.EISDIR, "it is a directory, where a file is expected (EISDIR)"),
        (errno.EIO, "an input/output error (a failing disk or network file system?) (EIO)"),
        (errno.EDQUOT, "the disk quota is exhausted (EDQUOT)"),
    ],
)
def test_os_fault_names_the_users_path_not_ours(tmp_path, code, words):
    exc = OSError(code, os.strerror(code), str(tmp_path / f"{TMP}abc" / "model.safetensors"))
    err = os_fault(exc, action="write")  # no path given: the folder of our temporary entry
    assert str(err).startswith(f"cannot write '{tmp_path}': {words}")
    assert TMP not in str(err) and "\n" not in str(err)
    assert os_fault(exc, "out.npy", "write").path == "out.npy"


def test_library_errno_in_message_is_recognised():
    from aeruntime.fs.faults import hidden_os_error

    err = hidden_os_error(RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"))
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
    pyarrow_like = OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")
    assert "no space left on the device (ENOSPC)" in str(os_fault(pyarrow_like, "o.parquet", "write"))
    assert hidden_os_error(RuntimeError("no errno here")) is None
