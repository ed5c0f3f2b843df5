"""What refusing a bad CSV may cost: its width checked on the first line's bytes, and a longest line.

The width of a file read by position is known after its first line: a wrong one is
refused before any field is parsed (:func:`check_first_line_width` counts the commas
of the first line, 1 MiB at a time, so a one-line 5 MB file costs milliseconds and a
few MiB). A later line longer than :func:`max_line` of the first line's width is refused
while the file is cut into pieces, naming the line (:func:`long_line_error`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..validation import width_error

__all__ = ["FIRST_LINE_MAX", "check_first_line_width", "long_line_error", "max_line", "positional_width"]

#: bytes a line may hold: a fixed allowance plus this much per field of the first line
LINE_BASE, LINE_PER_FIELD = 1 << 16, 256
#: bytes of the first line counted for its width before it is refused as malformed
FIRST_LINE_MAX = 1 << 28
_BLOCK = 1 << 20


def max_line(width: int) -> int:
    """Longest line accepted for rows of ``width`` fields, in bytes (numbers take a few dozen; ids more)."""
    return LINE_BASE + LINE_PER_FIELD * width


def long_line_error(path: Path, line: int, length: int, width: int | None) -> InvalidInputError:
    """``data.csv: line 4 is longer than N bytes, but a line of 64 fields ... should take at most M``."""
    limit = (
        f"a line of {width} fields (the first line's) should take at most {max_line(width)}"
        if width is not None
        else f"aeruntime reads lines of at most {FIRST_LINE_MAX} bytes"
    )
    return InvalidInputError(
        f"{path}: line {line} is longer than {length} bytes, but {limit}; the file is malformed (a missing "
        "line break, or an unclosed quote). Fix that line."
    )


def positional_width(sel_args: dict[str, Any]) -> bool:
    """True when the file's features are all its columns, header or not (no names to match, no label, no ids)."""
    return not (sel_args.get("feature_names") or sel_args.get("label_column") or sel_args.get("id_columns"))


def _first_line_fields(path: Path) -> int | None:
    """Fields on the first non-empty line, counted on its bytes (None when it holds quotes)."""
    commas = read = 0
    started = False
    with open(path, "rb") as fh:
        while read <= FIRST_LINE_MAX:
            block = fh.read(_BLOCK)
            if not block:
                break
            if not started:
                block = block.lstrip(b"\r\n\xef\xbb\xbf")
                started = bool(block)
            ends = [i for i in (block.find(b"\n"), block.find(b"\r")) if i >= 0]
            line = block[: min(ends)] if ends else block
            if b'"' in line:
                return None
            commas += line.count(b",")
            read += len(line)
            if ends and started:
                return commas + 1
    if read > FIRST_LINE_MAX:
        raise long_line_error(path, 1, read, None)
    return commas + 1 if started else None


def check_first_line_width(path: Path, width: int | None) -> None:
    """Refuse a file read by position whose first line does not hold ``width`` fields, before parsing it.

    Quoted first lines and one-column lines (maybe another delimiter) are left to the
    parser, whose messages say more.
    """
    if width is None:
        return
    n = _first_line_fields(path)
    if n is not None and n > 1 and n != width:
        raise width_error(str(path), n, (width,))
