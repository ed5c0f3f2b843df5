"""Hostile bundles and CSV dialects: the Node consumer against aeruntime on the same inputs (issue 32, causes 5-7).

Each forged bundle of :data:`tests.conformance.corpus.BUNDLE_CASES` must be refused by
``node examples/node/cli.js check`` with its error code (one line, exit 1) and by
``aeruntime.load`` (any :class:`~aeruntime.errors.BundleError`), within a timeout: a Loop,
a FIFO or /dev/zero must not hang either. Each CSV of :data:`~tests.conformance.corpus.CSV_CASES`
must give ``node cli.js score`` the outcome ``aeruntime score`` has: the same exit code,
and on success the same number of rows and the same scores. The operator allow-list of
the JavaScript core must equal aeruntime's.

Needs ``node`` (else skipped) and ``npm ci --prefix examples/node`` (else FAILS).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime.errors import BundleError
from aeruntime.verify import verify_bundle
from tests.conformance.corpus import BASE, BUNDLE_CASES, CSV_CASES, JS_ONLY_CSV, forged
from tests.conftest import ROOT

NODE = shutil.which("node")
CLI = ROOT / "examples" / "node" / "cli.js"
CORE = ROOT / "aeexport" / "web" / "page" / "core"

pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not installed")


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> None:
    if not (CLI.parent / "node_modules" / "onnxruntime-node" / "package.json").is_file():
        pytest.fail("examples/node/node_modules is missing: run `npm ci --prefix examples/node --no-audit --no-fund`.")


def node(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NODE, str(CLI), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_the_allow_list_is_aeruntimes():
    from aeruntime.format import ops

    src = f"import * as ops from {json.dumps((CORE / 'ops.js').as_uri())};process.stdout.write(JSON.stringify(ops));"
    r = subprocess.run([NODE, "--input-type=module", "-e", src], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    assert {d: set(v) for d, v in js["ALLOWED_OPS"].items()} == {d: set(v) for d, v in ops.ALLOWED_OPS.items()}
    assert set(js["ALLOWED_DOMAINS"]) == set(ops.ALLOWED_DOMAINS)
    assert (js["MAX_DIM"], js["MAX_TENSOR_RANK"]) == (ops.MAX_DIM, ops.MAX_TENSOR_RANK)
    from aeruntime.format.constants import MAX_ROW_ELEMENTS

    assert js["MAX_ROW_ELEMENTS"] == MAX_ROW_ELEMENTS


# ----------------------------------------------------------------------------- bundles
@pytest.mark.parametrize("case", BUNDLE_CASES, ids=lambda c: c.name)
def test_a_forged_bundle_gets_aeruntimes_outcome_in_node(case, tmp_path):
    root = forged(case, tmp_path)
    r = node("check", root, timeout=30)
    err = r.stderr.strip()
    if case.code is None:
        assert r.returncode == 0, err
        n_listed = sum(1 for rel in json.loads((root / "manifest.json").read_text())["files"] if "/output_" in rel)
        assert f"all files, graphs and {n_listed} golden outputs ok" in r.stdout
    else:
        assert r.returncode == 1, (r.returncode, r.stdout, err)
        assert len(err.splitlines()) == 1 and err.startswith(f"aebundle: error [{case.code}]:"), err
    if case.vs_aeruntime:  # golden cases: only readers of the golden vectors refuse them (aeruntime verify)
        read = verify_bundle if case.golden else lambda r: aeruntime.load(r, providers="cpu")
        if case.code is None:
            read(root)
        else:
            with pytest.raises(BundleError):
                read(root)


@pytest.mark.parametrize(("partner", "code"), [("../../../etc/passwd", "INTEGRITY"), ("zero.onnx", "UNSAFE")])
def test_inspect_opens_no_partner_outside_or_special(tmp_path, partner, code):
    """``inspect`` reads partners named by the graph's own metadata: only regular files beside it."""
    from aeruntime.format import scan_model, set_model_metadata

    data = (BASE / "scorer.onnx").read_bytes()
    partners = json.loads(scan_model(data).metadata["aeexport.partners"])
    partners["encoder"]["file"] = partner
    (tmp_path / "scorer.onnx").write_bytes(set_model_metadata(data, {"aeexport.partners": json.dumps(partners)}))
    (tmp_path / "zero.onnx").symlink_to("/dev/zero")
    r = node("inspect", tmp_path / "scorer.onnx", timeout=30)
    assert r.returncode == 1 and r.stderr.startswith(f"aebundle: error [{code}]:"), r.stderr


def test_a_threshold_override_still_wins_over_the_agreeing_records(tmp_path):
    """The agreement check is on the bundle's records; --threshold at run time is the user's choice."""
    X = np.zeros((3, 64), np.float32)
    np.save(tmp_path / "x.npy", X)
    out = json.loads(node("score", BASE, tmp_path / "x.npy", "--json", "--threshold", "123").stdout)
    assert out["threshold"] == 123 and out["n_rows"] == 3


# ----------------------------------------------------------------------------- CSV dialects
def _aeruntime_score(path: Path) -> tuple[int, np.ndarray | None, str]:
    from aeruntime.cli import main

    r = CliRunner().invoke(main, ["score", str(BASE), str(path)])
    if r.exit_code != 0:
        return r.exit_code, None, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("score")
    return 0, np.array([float(ln.split(",")[0]) for ln in lines[1:]]), r.stderr


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_a_csv_dialect_gets_aeruntimes_rows_in_node(name, tmp_path):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(CSV_CASES[name])
    code, want, why = _aeruntime_score(path)
    r = node("score", BASE, path, "--json")
    assert r.returncode == code, (r.returncode, r.stderr, code, why)
    if code == 0:
        got = json.loads(r.stdout)
        assert got["n_rows"] == len(want)  # rows in = rows out: none lost, none added
        np.testing.assert_allclose(got["scores"], want, rtol=1e-6, atol=1e-7)
    else:
        err = r.stderr.strip()
        assert len(err.splitlines()) == 1 and err.startswith("aebundle: error [INVALID_INPUT]:"), err


@pytest.mark.parametrize("name", sorted(JS_ONLY_CSV))
def test_a_js_only_csv_case_is_refused_with_its_reason(name, tmp_path):
    data, fragment = JS_ONLY_CSV[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    r = node("score", BASE, path)
    assert r.returncode == 2 and "[INVALID_INPUT]" in r.stderr and fragment in r.stderr, r.stderr
