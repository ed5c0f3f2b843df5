"""The one rule for paths inside a bundle: nothing a bundle names may resolve outside it.

Used for ``manifest.json``, every file the manifest lists, every graph and every
external-data location. Symlinks inside the bundle that point to other files
inside it are allowed; ``..``, absolute paths and symlinks leaving the directory
raise :class:`~aeruntime.errors.UnsafeBundleError` before the file is opened.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UnsafeBundleError

__all__ = ["is_inside", "safe_path"]


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
