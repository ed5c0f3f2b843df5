"""SECURITY.md's conformance table matches the corpus: the case counts per consumer are recomputed here."""

from __future__ import annotations

import re

from tests.conftest import ROOT

from .corpus import BUNDLE_CASES, CSV_CASES


def _table() -> dict[str, list[str]]:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    section = text.split("## The conformance corpus: who runs which case", 1)[1].split("\n## ", 1)[0]
    rows = [ln.strip().strip("|").split("|") for ln in section.splitlines() if ln.startswith("| ") and "---" not in ln]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[1:]}


def test_the_security_table_matches_the_corpus():
    table = _table()
    n_bundles, n_csv = len(BUNDLE_CASES), len(CSV_CASES)
    not_served = [c for c in BUNDLE_CASES if not c.web]
    expected = {
        "aeruntime (`score`: load and score)": (n_bundles, n_csv),
        "`aeruntime verify`": (n_bundles, 0),
        "`aeexport verify`": (n_bundles, 0),
        "Node (`examples/node`: `check`, `score`)": (n_bundles, n_csv),
        "the page (`aeexport web`, Chromium)": (n_bundles - len(not_served), n_csv),
    }
    assert {k: (int(v[1]), int(v[2])) for k, v in table.items()} == expected
    assert re.search(rf"^{len(not_served)} bundle cases", table["the page (`aeexport web`, Chromium)"][3])
    for consumer, cells in table.items():
        assert (ROOT / cells[0].strip("`")).is_file(), consumer
