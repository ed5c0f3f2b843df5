"""Silence the ONNX exporter's chatter (prints, warnings, log records)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

__all__ = ["quiet"]


@contextlib.contextmanager
def quiet(enabled: bool = True) -> Iterator[None]:
    """Swallow stdout/stderr writes, warnings and log records below ERROR while active."""
    if not enabled:
        yield
        return
    sink = io.StringIO()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)
