"""Typed errors shared by aeruntime and aeexport.

Every error a user can cause derives from :class:`AeError`. Messages follow one
pattern: what was expected, what was received, and how to fix it. The command
line turns an ``AeError`` into a one-line message and the error's ``exit_code``
(1 = failure, 2 = usage error) without a traceback.

One code per meaning: every :class:`BundleError` ("this bundle is not valid":
missing directory or file, modified file, wrong format version, damaged manifest,
unsafe path or graph) exits 1; :class:`InvalidInputError` (the user's rows or
arguments) exits 2; :class:`FileSystemError` (the file system refused: no space, read-only,
permission denied, a path component that is a file, a file removed while read) exits 1.
:mod:`aeruntime.fs.faults` is the one place an ``OSError`` becomes one.
"""

from __future__ import annotations

__all__ = [
    "AeError",
    "BundleError",
    "BundleNotFoundError",
    "FileSystemError",
    "IntegrityError",
    "InvalidInputError",
    "ManifestError",
    "ProviderError",
    "RuntimeTooOldError",
    "UnsafeBundleError",
    "UnsupportedFormatError",
    "check_choice",
]


class AeError(Exception):
    """Base class of every error aeruntime and aeexport raise on purpose."""

    #: exit code of the command line when this error reaches it
    exit_code: int = 1


class InvalidInputError(AeError, ValueError):
    """An input array, file or argument does not fit what the model expects."""

    exit_code = 2


class BundleError(AeError):
    """A bundle directory cannot be used (exit code 1, for every subclass)."""

    exit_code = 1


class BundleNotFoundError(BundleError, FileNotFoundError):
    """The bundle directory, or a file the manifest names, does not exist."""


class IntegrityError(BundleError):
    """A bundle file does not match the sha256 recorded for it."""


class UnsupportedFormatError(BundleError):
    """The manifest declares a ``format_version`` this runtime cannot read."""


class ManifestError(BundleError):
    """``manifest.json`` is not valid JSON or misses required fields."""


class RuntimeTooOldError(BundleError):
    """The installed onnxruntime is older than the bundle's ``min_onnxruntime``."""


class UnsafeBundleError(IntegrityError):
    """A bundle asks the loader to do something it must never do: read files outside the
    bundle directory (external data, symlinks, ``..`` paths) or parse a malformed graph."""


class ProviderError(AeError, RuntimeError):
    """An explicitly requested execution provider cannot be used."""


class FileSystemError(AeError, OSError):
    """The file system refused to read or write a path the user gave (exit code 1).

    No space left, a read-only file system, permission denied, a path component that
    is a file, a file removed while it was read, an I/O error. Made from an ``OSError``
    by :func:`aeruntime.fs.faults.os_fault` only; ``path`` is the path the user gave
    (never a temporary name of ours), ``errno`` the system's code. Still an ``OSError``,
    so code that caught the untyped error keeps working.
    """

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


def check_choice(name: str, value: object, choices) -> None:
    """Raise :class:`InvalidInputError` unless ``value`` is one of ``choices`` (listed in the
    order given: pass ``sorted(...)`` for an alphabetical list): "name must be one of [...], got 'x'."."""
    if value not in choices:
        raise InvalidInputError(f"{name} must be one of {list(choices)}, got {value!r}.")
