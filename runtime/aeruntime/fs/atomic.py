"""Atomic writes: a reader sees the old complete file/directory or the new one.

Files are written to a temporary name in the same directory, flushed, fsynced and
renamed over the target (``os.replace`` is atomic on POSIX and Windows).

Directories (bundles, checkpoints) are built in a temporary directory beside the
target; every file and directory in it is fsynced before it is published. If the
target does not exist the temporary directory is renamed into place. If it does, the two are swapped atomically with ``renameat2`` and
``RENAME_EXCHANGE`` on Linux; elsewhere (or on file systems without exchange
support) the old directory is first renamed aside, which leaves a window where the
target name is briefly absent but never holds a mix of old and new files (and the
old directory is put back if the new one cannot be renamed into place). On any
failure the temporary entries are removed.

Temporary names are ``TMP_PREFIX<target name>-<host>-<pid>-<random>``: a write that
was killed (``kill -9``) leaves one behind, and the next write to the same target
removes it, but only when it was made on this host by a process that is no longer
alive (a concurrent writer's temporary is never touched).

The overwrite rule of every output lives here too (:func:`check_output_dir`,
:func:`check_output_file`): a directory output is written only if it is new, empty
or holds what we wrote (our bundle, checkpoint, run folder or Spark table) and no
file of anyone else; a file output is replaced atomically unless it is an input.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .faults import fault_of
from .outputs import check_output_dir, check_output_file

__all__ = [
    "TMP_PREFIX",
    "atomic_directory",
    "atomic_write_bytes",
    "check_output_dir",
    "check_output_file",
    "publish_file",
    "remove_stale",
    "temp_file_beside",
]

#: prefix of the temporary entries we create beside a target; cleaned up on the next write
TMP_PREFIX = ".aeexport-tmp-"

#: this host in temporary names (a pid is only checked on the host that wrote it)
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_NAME_CHARS = 80  # of the target's name in a temporary name (names stay under 255 bytes)
_OLD = "old-"  # temporary names of a target renamed aside during a swap

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(root: Path) -> None:
    """Give the entries of ``root`` the usual umask modes (mkstemp/mkdtemp create private
    0600/0700 ones) and fsync every file and directory, so the renamed tree is on disk."""
    mask = _umask()
    os.chmod(root, 0o777 & ~mask)
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o777 & ~mask)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o666 & ~mask)
            _fsync(os.path.join(dirpath, f), strict=True)  # a file's ENOSPC/EIO may first show here
        _fsync(dirpath)


def _fsync(path: str | os.PathLike[str], *, strict: bool = False) -> None:
    """fsync a file or (on POSIX) a directory, so a rename of or inside it survives a crash.

    A directory's fsync may be unsupported (errors ignored); ``strict``: a file's error is raised."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        if strict:
            raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one."""
    with fault_of(path, "write"):
        _write_bytes(path, data)


def _write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    tmp = temp_file_beside(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        publish_file(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False if unsupported."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def _tmp_prefix(name: str, old: bool = False) -> str:
    return f"{TMP_PREFIX}{name[:_NAME_CHARS]}-{_HOST}-{os.getpid()}-{_OLD if old else ''}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def remove_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Remove our temporary entries beside ``target`` left by a write that was killed; return them.

    Only names of the form ``TMP_PREFIX<name>-<this host>-<pid>-...`` whose process is
    no longer alive are removed. A target renamed aside by a killed swap (``...-old-...``)
    is put back when the target is missing.
    """
    target = Path(target).absolute()
    pattern = re.compile(re.escape(TMP_PREFIX + target.name[:_NAME_CHARS]) + r"-([0-9a-f]{8})-(\d+)-(old-)?[^-]+$")
    removed = []
    for entry in target.parent.glob(f"{glob_escape(TMP_PREFIX + target.name[:_NAME_CHARS])}-*"):
        m = pattern.match(entry.name)
        if m is None or m.group(1) != _HOST or _alive(int(m.group(2))):
            continue
        if m.group(3) and not target.exists() and not target.is_symlink():
            with contextlib.suppress(OSError):
                os.rename(entry, target)
                continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed


def glob_escape(text: str) -> str:
    """``text`` with the glob metacharacters ``*?[`` escaped."""
    return re.sub(r"([*?\[])", r"[\1]", text)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str], kind: str | None = None) -> Iterator[Path]:
    """Yield a fresh temporary directory; on normal exit it replaces ``target``.

    On an exception the temporary directory is removed and ``target`` is untouched; an
    ``OSError`` (no space, read-only, ...) becomes a ``FileSystemError`` naming ``target``.
    With ``kind`` (``"bundle"``, ``"checkpoint"``, ``"spark"``) the overwrite rule
    (:func:`check_output_dir`) is applied first and again just before the swap.
    """
    if kind is not None:
        check_output_dir(target, kind)
    with fault_of(target, "write"):
        with _atomic_directory(target, kind) as tmp:
            yield tmp


@contextlib.contextmanager
def _atomic_directory(target: str | os.PathLike[str], kind: str | None) -> Iterator[Path]:
    target = Path(target).absolute()
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target.name), dir=parent))
    try:
        yield tmp
        if kind is not None:
            check_output_dir(target, kind)  # again: the target may have changed during a long write
        _publish(tmp)
        _replace_directory(tmp, target)
        _fsync(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_directory(tmp: Path, target: Path) -> None:
    """Put the directory ``tmp`` at ``target``; ``tmp`` is gone (or holds the old contents) after."""
    if not target.exists() and not target.is_symlink():
        os.rename(tmp, target)
    elif target.is_dir() and not target.is_symlink() and _exchange(tmp, target):
        shutil.rmtree(tmp)  # tmp now holds the old contents
    else:
        old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target.name, old=True), dir=target.parent))
        os.rmdir(old)
        os.rename(target, old)
        try:
            os.rename(tmp, target)
        except BaseException:
            os.rename(old, target)  # put the old one back: the target is never left absent
            raise
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()


def temp_file_beside(path: str | os.PathLike[str]) -> Path:
    """A new empty private file named ``TMP_PREFIX<name>-<host>-<pid>-...`` beside ``path`` (directory
    created if needed); stale temporaries of ``path`` left by a killed writer are removed first.

    Write it, flush and fsync it, then :func:`publish_file` it over ``path`` (or
    remove it): the streaming writers (:mod:`aeruntime.tables.sinks`) publish this way.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path.name), dir=path.parent)
    os.close(fd)
    return Path(tmp)


def publish_file(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Rename a complete (flushed, fsynced) temporary file over ``path``, atomically.

    The file gets the usual umask modes (mkstemp creates it 0600), replaces ``path``
    in one ``os.replace``, and the directory entry is fsynced.
    """
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    _fsync(Path(path).parent)
