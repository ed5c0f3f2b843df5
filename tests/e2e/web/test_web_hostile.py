"""Hostile bundles and CSV dialects on the page in headless Chromium, against aeruntime (issue 32, causes 5-7).

A site is built from a good bundle with ``aeexport web``; each forged bundle of
:data:`tests.conformance.corpus.BUNDLE_CASES` that a site can hold (no links, pipes or devices:
a site holds copies) then replaces the site's ``bundle/``, as someone with write access to
the web server could. The page must refuse each with its error code, as aeruntime refuses
the same bundle, and run nothing. CSV dialects are scored through the page's file picker
(its bytes, as the browser reads them) and must give aeruntime's outcome: the same row
count and scores, or a refusal. One browser visits every site (``drive.mjs --visit``).

Needs ``node`` and ``chromium`` (else skipped) and ``npm ci --prefix examples/web`` (else FAILS).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import aeruntime
from aeruntime.errors import BundleError
from aeruntime.verify import verify_bundle
from tests.conformance.corpus import BASE, BUNDLE_CASES, CSV_CASES, JS_ONLY_CSV, forged

from .browser import NEEDS_BROWSER, build, drive, require_web_modules, serve

pytestmark = NEEDS_BROWSER

WEB_CASES = [c for c in BUNDLE_CASES if c.web]
#: every CSV dialect of the corpus, and the JavaScript-only ones (each scored once)
WEB_CSV = list(dict.fromkeys([*sorted(CSV_CASES), *JS_ONLY_CSV]))


@pytest.fixture(scope="module")
def driven(tmp_path_factory) -> dict:
    """The good site with every CSV scored, and every forged site visited: what the page reported."""
    require_web_modules()
    root = tmp_path_factory.mktemp("hostile-sites")
    build(BASE, root / "good")
    work = tmp_path_factory.mktemp("forged")
    for case in WEB_CASES:
        site = root / case.name
        shutil.copytree(root / "good", site)
        shutil.rmtree(site / "bundle")
        shutil.copytree(forged(case, work), site / "bundle")
    csvs = []
    for name in WEB_CSV:
        path = root / f"{name}.csv"
        path.write_bytes(CSV_CASES[name] if name in CSV_CASES else JS_ONLY_CSV[name][0])
        csvs += ["--csv", path]
    with serve(root) as base:
        visits = [a for c in WEB_CASES for a in ("--visit", f"{base}/{c.name}/")]
        res = drive(f"{base}/good/", *csvs, *visits)
    assert res["state"] == "ready", res.get("error")
    return {
        "visits": {c.name: v for c, v in zip(WEB_CASES, res["visits"], strict=True)},
        "csvs": dict(zip(WEB_CSV, res["csvs"], strict=True)),
        "work": work,
    }


@pytest.mark.parametrize("case", WEB_CASES, ids=lambda c: c.name)
def test_the_page_refuses_a_forged_bundle_as_aeruntime_does(driven, case):
    got = driven["visits"][case.name]
    if case.code is None:
        assert got["state"] == "ready", got
        return
    assert got["state"] == "refused" and got["error"]["code"] == case.code, got
    if case.vs_aeruntime:  # golden cases: only readers of the golden vectors refuse them (aeruntime verify)
        with pytest.raises(BundleError):
            (verify_bundle if case.golden else lambda r: aeruntime.load(r, providers="cpu"))(driven["work"] / case.name)


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_the_page_reads_a_csv_dialect_as_aeruntime_does(driven, name, tmp_path):
    from click.testing import CliRunner

    from aeruntime.cli import main

    path = tmp_path / f"{name}.csv"
    path.write_bytes(CSV_CASES[name])
    r = CliRunner().invoke(main, ["score", str(BASE), str(path)])
    got = driven["csvs"][name]
    if r.exit_code != 0:
        assert r.exit_code == 2 and "error" in got, (r.stderr, got)
        return
    want = np.array([float(ln.split(",")[0]) for ln in r.stdout.strip().splitlines()[1:]])
    assert "error" not in got, got["error"]
    assert got["n"] == len(want)  # rows in = rows out
    tol = aeruntime.load(BASE, providers="cpu").manifest["parity"]["tolerance"]
    np.testing.assert_allclose(got["scores"], want, rtol=tol["rtol"], atol=tol["atol"])


@pytest.mark.parametrize("name", sorted(JS_ONLY_CSV))
def test_the_page_names_a_js_only_csv_case(driven, name):
    assert JS_ONLY_CSV[name][1] in driven["csvs"][name]["error"]
