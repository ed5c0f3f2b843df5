"""The one overwrite rule of every output (aeexport, aeruntime, aeruntime spark); it owns the marker names.

- A **directory** output (a bundle, a checkpoint, an ``aeexport run`` folder, a local
  Spark table, an ``aeexport web`` site, an ``aeexport package`` output) is written only if
  it does not exist, is empty, or holds what we provably wrote: a marker of ours lists every
  file it holds with a sha256 that still matches. The marker is a bundle's ``manifest.json``
  whose ``producer`` is aeexport (another tool's ``manifest.json`` with ``format_version``
  and ``files`` is not enough), a checkpoint's ``config.json`` (format
  ``aeexport-checkpoint/...``, ``sha256`` of its weights and held-out rows), a Spark table's
  ``_aeruntime.json`` (every part file with its sha256), a site's ``aeexport-site.json``, a
  package's ``aeexport-package.json``, a run folder's ``summary.json`` (``written_by: aeexport
  run``, ``sha256`` of ``test_scores.npz``). A marker without hashes, a hash that no longer
  matches, or a link in place of a listed file makes the folder not ours. A bundle,
  checkpoint, Spark table, site or package is replaced as a whole, so one that also holds a
  file we did not write is refused (the files are listed): nothing of the user's is ever
  deleted. A run folder is never replaced as a whole: only its ``checkpoint/``, ``bundle/``
  (each under its own rule), ``test_scores.npz`` and ``summary.json`` are, and other files in
  it are kept. Anything else is refused before any work starts.
- A **file** output (scores, codes, rows, a report, a plot) that exists is replaced
  atomically, unless it is an input of the same command (same path, hard or symbolic link):
  the user named that file on the command line; this is the one exception to "provably ours".
- An output that resolves to an input directory is refused too.

Every refusal is an :class:`~aeruntime.errors.InvalidInputError` (exit 2) naming the
path the user gave, what is there, and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

__all__ = [
    "BUNDLE_MARKER",
    "MAX_MARKER_BYTES",
    "DIR_RULE",
    "FILE_RULE",
    "KINDS",
    "PACKAGE_MARKER",
    "RUN_FILES",
    "RUN_WRITER",
    "SITE_MARKER",
    "SPARK_MARKER",
    "check_output_dir",
    "check_output_file",
    "marker_digests",
    "owned_files",
    "spark_marker",
]

#: the file that makes a folder a bundle (``aeruntime.format.MANIFEST_NAME`` is this name)
BUNDLE_MARKER = "manifest.json"
#: largest marker file read (a real manifest is a few hundred KB; ``aeruntime.format`` reads no larger one)
MAX_MARKER_BYTES = 64 * 2**20
#: the marker file ``aeruntime spark score`` writes into a local output table
SPARK_MARKER = "_aeruntime.json"
#: the marker file ``aeexport web`` writes into a static site
SITE_MARKER = "aeexport-site.json"
#: the marker file ``aeexport package`` writes into an MLflow model or a Triton repository
PACKAGE_MARKER = "aeexport-package.json"
#: the rule in the help of every --out, the same words in the three CLIs
DIR_RULE = "new, empty, or {} we wrote (then replaced); anything else is refused"
FILE_RULE = "an existing file is replaced, unless it is an input"
#: the marker of a checkpoint: its config.json lists the sha256 of its other files
CHECKPOINT_MARKER = "config.json"
#: the marker of an ``aeexport run`` folder, and the files it replaces besides checkpoint/ and bundle/
RUN_MARKER = "summary.json"
RUN_FILES = ("test_scores.npz",)
RUN_WRITER = "aeexport run"
SPARK_WRITER = "aeruntime spark"
_LISTED = 5  # unknown files named in a message


def _json(path: Path) -> Any:
    """The JSON in ``path``, or None when it is missing, not a file, too big or not JSON."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_MARKER_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _hashes_match(d: Path, digests: Any) -> bool:
    """Every ``rel -> sha256`` of ``digests`` names a regular file (no link) inside ``d`` with that sha256."""
    if not isinstance(digests, dict):
        return False
    for rel, expected in digests.items():
        p = d / str(rel)
        if ".." in Path(str(rel)).parts or os.path.isabs(str(rel)) or p.is_symlink() or not p.is_file():
            return False
        try:
            if _sha256(p) != expected:
                return False
        except OSError:
            return False
    return True


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _bundle(d: Path) -> set[str] | None:
    m = _json(d / BUNDLE_MARKER)
    if not isinstance(m, dict) or "format_version" not in m or not isinstance(m.get("files"), dict):
        return None
    producer = m.get("producer")
    if not isinstance(producer, dict) or "aeexport" not in producer or not _hashes_match(d, m["files"]):
        return None  # another tool's manifest, or files changed since we wrote them
    return {BUNDLE_MARKER, *map(str, m["files"])}


def _checkpoint(d: Path) -> set[str] | None:
    c = _json(d / CHECKPOINT_MARKER)
    if not isinstance(c, dict) or not str(c.get("format", "")).startswith("aeexport-checkpoint/"):
        return None
    digests = c.get("sha256")
    if not isinstance(digests, dict) or "model.safetensors" not in digests or not _hashes_match(d, digests):
        return None  # an older config.json without hashes, another tool's, or weights changed since
    return {CHECKPOINT_MARKER, *map(str, digests)}


def _marked(marker: str, writer: str) -> Callable[[Path], set[str] | None]:
    """The owner test of a directory whose ``marker`` file says ``writer`` wrote it and lists its files."""

    def owner(d: Path) -> set[str] | None:
        m = _json(d / marker)
        if not isinstance(m, dict) or m.get("written_by") != writer or not isinstance(m.get("files"), list):
            return None
        digests = m.get("sha256")
        if not isinstance(digests, dict) or set(digests) != set(map(str, m["files"])) or not _hashes_match(d, digests):
            return None  # an older marker without hashes, or files changed since we wrote them
        return {marker, *map(str, m["files"])}

    return owner


_site = _marked(SITE_MARKER, "aeexport web")


def _run(d: Path) -> set[str] | None:
    """A run folder: its ``summary.json`` ours with every sha256 matching (``test_scores.npz``), or,
    without summary.json and test_scores.npz (a run killed before its end), a ``checkpoint/`` or
    ``bundle/`` of ours. The files it replaces are then ours; its other files are kept."""
    if os.path.lexists(d / RUN_MARKER):
        s = _json(d / RUN_MARKER)
        digests = s.get("sha256") if isinstance(s, dict) and s.get("written_by") == RUN_WRITER else None
        if not isinstance(digests, dict) or not set(digests) <= set(RUN_FILES) or not _hashes_match(d, digests):
            return None  # another tool's summary.json, an older one without hashes, or files changed since
        if any(os.path.lexists(d / name) and name not in digests for name in RUN_FILES):
            return None
    elif any(os.path.lexists(d / name) for name in RUN_FILES) or not any(
        (d / sub).is_dir() and owner(d / sub) is not None
        for sub, owner in (("checkpoint", _checkpoint), ("bundle", _bundle))
    ):
        return None  # a test_scores.npz we cannot prove we wrote, or nothing of ours
    return {f.relative_to(d).as_posix() for f in _files(d)}  # other files are kept


#: kind -> (what it is in words, the files of ours it holds or None when it is not ours)
KINDS: dict[str, tuple[str, Callable[[Path], set[str] | None]]] = {
    "bundle": ("a bundle written by aeexport (manifest.json by aeexport, every sha256 matching)", _bundle),
    "checkpoint": ("a checkpoint written by `aeexport train` (config.json, every sha256 matching)", _checkpoint),
    "run": ("a folder written by `aeexport run` (summary.json, every sha256 matching; checkpoint/, bundle/)", _run),
    "spark": (
        f"a table written by `aeruntime spark score` ({SPARK_MARKER}, every sha256 matching)",
        _marked(SPARK_MARKER, SPARK_WRITER),
    ),
    "site": (f"a static site written by `aeexport web` ({SITE_MARKER}, every sha256 matching)", _site),
    "package": (
        f"a model package written by `aeexport package` ({PACKAGE_MARKER}, every sha256 matching)",
        _marked(PACKAGE_MARKER, "aeexport package"),
    ),
}


def _files(d: Path) -> list[Path]:
    """Every file (or link, or other non-directory) under ``d``, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(d):
        out += [Path(dirpath, n) for n in filenames]
        out += [Path(dirpath, n) for n in dirnames if os.path.islink(os.path.join(dirpath, n))]
    return sorted(out)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def owned_files(path: str | os.PathLike[str], kind: str) -> set[str] | None:
    """The files of ours (relative POSIX paths) the directory ``path`` holds as a ``kind``, or None if it is not ours."""
    return KINDS[kind][1](Path(path))


def _same(a: Path, b: str | os.PathLike[str] | None) -> bool:
    if b is None:
        return False
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError, TypeError):
        return False


def _existing_dir(p: Path, shown: str, option: str, inputs: Iterable[Any]) -> bool:
    """False if ``p`` does not exist, True if it is a directory; refuse an input, a link, a file."""
    if any(_same(p, i) for i in inputs):
        raise InvalidInputError(f"{shown} is the input of this command; choose another {option}.")
    if p.is_symlink():
        raise InvalidInputError(
            f"{shown} is a symbolic link; pass the directory it points to ({os.path.realpath(p)}), or another {option}."
        )
    if not p.exists():
        return False
    if not p.is_dir():
        raise InvalidInputError(f"{shown} is a file; {option} names a directory. Choose another {option}.")
    return True


def check_output_dir(
    path: str | os.PathLike[str], kind: str, *, option: str = "--out", inputs: Iterable[Any] = ()
) -> None:
    """Raise :class:`InvalidInputError` unless the directory output ``path`` may be written as a ``kind``.

    ``kind`` is one of :data:`KINDS`; ``inputs`` are the command's inputs (paths or None),
    which the output must not be. Nothing is read but the small marker file.
    """
    what, owner = KINDS[kind]
    p, shown = Path(path), f"{option} {str(path)!r}"
    if not _existing_dir(p, shown, option, inputs):
        return
    entries = sorted(e.name for e in p.iterdir())
    if not entries:
        return
    ours = owner(p)
    if ours is None:
        raise InvalidInputError(
            f"{shown} is not empty and is not {what}: it holds {_listing(entries)}. Nothing was written; "
            f"choose another {option}, or empty or remove that directory yourself."
        )
    unknown = [f.relative_to(p).as_posix() for f in _files(p)]
    unknown = [f for f in unknown if f not in ours]
    if unknown:
        raise InvalidInputError(
            f"{shown} holds {what} and {len(unknown)} file(s) it did not write: {_listing(unknown)}; replacing it "
            f"would delete them. Nothing was written; move them out, or choose another {option}."
        )
    if kind == "run":
        for sub, sub_kind in (("checkpoint", "checkpoint"), ("bundle", "bundle")):
            check_output_dir(p / sub, sub_kind, option=f"{option} {str(path)!r}: its", inputs=inputs)


def check_output_file(path: str | os.PathLike[str], *, option: str = "--out", inputs: Iterable[Any] = ()) -> None:
    """Raise :class:`InvalidInputError` if the file output ``path`` is an input or an existing directory.

    An existing file is otherwise replaced atomically (:func:`aeruntime.fs.atomic.publish_file`).
    """
    if str(path).endswith(("/", os.sep)):
        raise InvalidInputError(
            f"{option} {str(path)!r} ends with a slash, which names a directory; {option} names a file. "
            f"Drop the trailing slash (e.g. {option} {str(path).rstrip('/' + os.sep)!r})."
        )
    p = Path(path)
    for i in inputs:
        if _same(p, i):
            raise InvalidInputError(
                f"{option} {str(path)!r} is the input file {str(i)!r} (the same file, or a link to it); writing it "
                f"would destroy the input. Nothing was read; choose another {option}."
            )
    if p.is_dir():
        raise InvalidInputError(
            f"{option} {str(path)!r} is a directory; {option} names a file. Choose another {option}."
        )


def spark_marker(root: str | os.PathLike[str], files: Iterable[str]) -> bytes:
    """The content of :data:`SPARK_MARKER`: who wrote the table, its files (relative paths under
    ``root``) and the sha256 of each, hashed after the job (a part file at a time)."""
    files = sorted(files)
    marker = {"written_by": SPARK_WRITER, "files": files, "sha256": marker_digests(root, files)}
    return (json.dumps(marker, indent=2) + "\n").encode()


def marker_digests(root: str | os.PathLike[str], files: Iterable[str]) -> dict[str, str]:
    """``rel -> sha256`` of ``files`` under ``root``: the ``sha256`` of a site's or a package's marker."""
    return {rel: _sha256(Path(root, rel)) for rel in sorted(files)}
