"""Environment faults: the one place an ``OSError`` becomes a typed, one-line error.

Every reader and writer goes through here, and so does the command line (:class:`aeruntime.clibase.AeGroup`
maps any ``OSError`` that reaches it the same way), so "this is a bug" is left for real bugs:

- :func:`os_fault` maps an ``OSError`` (by ``errno``) and the path the user gave to a
  :class:`~aeruntime.errors.FileSystemError` (exit code 1): no space left, read-only file
  system, permission denied, a path component that is a file, a directory where a file
  is expected, a file removed while it was read, an I/O error. The message names the
  user's path, never a temporary name of ours (``.aeexport-tmp-*``);
- :func:`fault_of` is :func:`os_fault` as a context manager around one read or write;
- :func:`check_input_file` refuses what is not a regular file (a directory, FIFO, device
  or socket: :class:`~aeruntime.errors.InvalidInputError`, exit code 2) before it is opened,
  so a FIFO never blocks a command.
"""

from __future__ import annotations

import contextlib
import errno as E
import os
import re
import stat
from pathlib import Path
from types import TracebackType

from ..errors import AeError, BundleNotFoundError, FileSystemError, InvalidInputError

__all__ = ["check_input_file", "fault_of", "hidden_os_error", "os_fault", "shown_path"]

#: prefix of our temporary entries (the same as :data:`aeruntime.fs.atomic.TMP_PREFIX`)
_TMP_PREFIX = ".aeexport-tmp-"

#: errno -> (what happened, how to fix it)
_REASONS: dict[int, tuple[str, str]] = {
    E.ENOSPC: ("no space left on the device", "free some space, or write to another file system"),
    E.EDQUOT: ("the disk quota is exhausted", "free some space, or write to another file system"),
    E.EFBIG: ("the file is larger than this file system allows", "write to another file system"),
    E.EROFS: ("the file system is read-only", "choose a path on a writable file system"),
    E.EACCES: ("permission denied", "check the permissions of the path and its folder, or choose another path"),
    E.EPERM: ("operation not permitted", "check the permissions of the path and its folder, or choose another path"),
    E.EISDIR: ("it is a directory, where a file is expected", "name a file, not a directory"),
    E.ENOENT: ("it does not exist (was it removed while in use?)", "check the path and run the command again"),
    E.ENAMETOOLONG: ("the name is too long for the file system", "choose a shorter path"),
    E.ELOOP: ("too many levels of symbolic links", "resolve the symbolic links in the path"),
    E.EMFILE: ("too many open files", "raise the open-file limit (ulimit -n)"),
    E.ENFILE: ("too many open files in the system", "close other programs or raise the system's limit"),
    E.EIO: ("an input/output error (a failing disk or network file system?)", "check the device and try again"),
    E.ETXTBSY: ("the file is busy", "close the program that uses it"),
    E.EPIPE: ("the reader of the output went away (broken pipe)", "keep the reading program open until the end"),
}


def shown_path(path: str | os.PathLike[str] | None, exc: OSError | None = None) -> str:
    """The path to name in a message: ``path``, else the error's file unless it is one of our temporary names
    (then its folder)."""
    if path is not None:
        return str(path)
    name = getattr(exc, "filename", None)
    if name is None:
        return "?"
    p = Path(os.fsdecode(name))
    for part in (p, *p.parents):
        if part.name.startswith(_TMP_PREFIX):
            return str(part.parent)
    return str(p)


def _file_ancestor(path: Path) -> Path | None:
    """The first component of ``path`` that exists and is not a directory (ENOTDIR, EEXIST from mkdir)."""
    for part in reversed([path, *path.parents][1:]):
        with contextlib.suppress(OSError):
            if part.exists() and not part.is_dir():
                return part
    return None


def _errno_in(text: str) -> int | None:
    """The errno in a library's message: pyarrow ``[errno 28]``, Rust (safetensors) ``(os error 28)``."""
    m = re.search(r"\[errno (\d+)\]|\(os error (\d+)\)", text, re.IGNORECASE)
    return int(m.group(1) or m.group(2)) if m else None


def hidden_os_error(exc: BaseException) -> OSError | None:
    """The ``OSError`` a library reports as another exception type (safetensors' ``SafetensorError``
    says ``I/O error: No space left on device (os error 28)``), or None."""
    code = _errno_in(str(exc))
    return OSError(code, os.strerror(code)) if code is not None else None


def os_fault(exc: OSError, path: str | os.PathLike[str] | None = None, action: str = "access") -> FileSystemError:
    """The :class:`FileSystemError` for ``exc`` met while ``action``-ing (``read``, ``write``) ``path``.

    ``path`` is the path the user gave (None: the error's own file name, or the folder of
    one of our temporary names). The message is one line: what was asked, what the
    system said (with the errno name), and how to fix it.
    """
    shown = shown_path(path, exc)
    code = exc.errno if exc.errno is not None else _errno_in(str(exc))
    what = f"cannot {action} {shown!r}"
    if code in (E.ENOTDIR, E.EEXIST):
        bad = _file_ancestor(Path(shown))
        if bad is not None:
            return FileSystemError(
                f"{what}: {str(bad)!r} is a file, not a folder (ENOTDIR); choose a path whose folders are folders, "
                "or move that file away.",
                path=shown,
                errno=code,
            )
    reason, fix = _REASONS.get(code or -1, (exc.strerror or str(exc), "check the path and try again"))
    name = E.errorcode.get(code or -1)
    tag = f" ({name})" if name else ""
    return FileSystemError(f"{what}: {reason}{tag}; {fix}.", path=shown, errno=code)


class fault_of:  # noqa: N801 - used like a function: ``with fault_of(path, "write"): ...``
    """Turn an ``OSError`` raised inside into :func:`os_fault` of ``path`` (our typed errors pass through).

    A class, not a generator, so it costs well under a microsecond on the per-chunk paths.
    """

    __slots__ = ("action", "path")

    def __init__(self, path: str | os.PathLike[str] | None, action: str) -> None:
        self.path, self.action = path, action

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if isinstance(exc, OSError) and not isinstance(exc, AeError):
            raise os_fault(exc, self.path, self.action) from exc
        return False


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_input_file(path: str | os.PathLike[str]) -> Path:
    """``Path(path)`` if it is a readable regular file; else a typed error (before anything opens it).

    Missing: :class:`BundleNotFoundError` (exit 1); a directory, FIFO, device or socket:
    :class:`InvalidInputError` (exit 2; a FIFO is never opened, which would block);
    unreadable (permission, I/O): :class:`FileSystemError` (exit 1).
    """
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise BundleNotFoundError(f"input file {str(path)!r} does not exist.") from None
    except OSError as exc:
        raise os_fault(exc, path, "read") from exc
    if not stat.S_ISREG(mode):
        kind = next((k for test, k in _KINDS if test(mode)), "not a regular file")
        raise InvalidInputError(
            f"input {str(path)!r} is {kind}; expected a regular file (.npy, .npz, .csv, .parquet). "
            "Save the data to a file first and pass that."
        )
    with fault_of(path, "read"):
        os.close(os.open(p, os.O_RDONLY))
    return p
