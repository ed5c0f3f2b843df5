"""Provider choice on this machine's onnxruntime build: auto fallback, explicit cuda, threads, doctor."""

from __future__ import annotations

import json
import subprocess
import warnings

import numpy as np
import onnxruntime as ort
import pytest

import aeruntime
from aeruntime import providers as P
from aeruntime.errors import ProviderError
from tests.conftest import BIN, SUBPROCESS_ENV

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


@pytest.fixture
def cuda_listed(monkeypatch):
    """Pretend this onnxruntime build lists CUDA (as onnxruntime-gpu does without a usable GPU)."""
    real = ort.get_available_providers()
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, *real])
    monkeypatch.setattr(P, "_warned_fallback", False)


@pytest.fixture
def no_cudnn(monkeypatch):
    """Every CUDA library loads except cuDNN."""
    monkeypatch.setattr(P, "_find_library", lambda name: f"lib{name}.so.99")

    def fake_cdll(name, *a, **k):
        if "cudnn" in name:
            raise OSError(f"{name}: cannot open shared object file")
        return object()

    monkeypatch.setattr(P.ctypes, "CDLL", fake_cdll)


def test_auto_falls_back_to_cpu_truthfully_and_warns_once(shipped_dense, cuda_listed, synthetic_split):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m1 = aeruntime.load(shipped_dense, providers="auto")
        m2 = aeruntime.load(shipped_dense, providers="auto")
        m1.encode(synthetic_split.val[:3])  # a later session must not retry CUDA or warn again
    ours = [w for w in caught if "aeruntime" in str(w.message)]
    assert len(ours) == 1 and issubclass(ours[0].category, RuntimeWarning)
    assert "running on CPU" in str(ours[0].message)
    assert m1.providers == [CPU] and m2.providers == [CPU]
    assert m1._sessions["encoder"].get_providers() == [CPU]


def test_explicit_cuda_raises_naming_the_missing_library(shipped_dense, cuda_listed, no_cudnn):
    assert P.missing_cuda_library() == "libcudnn"
    with pytest.raises(ProviderError, match="libcudnn could not be loaded"):
        aeruntime.load(shipped_dense, providers="cuda")


def test_explicit_cuda_without_a_gpu_build_names_the_package(shipped_dense):
    if CUDA in ort.get_available_providers():
        pytest.skip("this onnxruntime build has CUDA")
    with pytest.raises(ProviderError, match="onnxruntime-gpu") as exc:
        aeruntime.load(shipped_dense, providers="cuda")
    first_missing = P.missing_cuda_library()
    if first_missing:
        assert first_missing in str(exc.value)


def test_auto_retries_on_cpu_when_cuda_session_creation_raises(shipped_dense, cuda_listed, monkeypatch):
    real = ort.InferenceSession

    def failing(path, sess_options=None, providers=None, **kw):
        if CUDA in (providers or []):
            raise RuntimeError("CUDA failure 35: CUDA driver version is insufficient")
        return real(path, sess_options=sess_options, providers=providers, **kw)

    monkeypatch.setattr(ort, "InferenceSession", failing)
    with pytest.warns(RuntimeWarning, match="running on CPU"):
        m = aeruntime.load(shipped_dense, providers="auto")
    assert m.providers == [CPU]
    with pytest.raises(ProviderError, match="driver version is insufficient"):
        aeruntime.load(shipped_dense, providers="cuda")


def test_threads_and_session_options_pass_through(shipped_dense, synthetic_split):
    m = aeruntime.load(shipped_dense, providers="cpu", threads=1)
    assert m._sessions["scorer"].get_session_options().intra_op_num_threads == 1
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    m2 = aeruntime.load(shipped_dense, providers="cpu", session_options=opts)
    got = m2._sessions["scorer"].get_session_options()
    assert got.intra_op_num_threads == 2
    assert got.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    np.testing.assert_allclose(m2.score(synthetic_split.val), m.score(synthetic_split.val), rtol=1e-5)


def test_doctor_runs_and_reports_usable_providers():
    res = subprocess.run(
        [str(BIN / "aeruntime"), "doctor"], env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert ort.__version__ in res.stdout and "CPUExecutionProvider" in res.stdout and "libcudnn" in res.stdout
    res = subprocess.run(
        [str(BIN / "aeruntime"), "doctor", "--json"], env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=60
    )
    report = json.loads(res.stdout)
    assert report["available_providers"] == ort.get_available_providers()
    assert report["providers"][CPU]["usable"] is True
    assert {lib["name"] for lib in report["cuda_libraries"]} >= {"libcudart", "libcublas", "libcudnn"}


@pytest.mark.gpu
def test_cuda_session_runs_on_cuda_with_io_binding(shipped_dense, synthetic_split):
    m = aeruntime.load(shipped_dense, providers="cuda")
    assert m.providers[0] == CUDA
    assert "_cuda_runner" in m._score_fn.__qualname__
    cpu = aeruntime.load(shipped_dense, providers="cpu")
    np.testing.assert_allclose(m.score(synthetic_split.val), cpu.score(synthetic_split.val), rtol=1e-3, atol=1e-5)
