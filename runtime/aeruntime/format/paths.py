"""The one rule for paths inside a bundle: nothing a bundle names may resolve outside it.

Used for ``manifest.json``, every file the manifest lists, every graph and every
external-data location: ``..``, absolute paths and symlinks leaving the directory
raise :class:`~aeruntime.errors.UnsafeBundleError` before the file is opened.

:func:`listed_file` is the one rule of every reader of bundle files (the loader,
``aeruntime verify``, ``aeexport verify``, ``aeexport web``): only a file the manifest
lists is opened, and only when it is a regular file inside the bundle. A symbolic link
anywhere on its path below the bundle directory (even one to another of the bundle's own
files), a FIFO, a device or a directory in its place is refused, never followed or opened
(opening a FIFO blocks). The bundle directory itself may be reached through a link.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import BundleNotFoundError, UnsafeBundleError

__all__ = ["is_inside", "listed_file", "safe_path"]

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)
_KINDS += ((stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket"))


def is_inside(root: str | os.PathLike[str], rel: str) -> bool:
    """True if ``root / rel`` (symlinks resolved) is ``root`` itself or below it."""
    if os.path.isabs(rel):
        return False
    root_real = Path(os.path.realpath(root))
    real = Path(os.path.realpath(Path(root) / rel))
    return real == root_real or root_real in real.parents


def safe_path(root: str | os.PathLike[str], rel: str, what: str = "file") -> Path:
    """``root / rel``, refusing paths or symlinks that resolve outside ``root``.

    Raises
    ------
    UnsafeBundleError
        ``rel`` is absolute, uses ``..`` to leave ``root``, or is (or passes through) a
        symlink that points outside ``root``.
    """
    if not is_inside(root, rel):
        root_real = os.path.realpath(root)
        real = os.path.realpath(Path(root) / rel)
        raise UnsafeBundleError(
            f"bundle {what} {rel!r} resolves to {real!r}, outside the bundle directory "
            f"{root_real!r} (a symlink or '..' leaves the bundle); refusing to read it. "
            "Copy the real files into the bundle (cp -rL) instead of linking to them."
        )
    return Path(root) / rel


def listed_file(root: str | os.PathLike[str], rel: str, what: str = "file") -> Path:
    """``root / rel`` when it is a regular file inside ``root``; nothing is opened.

    Raises
    ------
    UnsafeBundleError
        ``rel`` resolves outside ``root`` (:func:`safe_path`), is or passes through a symbolic
        link (``lstat`` of each component below ``root``), or is a FIFO, a device, a socket or a
        directory: "not a regular file".
    BundleNotFoundError
        Nothing is there.
    """
    path = safe_path(root, rel, what)
    _no_link(root, rel, what)
    try:
        mode = os.stat(path).st_mode  # no link on the way (checked above); never opens the file
    except OSError:
        raise BundleNotFoundError(
            f"bundle {what} {str(path)!r} listed in the manifest is missing; copy the complete bundle "
            "directory or re-export it."
        ) from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise UnsafeBundleError(
            f"bundle {what} {rel!r} is not a regular file: it is {kind}; refusing to open it. "
            "Copy the real bundle files (cp -rL) or re-export the bundle."
        )
    return path


def _no_link(root: str | os.PathLike[str], rel: str, what: str) -> None:
    """Refuse a symbolic link at ``rel`` or at any folder on its way below ``root`` (``lstat``: never followed)."""
    at = Path(root)
    for part in Path(rel).parts:
        at = at / part
        try:
            mode = os.lstat(at).st_mode
        except OSError:
            return  # missing: the caller says so
        if stat.S_ISLNK(mode):
            shown = "it" if at == Path(root) / rel else f"its folder {at.relative_to(root).as_posix()!r}"
            raise UnsafeBundleError(
                f"bundle {what} {rel!r} is not a regular file: {shown} is a symbolic link (to {os.readlink(at)!r}); "
                "a bundle holds plain files and a link is never followed, even to another of its files. "
                "Copy the real bundle files (cp -rL) or re-export the bundle."
            )
