"""The one columns-by-name rule of every table input (part of :mod:`aeruntime.validation`).

``match_columns``: missing, duplicate and reserved names, lists cut at :data:`LISTED` names.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InvalidInputError

__all__ = ["LISTED", "check_unique", "duplicates", "listing", "match_columns"]


# ---------------------------------------------------------------------------- columns by name
# A bundle trained on named columns reads tables by name: its features in its order wherever
# they sit, extra columns ignored (and listed), a missing or a repeated name refused.
#: names shown in a message before it is cut with " ... (N in all)"
LISTED = 20


def listing(names: Sequence[str], limit: int = LISTED) -> str:
    """``['a', 'b']``, or the first ``limit`` names and `` ... (N in all)``."""
    names = list(names)
    if len(names) <= limit:
        return repr(names)
    return f"{names[:limit]} ... ({len(names)} in all)"


def duplicates(names: Sequence[str]) -> list[str]:
    """Names that appear more than once, sorted."""
    seen: set[str] = set()
    dup: set[str] = set()
    for n in names:
        (dup if n in seen else seen).add(n)
    return sorted(dup)


def check_unique(names: Sequence[str], where: str) -> None:
    """Raise :class:`InvalidInputError` when a column name appears more than once."""
    dup = duplicates(names)
    if dup:
        raise InvalidInputError(f"{where}: the columns {dup} appear more than once; give every column its own name.")


def match_columns(
    available: Sequence[str],
    wanted: Sequence[str],
    *,
    where: str,
    what: str = "feature columns the model was trained on",
    reserved: Sequence[str] = (),
) -> list[str]:
    """``wanted`` (in its order) after checking each is one of ``available``; else a typed error.

    Parameters
    ----------
    available : sequence of str
        The table's column names (a file's header, a DataFrame's columns).
    wanted : sequence of str
        The names to find, e.g. ``Model.feature_names``.
    where : str
        What holds ``available``, starting the message (``"data.csv"``, ``"the DataFrame"``).
    what : str
        What ``wanted`` are, in the missing-columns message.
    reserved : sequence of str
        Names that may not be among ``wanted`` (the label and id columns).

    Returns
    -------
    list of str
        ``wanted``; the other columns are ``[c for c in available if c not in wanted]``.
    """
    check_unique(available, where)
    clash = [n for n in wanted if n in set(reserved)]
    if clash:
        raise InvalidInputError(
            f"{where}: {clash} are features of the model, so they cannot also be the "
            "label or an id column; pass another --label-column / --id-column."
        )
    have = set(available)
    missing = [n for n in wanted if n not in have]
    if missing:
        raise InvalidInputError(
            f"{where}: missing {len(missing)} of the {len(wanted)} {what}: {listing(missing)}; it has "
            f"{listing(available)}. Columns are matched by name: rename or add them."
        )
    return list(wanted)
