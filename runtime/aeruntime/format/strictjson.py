"""The one JSON reader of files a bundle or checkpoint holds: one truth per key, numbers in range.

Python's ``json`` keeps the last of two equal keys (another reader of the same file
may take the first), turns ``1e400`` into ``inf``, accepts ``NaN``/``Infinity``
literals (not JSON) and raises an untyped ``ValueError``/``OverflowError`` on an
integer of thousands of digits. :func:`parse_json` refuses each of these with a
:class:`~aeruntime.errors.ManifestError` (exit code 1) naming the file and the field:

- a key that appears twice in one object;
- an integer of more than :data:`MAX_INT_DIGITS` digits;
- a float beyond the float64 range (``1e400``), ``NaN``, ``Infinity``, ``-Infinity``.

Used for ``manifest.json``, the JSON inside graph metadata and checkpoint ``config.json``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..errors import ManifestError

__all__ = ["MAX_INT_DIGITS", "parse_json"]

#: most digits of a JSON integer (a float64 holds about 1e308)
MAX_INT_DIGITS = 300


class _Bad:
    """A number out of range, kept as its text until its field is found."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _find(node: Any, path: str) -> tuple[str, _Bad] | None:
    """The JSON path and value of the first out-of-range number below ``node``."""
    if isinstance(node, _Bad):
        return path or "(the document)", node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        sub = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
        found = _find(value, sub)
        if found:
            return found
    return None


def parse_json(
    text: str,
    source: str,
    fix: str = "re-export the bundle with aeexport.",
    *,
    invalid: str = "{source} is not valid JSON",
) -> Any:
    """Parse ``text`` (the contents of ``source``) strictly; see the module docstring.

    ``invalid``: the start of the message for text that is not JSON at all (``{source}`` is
    replaced), so each file keeps its wording.

    Raises
    ------
    ManifestError
        Not JSON, nested too deeply, a duplicate key or an out-of-range number.
    """
    bad: list[_Bad] = []

    def number(text: str) -> Any:
        bad.append(_Bad(text))
        return bad[-1]

    def parse_int(text: str) -> Any:
        return number(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)

    def parse_float(text: str) -> Any:
        value = float(text)
        return value if math.isfinite(value) else number(text)

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ManifestError(
                    f"{source}: key {key!r} appears twice in one object (keys there: "
                    f"{sorted(k for k, _ in items)[:8]}); readers disagree on which one counts, so "
                    f"aeruntime refuses both. {fix[:1].upper()}{fix[1:]}"
                )
            out[key] = value
        return out

    try:
        doc = json.loads(
            text,
            object_pairs_hook=pairs,
            parse_int=parse_int,
            parse_float=parse_float,
            parse_constant=number,
        )
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{invalid.format(source=source)} ({exc}); {fix}") from None
    except RecursionError:
        raise ManifestError(f"{source} nests JSON too deeply; {fix}") from None
    if bad:
        try:
            found = _find(doc, "")
        except RecursionError:
            found = None
        where, value = found if found else ("?", bad[0])
        shown = value.text if len(value.text) <= 40 else f"{value.text[:20]}...({len(value.text)} characters)"
        raise ManifestError(
            f"{source}: field {where} must be a finite number within the float64 range (integers of at most "
            f"{MAX_INT_DIGITS} digits; NaN and Infinity are not JSON), got {shown}; {fix}"
        )
    return doc
