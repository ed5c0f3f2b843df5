"""Is the first line of a CSV file a header? The one rule, and the command lines' ``--header/--no-header``.

``header=True`` / ``False`` force the answer. ``header=None`` (automatic) decides only
when it is certain, and says why in :attr:`HeaderDecision.note`:

1. a field that is not empty and not a number (``px0``, ``"a b"``): a header;
2. otherwise a first line with an empty field is data (a header-less file whose first
   row has a gap is never taken as a header, so that row is never lost: the reader
   then refuses the missing value, naming line 1);
3. all numbers, equal to the bundle's feature names (a bundle trained on a CSV whose
   header pandas wrote as ``0,1,...,63``): a header;
4. all numbers, exactly ``0,1,...,n-1`` (n >= 2; pandas' default column names): taken
   as a header, and the note says so (pass ``--no-header`` when that line is data); a
   bundle with other feature names then refuses the file (its columns are missing)
   instead of scoring that line as a row;
5. otherwise (all numbers): data.

The command lines print the note on stderr (one line per file read) through
:func:`announce_to`; the API keeps it in ``Source.header_note``.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .common import is_number

__all__ = ["HeaderDecision", "announce", "announce_to", "decide_header", "header_default"]

#: (the command line's --header/--no-header, where notes go, notes already printed)
_CLI: contextvars.ContextVar[tuple[bool | None, Callable[[str], None] | None, set[str]]] = contextvars.ContextVar(
    "aeruntime_csv_header", default=(None, None, set())
)


@dataclass(frozen=True)
class HeaderDecision:
    """Whether the first line is a header, and the one-line note saying why."""

    header: bool
    note: str


def _pandas_default(cells: Sequence[str]) -> bool:
    return len(cells) >= 2 and all(c == str(i) for i, c in enumerate(cells))


def decide_header(
    path: Path, row: Sequence[str], header: bool | None, feature_names: Sequence[str] | None
) -> HeaderDecision:
    """The header rule (module docstring) for the first non-empty line ``row`` of ``path``."""
    head = f"note: reading {path}"
    if header is not None:
        how = "with a header" if header else "without a header (the first line is data)"
        return HeaderDecision(header, f"{head} {how}, as --{'' if header else 'no-'}header says")
    if _all_numbers(row):  # the common case, vectorised: a first line of a million fields costs little
        return _numeric_line(head, row, feature_names)
    cells = [c.strip() for c in row]
    if any(c and not is_number(c) for c in cells):
        return HeaderDecision(True, f"{head} with a header (the first line is not all numbers)")
    return HeaderDecision(
        False, f"{head} without a header (the first line is numbers with an empty field: data, not names)"
    )


def _all_numbers(row: Sequence[str]) -> bool:
    """True when every field parses as a number (none empty): ``float`` mapped in C, no Python loop."""
    try:
        collections.deque(map(float, row), maxlen=0)
    except ValueError:
        return False
    return True


def _numeric_line(head: str, row: Sequence[str], feature_names: Sequence[str] | None) -> HeaderDecision:
    """Rules 3 to 5: a first line of numbers only."""
    cells = [c.strip() for c in row] if feature_names or row[0].strip() == "0" else []
    if feature_names and set(feature_names) <= set(cells) and len(set(cells)) == len(cells):
        return HeaderDecision(True, f"{head} with a header (the first line is the bundle's feature names)")
    if _pandas_default(cells):
        return HeaderDecision(
            True,
            f"{head} with a header: the first line is 0,1,...,{len(cells) - 1}, pandas' default column "
            "names; pass --no-header if it is data",
        )
    return HeaderDecision(False, f"{head} without a header (the first line is all numbers)")


def header_default() -> bool | None:
    """The command line's ``--header`` (True), ``--no-header`` (False) or automatic (None)."""
    return _CLI.get()[0]


def announce(note: str) -> None:
    """Print ``note`` once on the command line (where :func:`announce_to` sent it); nothing in the API."""
    _, sink, seen = _CLI.get()
    if sink is not None and note not in seen:
        seen.add(note)
        sink(note)


@contextlib.contextmanager
def announce_to(header: bool | None, sink: Callable[[str], None]) -> Iterator[None]:
    """Within the block: CSV reads default to ``header`` and print their header note to ``sink``."""
    token = _CLI.set((header, sink, set()))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # reset from another context: leave it
            _CLI.reset(token)
