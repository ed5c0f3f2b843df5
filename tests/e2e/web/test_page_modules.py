"""The JavaScript core under Node, without a browser: the CSV rules and the explain ranking.

``aeexport/web/page/core/`` (shared by the page and examples/node) imports nothing
host-specific, so Node runs it as it is; the results are compared with aeruntime's rules (the
header rule of ``aeruntime.tables.header``, ``numpy.argsort(-err, kind="stable")`` of
``aeruntime.explain``). Needs ``node`` (else skipped); no npm install.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from aeexport.web import PAGE_DIR

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not installed")


def run_js(body: str, data: object = None) -> object:
    """Run an ES module body with ``table`` and ``bundle`` imported and ``DATA`` defined; return its JSON."""
    src = (
        f"import * as table from {json.dumps((PAGE_DIR / 'core' / 'table.js').as_uri())};\n"
        f"import * as bundle from {json.dumps((PAGE_DIR / 'core' / 'bundle.js').as_uri())};\n"
        f"const DATA = {json.dumps(data)};\n"
        f"const out = await (async () => {{ {body} }})();\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    r = subprocess.run([NODE, "--input-type=module", "-e", src], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


PARSE = """
  const res = [];
  for (const [text, spec] of DATA) {
    try {
      const r = table.parseCsv(text, 'rows.csv', spec);
      res.push({ n: r.n, data: Array.from(r.data), header: r.header, ignored: r.ignored });
    } catch (e) {
      res.push({ error: e.message, code: e.code });
    }
  }
  return res;
"""


def test_csv_header_rule_and_columns():
    plain = {"width": 3, "featureNames": None}
    named = {"width": 3, "featureNames": ["a", "b", "c"]}
    cases = [
        ("a,b,c\n1,2,3\n4,5,6\n", plain),  # a name: a header; positional without feature names
        ("1,2,3\n4,5,6\n", plain),  # all numbers: data
        ("0,1,2\n1,2,3\n", plain),  # pandas' default names: a header
        ("c,x,a,b\n3,9,1,2\n", named),  # by name, any order; x ignored
        ("1,2,3\n", named),  # header-less rows stay positional
        ("a,b\n1,2\n", named),  # a missing feature column
        ("a,b,c\n1,,3\n", plain),  # a missing value
        ("a,b,c\n1,nan,3\n", plain),  # NaN
        ("1,2\n", plain),  # the wrong width
        ("a,b,c\n1,2,3\n4,5\n", plain),  # a short line
        ("\n\n", plain),  # empty
        ('"a","b","c"\r\n1.5e0,-2,+3\r\n', plain),  # quotes, CRLF, signs and exponents
    ]
    got = run_js(PARSE, cases)
    assert got[0] == {"n": 2, "data": [1, 2, 3, 4, 5, 6], "header": True, "ignored": []}
    assert got[1] == {"n": 2, "data": [1, 2, 3, 4, 5, 6], "header": False, "ignored": []}
    assert got[2]["header"] is True and got[2]["n"] == 1
    assert got[3] == {"n": 1, "data": [1, 2, 3], "header": True, "ignored": ["x"]}
    assert got[4] == {"n": 1, "data": [1, 2, 3], "header": False, "ignored": []}
    assert "missing 1 of the 3 feature columns" in got[5]["error"] and '"c"' in got[5]["error"]
    assert 'missing value in column "b", line 2' in got[6]["error"]
    assert 'line 2, column "b" is nan' in got[7]["error"]
    assert "rows have 2 columns, but the model expects 3" in got[8]["error"]
    assert "line 3 has 2 fields, but the header has 3" in got[9]["error"]
    assert "empty" in got[10]["error"]
    assert got[11] == {"n": 1, "data": [1.5, -2, 3], "header": True, "ignored": []}
    assert {g.get("code") for g in got if "error" in g} == {"INVALID_INPUT"}


def test_explain_ranks_like_numpys_stable_argsort_with_ties():
    rng = np.random.default_rng(3)
    err = rng.choice(np.float32([0, 0.25, 0.5, 1, 2]), size=(40, 12)).astype(np.float32)  # many ties
    err[0] = 0  # a row without error: shares 0
    got = run_js(
        "const e = Float32Array.from(DATA.err);"
        "const r = bundle.Bundle.prototype.explainErrors.call({ width: 12 }, e, 40, 4, null);"
        "return { indices: r.indices, shares: r.shares, errors: r.errors, scores: Array.from(r.scores) };",
        {"err": err.ravel().tolist()},
    )
    idx = np.argsort(-err, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(got["indices"], idx)
    top = np.take_along_axis(err, idx, axis=1)
    total = err.sum(axis=1, keepdims=True)
    shares = np.divide(top, total, out=np.zeros_like(top), where=total > 0)
    np.testing.assert_array_equal(got["errors"], top)
    np.testing.assert_allclose(got["shares"], shares, rtol=1e-6)
    np.testing.assert_allclose(got["scores"], err.mean(axis=1), rtol=1e-6)
    assert got["shares"][0] == [0, 0, 0, 0]


def test_compare_is_numpys_isclose_rule():
    got = run_js(
        "return DATA.map(([a, e]) => bundle.compare(a, e, { atol: 1e-5, rtol: 1e-4 }).ok);",
        [([1.0001], [1.0]), ([1.0002], [1.0]), ([0.0], [9e-6]), ([0.0], [2e-5]), ([1, 2], [1])],
    )
    assert got == [True, False, True, False, False]


def test_operating_point_lines_are_aeruntimes_word_for_word():
    """core/decisions.js' operatingPoint / operatingPointLine (Node, the page) against aeruntime.decisions.operating_point:
    rank, interval (the Beta quantiles) and the printed line, character for character, and %g formatting."""
    from aeruntime.decisions import operating_point

    rng = np.random.default_rng(0)
    cases = [
        (fpr, n) for n in (19, 99, 242, 1023, 4095) for fpr in (0.01, 0.05, 0.1, 0.2, 0.5, 0.999) if fpr * (n + 1) >= 1
    ]
    cals = {n: np.sort(rng.lognormal(0, 2, n).astype(np.float32)) for _, n in cases}
    got = run_js(
        """
        const d = await import(DATA.decisions);
        return DATA.cases.map(([fpr, n]) => {
          const op = d.operatingPoint(fpr, n, Float64Array.from(DATA.cals[n]));
          return [op.rank, op.low, op.high, d.operatingPointLine(op)];
        });
        """,
        {
            "decisions": (PAGE_DIR / "core" / "decisions.js").as_uri(),
            "cases": cases,
            "cals": {n: c.tolist() for n, c in cals.items()},
        },
    )
    for (fpr, n), (rank, low, high, line) in zip(cases, got):
        want = operating_point(fpr, n, cals[n])
        assert (rank, line) == (want.rank, want.line())
        assert abs(low - want.low) < 1e-9 and abs(high - want.high) < 1e-9  # log-factorials vs lgamma
    numbers = [
        0.0,
        1.0,
        0.1,
        123456.0,
        1234567.0,
        1e-5,
        1.5e-4,
        9.99995e-5,
        0.000123456789,
        3.14159265,
        1e21,
        -2.5e-7,
        99999.95,
    ]
    formatted = run_js(
        "const d = await import(DATA.decisions); return DATA.x.map((v) => [d.formatG(v, 6), d.formatG(v, 4)]);",
        {"decisions": (PAGE_DIR / "core" / "decisions.js").as_uri(), "x": numbers},
    )
    assert formatted == [[f"{v:.6g}", f"{v:.4g}"] for v in numbers]
