"""Slim bundles: the runtime-only part of a bundle, for edge devices.

A slim bundle leaves out what only training and torch parity need: the torch
weights (``weights.safetensors``) and, unless asked to keep them, the golden
vectors (``test_data/``). Its graphs are the full bundle's byte for byte, so its
``bundle_id`` and graph hashes are the same; ``manifest["files"]`` lists exactly
the files present and ``manifest["omitted"]`` the paths left out.
``aeruntime.load`` verifies and scores it fully; ``aeexport verify`` checks its
hashes and golden vectors (if kept) and reports that torch parity needs the
full bundle.
"""

from __future__ import annotations

import os
from typing import Any

from aeruntime.format import TEST_DATA_DIR, WEIGHTS_NAME, copy_bundle

__all__ = ["SLIM_OMITS", "slim_bundle"]

#: what a slim bundle leaves out: the torch weights and the golden vectors
SLIM_OMITS = (WEIGHTS_NAME, f"{TEST_DATA_DIR}/")


def slim_bundle(
    bundle: str | os.PathLike[str], out: str | os.PathLike[str], *, keep_golden: bool = False
) -> dict[str, Any]:
    """Write the runtime-only copy of ``bundle`` to ``out`` (atomically); return its manifest.

    Parameters
    ----------
    bundle : path
        A bundle directory (verified before it is copied).
    out : path
        Slim bundle directory; replaced atomically if it exists.
    keep_golden : bool
        Keep the golden vectors (``test_data/``), so ``aeexport verify`` and other
        runtimes can still check the graphs' outputs.
    """
    omit = [o for o in SLIM_OMITS if not (keep_golden and o == f"{TEST_DATA_DIR}/")]
    return copy_bundle(bundle, out, omit=omit)
