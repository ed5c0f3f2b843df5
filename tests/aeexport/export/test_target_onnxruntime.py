"""``--target-onnxruntime``: a bundle exported for the oldest onnxruntime pip offers loads and scores there.

The old runtime runs in its own venv (onnxruntime + numpy only, about 210 MB, made once in the
cache folder ``$AEEXPORT_CACHE``, default ``~/.cache/aeexport``), driven by a small script that
knows nothing of aeruntime: what an embedded deployer with an old onnxruntime does. Making it
needs pip to reach a package index; without one these tests skip and say so (not in CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

import aeruntime

#: the oldest onnxruntime pip offers for Python 3.11 (`pip index versions onnxruntime`)
OLDEST = "1.15.1"
CACHE = Path(os.environ.get("AEEXPORT_CACHE") or Path.home() / ".cache" / "aeexport")

SCORE = r"""
import json, sys
import numpy as np
import onnxruntime as ort
path, rows, out = sys.argv[1:]
try:
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
except Exception as e:
    print(json.dumps({"version": ort.__version__, "error": str(e).splitlines()[0]}))
    sys.exit(0)
np.save(out, s.run(None, {"x": np.load(rows, allow_pickle=False)})[0])
print(json.dumps({"version": ort.__version__, "meta": s.get_modelmeta().custom_metadata_map}))
"""


@pytest.fixture(scope="session")
def old_python() -> Path:
    """The interpreter of a venv holding only onnxruntime==OLDEST and numpy<2 (cached between runs)."""
    root = CACHE / f"onnxruntime-{OLDEST}"
    py = root / "bin" / "python"
    if not (root / ".done").is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True)
        pip = [str(py), "-m", "pip", "install", "-q", f"onnxruntime=={OLDEST}", "numpy<2"]
        r = subprocess.run(pip, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1][:200]
            pytest.skip(f"needs onnxruntime=={OLDEST} from a package index (pip failed: {last}); give pip access")
        (root / ".done").write_text("ok\n")
    return py


@pytest.fixture(scope="session")
def old_bundle(tmp_path_factory, dense_trained, digits_split) -> Path:
    from aeexport.export import export_bundle
    from aeexport.settings import ExportOptions

    out = tmp_path_factory.mktemp("bundles") / "dense-ort115"
    export_bundle(
        dense_trained.model, out, calibration_x=digits_split.val, options=ExportOptions(target_onnxruntime="1.15")
    )
    return out


def _score_in(py: Path, graph: Path, X: np.ndarray, tmp: Path) -> tuple[dict, np.ndarray | None]:
    np.save(tmp / "rows.npy", X)
    (tmp / "score.py").write_text(SCORE)
    r = subprocess.run(
        [str(py), str(tmp / "score.py"), str(graph), str(tmp / "rows.npy"), str(tmp / "s.npy")],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(r.stdout)
    return res, (np.load(tmp / "s.npy", allow_pickle=False) if "error" not in res else None)


def test_target_writes_the_older_opset_and_ir(old_bundle):
    m = json.loads((old_bundle / "manifest.json").read_text())
    assert m["min_onnxruntime"] == "1.15" and m["parity"]["ok"] is True
    for g in m["graphs"].values():
        proto = onnx.load(old_bundle / g["file"])
        assert proto.ir_version == 9
        assert [(o.domain, o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [("", 18)]
    assert aeruntime.load(old_bundle).info()["min_onnxruntime"] == "1.15"


def test_old_runtime_scores_the_targeted_bundle(old_python, old_bundle, digits_split, tmp_path):
    X = digits_split.test.astype(np.float32)
    res, got = _score_in(old_python, old_bundle / "scorer.onnx", X, tmp_path)
    assert res["version"] == OLDEST
    assert res["meta"]["aeexport.min_onnxruntime"] == "1.15"
    want = aeruntime.load(old_bundle).score(X)
    tol = json.loads((old_bundle / "manifest.json").read_text())["parity"]["tolerance"]
    np.testing.assert_allclose(got, want, atol=tol["atol"], rtol=tol["rtol"])


def test_old_runtime_refuses_the_default_export(old_python, dense_bundle, digits_split, tmp_path):
    """The rule is real: the default export (IR 10) needs 1.18 and onnxruntime 1.15 refuses it."""
    assert json.loads((dense_bundle / "manifest.json").read_text())["min_onnxruntime"] == "1.18"
    res, _ = _score_in(old_python, dense_bundle / "scorer.onnx", digits_split.test[:4], tmp_path)
    assert "error" in res and "ir version" in res["error"].lower(), res


def test_cli_refuses_an_unknown_target(tmp_path):
    from aeexport.cli import main

    r = CliRunner().invoke(
        main, ["export", str(tmp_path), "--out", str(tmp_path / "b"), "--target-onnxruntime", "1.12"]
    )
    assert r.exit_code == 2, r.output
    assert "onnxruntime 1.12 is older than the oldest release aeexport knows (1.15" in r.output
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("kind", ["int8-dynamic", "fp16"])
def test_quantize_for_the_old_runtime(kind, old_python, dense_bundle, digits_split, tmp_path):
    """A variant made with --target-onnxruntime 1.15 from a default (1.18) parent scores in 1.15."""
    from aeexport.variants import make_variant

    out = tmp_path / kind
    m = make_variant(dense_bundle, kind, out, X=digits_split.val, target_onnxruntime="1.15")
    assert m["min_onnxruntime"] == "1.15"
    assert onnx.load(out / "scorer.onnx").ir_version == 9
    X = digits_split.test.astype(np.float32)
    res, got = _score_in(old_python, out / "scorer.onnx", X, tmp_path)
    assert res["version"] == OLDEST and "error" not in res, res
    tol = m["golden"]["tolerance"]
    np.testing.assert_allclose(got, aeruntime.load(out).score(X), atol=tol["atol"], rtol=tol["rtol"])


def test_quantize_cli_refuses_an_unknown_target(dense_bundle, tmp_path):
    from aeexport.cli import main

    args = ["quantize", str(dense_bundle), "--fp16", "--out", str(tmp_path / "v"), "--target-onnxruntime", "one"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "expected an onnxruntime release such as '1.17' or '1.17.3', got 'one'" in r.output
    assert not (tmp_path / "v").exists()


def test_ort_format_variant_needs_1_16(old_python, old_bundle, digits_split, tmp_path):
    """ORT format version 6: onnxruntime 1.15 refuses the file even when its graph is opset 18, IR 9."""
    from aeexport.variants import make_variant

    m = make_variant(old_bundle, "ort", tmp_path / "ort", X=digits_split.val)
    assert m["min_onnxruntime"] == "1.16"
    res, _ = _score_in(old_python, tmp_path / "ort" / "scorer.ort", digits_split.test[:4], tmp_path)
    assert "ORT format model version" in res.get("error", ""), res
