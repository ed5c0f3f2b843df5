"""The runtime's boundary: no torch, aeexport, onnx or scikit-learn; a clear error without onnxruntime;
providers reported from the real sessions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import aeruntime
from aeruntime.errors import ProviderError
from tests.conftest import MODELS, SUBPROCESS_ENV


def test_providers_report_the_real_session_providers(shipped_dense):
    import onnxruntime as ort

    m = aeruntime.load(shipped_dense, providers="cpu")
    assert m.providers == ["CPUExecutionProvider"]
    auto = aeruntime.load(shipped_dense, providers="auto")
    assert auto.providers == auto._sessions["scorer"].get_providers()
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(ProviderError, match="no CUDAExecutionProvider.*aeruntime\\[gpu\\]"):
            aeruntime.load(shipped_dense, providers="cuda")
    with pytest.raises(ProviderError, match="not known"):
        aeruntime.load(shipped_dense, providers="tpu")


def test_runtime_import_boundary_never_imports_torch():
    code = (
        "import sys, numpy as np, aeruntime\n"
        f"m = aeruntime.load({str(MODELS / 'digits-dense')!r}, providers='cpu')\n"
        "s = m.score(np.zeros((3, 64), np.float32)); m.encode(np.zeros((1, 64))); m.explain(np.ones((2, 64)))\n"
        "import aeruntime.format, aeruntime.sessions\n"
        "assert s.shape == (3,)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'aeexport', 'onnx', 'sklearn', 'pyarrow'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=SUBPROCESS_ENV, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_missing_onnxruntime_names_the_pip_command():
    code = "import sys; sys.modules['onnxruntime'] = None\nimport aeruntime\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=SUBPROCESS_ENV)
    assert out.returncode == 1
    assert "ImportError" in out.stderr and "pip install 'aeruntime[cpu]'" in out.stderr


def test_arrays_need_no_pyarrow_and_tables_name_the_extra(tmp_path):
    """An edge install (aeruntime[cpu], no pyarrow) scores .npy files; reading CSV, writing Parquet say what to install."""
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((4, 64), np.float32))
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "from aeruntime.cli import main\n"
        "sys.argv = ['aeruntime', 'score', sys.argv[1], sys.argv[2], '--out', sys.argv[3]]\n"
        "main()\n"
    )
    bundle = str(MODELS / "digits-dense")
    ok = subprocess.run(
        [sys.executable, "-c", code, bundle, str(x), str(tmp_path / "s.npy")],
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
    )
    assert ok.returncode == 0, ok.stderr
    assert np.load(tmp_path / "s.npy", allow_pickle=False)["score"].shape == (4,)
    for args in ([str(x), str(tmp_path / "s.parquet")], [str(tmp_path / "x.csv"), str(tmp_path / "s2.npy")]):
        bad = subprocess.run(
            [sys.executable, "-c", code, bundle, *args], capture_output=True, text=True, env=SUBPROCESS_ENV
        )
        assert bad.returncode == 2, bad.stderr
        assert "needs pyarrow, which is not installed; pip install 'aeruntime[tables]'" in bad.stderr
        assert "Traceback" not in bad.stderr
