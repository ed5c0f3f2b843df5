"""Golden vectors as the manifest lists them: the one reader of ``test_data/`` (no glob).

``aeruntime verify``, ``aeexport verify`` and ``aeexport web`` open only the golden files
``manifest["files"]`` lists (``test_data/<graph>/test_data_set_N/{input,output}_K.pb``),
each through :func:`~aeruntime.format.paths.listed_file` (a regular file inside the
bundle). A file in ``test_data/`` that the manifest does not list is never opened; a
listed file that is not a TensorProto is an :class:`~aeruntime.errors.IntegrityError`.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from ..errors import IntegrityError
from .constants import TEST_DATA_DIR
from .onnxscan import ProtoError
from .paths import listed_file
from .proto import read_tensor

__all__ = ["golden_sets", "read_golden"]

#: ``test_data/<graph>/<set>/<input|output>_<k>.pb`` as listed in ``manifest["files"]``
_GOLDEN_FILE = re.compile(rf"^{TEST_DATA_DIR}/([^/]+)/(test_data_set_\d+)/(input|output)_(\d+)\.pb$")


def golden_sets(manifest: dict[str, Any]) -> dict[tuple[str, str], dict[str, list[str]]]:
    """(graph, set) -> {"input": [relpaths], "output": [relpaths]}, from the files the manifest lists (sorted)."""
    found = [(m, rel) for rel in manifest["files"] if (m := _GOLDEN_FILE.match(rel))]
    sets: dict[tuple[str, str], dict[str, list[str]]] = {}
    for m, rel in sorted(found, key=lambda f: (f[0].group(1), f[0].group(2), f[0].group(3), int(f[0].group(4)))):
        if m.group(1) in manifest["graphs"]:
            sets.setdefault((m.group(1), m.group(2)), {"input": [], "output": []})[m.group(3)].append(rel)
    return sets


def read_golden(root: str | os.PathLike[str], rel: str) -> tuple[str, np.ndarray]:
    """``(name, array)`` of the listed golden file ``rel``; a malformed one is an :class:`IntegrityError`."""
    data = listed_file(root, rel, "golden file").read_bytes()
    try:
        return read_tensor(data)
    except (ProtoError, ValueError, IndexError) as exc:
        raise IntegrityError(
            f"golden file {rel!r} is not a valid TensorProto ({exc}); the bundle is damaged: re-export it, "
            "or copy it again from its source."
        ) from None
