"""The runtime's boundary: no torch, aeexport, onnx or scikit-learn; a clear error without onnxruntime;
providers reported from the real sessions."""

from __future__ import annotations

import subprocess
import sys

import pytest

import aeruntime
from aeruntime.errors import ProviderError

from ..conftest import MODELS, SUBPROCESS_ENV


def test_providers_report_the_real_session_providers(dense_bundle):
    import onnxruntime as ort

    m = aeruntime.load(dense_bundle, providers="cpu")
    assert m.providers == ["CPUExecutionProvider"]
    auto = aeruntime.load(dense_bundle, providers="auto")
    assert auto.providers == auto._sessions["scorer"].get_providers()
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(ProviderError, match="no CUDAExecutionProvider.*aeruntime\\[gpu\\]"):
            aeruntime.load(dense_bundle, providers="cuda")
    with pytest.raises(ProviderError, match="not known"):
        aeruntime.load(dense_bundle, providers="tpu")


def test_runtime_import_boundary_never_imports_torch():
    code = (
        "import sys, numpy as np, aeruntime\n"
        f"m = aeruntime.load({str(MODELS / 'digits-dense')!r}, providers='cpu')\n"
        "s = m.score(np.zeros((3, 64), np.float32)); m.encode(np.zeros((1, 64))); m.explain(np.ones((2, 64)))\n"
        "import aeruntime.format, aeruntime.sessions\n"
        "assert s.shape == (3,)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'aeexport', 'onnx', 'sklearn'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=SUBPROCESS_ENV, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_missing_onnxruntime_names_the_pip_command():
    code = "import sys; sys.modules['onnxruntime'] = None\nimport aeruntime\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=SUBPROCESS_ENV)
    assert out.returncode == 1
    assert "ImportError" in out.stderr and "pip install 'aeruntime[cpu]'" in out.stderr
