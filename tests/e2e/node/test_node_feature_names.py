"""The Node consumer matches CSV columns to ``manifest.input.feature_names`` by name, like aeruntime.

Needs ``node`` (else skipped) and ``examples/node/node_modules`` (``npm ci --prefix examples/node``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import aeruntime
from tests.aeruntime.tables.test_tables import DENSE, NAMES, make_named_bundle
from tests.conftest import ROOT

NODE = shutil.which("node")
CLI = ROOT / "examples" / "node" / "cli.js"

pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not installed")


def run_node(*args) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NODE, str(CLI), *map(str, args)], capture_output=True, text=True, timeout=120, check=False)


def _csv(path: Path, X: np.ndarray, names: list[str]) -> Path:
    np.savetxt(path, X, delimiter=",", header=",".join(names), comments="", fmt="%.9g")
    return path


def test_node_reads_csv_columns_by_name(tmp_path):
    named_bundle = make_named_bundle(tmp_path)
    if not (CLI.parent / "node_modules" / "onnxruntime-node").is_dir():
        pytest.fail("examples/node/node_modules is missing: run `npm ci --prefix examples/node`.")
    m = json.loads((DENSE / "manifest.json").read_text())
    rng = np.random.default_rng(0)
    X = np.asarray(m["scaler"]["mean"]) + np.asarray(m["scaler"]["scale"]) * rng.standard_normal((25, 64))
    X = X.astype(np.float32)
    expected = aeruntime.load(DENSE, providers="cpu").score(X)
    # reversed columns and an extra one: matched by name, the extra reported on stderr
    table = np.column_stack([X[:, ::-1], np.arange(25)])
    r = run_node("score", named_bundle, _csv(tmp_path / "rev.csv", table, [*NAMES[::-1], "note"]), "--json")
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(json.loads(r.stdout)["scores"], expected, rtol=1e-5, atol=1e-6)
    assert "ignored 1 column(s) the model does not use: note" in r.stderr
    # a missing column is a usage error listing it
    r = run_node("score", named_bundle, _csv(tmp_path / "m.csv", X[:, :63], NAMES[:63]))
    assert r.returncode == 2 and "missing 1 of the 64 feature columns" in r.stderr and "px63" in r.stderr
    # without names in the manifest the same reversed file is read by position: different scores
    r = run_node("score", DENSE, tmp_path / "rev.csv", "--json")
    assert r.returncode == 2 and "rows have 65 columns, but the model expects 64" in r.stderr  # by position
