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
        "C (`examples/c`: `aescore`, `aescore --check`)": (n_bundles, 0),
    }
    assert {k: (int(v[1]), int(v[2])) for k, v in table.items()} == expected
    assert re.search(rf"^{len(not_served)} bundle cases", table["the page (`aeexport web`, Chromium)"][3])
    for consumer, cells in table.items():
        assert (ROOT / cells[0].strip("`")).is_file(), consumer


def test_the_c_table_has_every_bundle_case_with_cs_outcome():
    """SECURITY.md's C table names each bundle case once, refused by C exactly where C_OUTCOME says exit 1."""
    from tests.e2e.c.test_aescore_trust import C_OUTCOME

    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    section = text.split("## The C consumer (`examples/c`)", 1)[1].split("\n## ", 1)[0]
    rows = [ln.strip().strip("|").split("|") for ln in section.splitlines() if ln.startswith("| `")]
    refused = {}
    for cells in rows:
        for name in re.findall(r"`([a-z0-9-]+)`", cells[0]):
            assert name not in refused, name
            refused[name] = cells[2].strip().startswith("refused")
    assert set(refused) == {c.name for c in BUNDLE_CASES}
    assert refused == {name: code == 1 for name, (code, _) in C_OUTCOME.items()}
