"""onnxruntime sessions for a bundle's checked graphs, and the functions that run them.

The one place that calls ``ort.InferenceSession`` for :class:`aeruntime.Model`:

- :func:`session_options`: the default ``SessionOptions`` (threads = the CPUs this
  process may use);
- :func:`create_session`: a session on the checked bytes from
  :func:`aeruntime.format.read_graphs`, with the provider fallback of ``"auto"``
  and onnxruntime's errors turned into :class:`~aeruntime.errors.BundleError`;
- :func:`check_session` : its input/output names and shapes and its
  ``aeexport.bundle_id`` against the manifest;
- :func:`make_runner`: ``x -> first output`` on CPU, or with IO binding on CUDA.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._ort import ort
from .errors import AeError, BundleError, IntegrityError, ProviderError
from .format.constants import CORE_ROLES, META_PREFIX
from .format.graphs import RECOPY, check_bundle_id, check_io_names
from .providers import CPU, CUDA, missing_cuda_text

__all__ = [
    "ORT_ERRORS",
    "TypedSession",
    "check_session",
    "check_session_io",
    "create_session",
    "make_runner",
    "session_options",
    "usable_cpus",
]

Runner = Callable[[np.ndarray], np.ndarray]

#: what onnxruntime raises when it cannot run a graph: its pybind exception types, and
#: RuntimeError (std::runtime_error). MemoryError is not one: a batch too large for this
#: machine is not a fault of the bundle.
ORT_ERRORS: tuple[type[BaseException], ...] = (
    RuntimeError,
    *(
        e
        for e in vars(getattr(getattr(ort, "capi", None), "onnxruntime_pybind11_state", None) or {}).values()
        if isinstance(e, type) and issubclass(e, Exception) and not issubclass(e, (MemoryError, AeError))
    ),
)


def usable_cpus() -> int:
    """CPUs this process may run on (``sched_getaffinity``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads: int | None = None) -> Any:
    """``ort.SessionOptions`` with ``intra_op_num_threads`` = ``threads`` or :func:`usable_cpus`.

    onnxruntime's own default counts physical cores through cpuinfo, which reports 1
    on some VMs and containers; the CPUs this process may run on is the better
    default (measured 1.6x throughput on a 2-vCPU VM).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads) if threads is not None else usable_cpus()
    # errors only: onnxruntime warns about every input with an initializer default, which is what
    # a decision scorer's optional threshold input is (aeruntime.decisions)
    options.log_severity_level = 3
    return options


def _provider_session(data: bytes, options: Any, providers: list[Any], mode: str) -> Any:
    """``ort.InferenceSession`` that, for ``mode="auto"``, retries on CPU if CUDA fails to start.

    Some onnxruntime-gpu builds raise instead of falling back when CUDA cannot be
    initialized; ``"auto"`` must still run, ``"cuda"`` must still raise.
    """
    try:
        return ort.InferenceSession(data, sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/RuntimeException types
        names = [p[0] if isinstance(p, tuple) else p for p in providers]
        if CUDA not in names:
            raise
        if mode == "cuda":
            raise ProviderError(
                f"providers='cuda' was requested, but creating a CUDA session failed ({exc}); "
                f"{missing_cuda_text()}. Use providers='auto' to fall back to CPU."
            ) from None
        return ort.InferenceSession(data, sess_options=options, providers=[CPU])


class TypedSession:
    """An ``ort.InferenceSession`` whose ``run`` / ``run_with_iobinding`` raise :class:`BundleError`
    when onnxruntime fails on the graph (a hostile but well-formed graph: absurd shapes or
    allocations), never an untyped error reported as a bug. Everything else is the session's."""

    def __init__(self, sess: Any, name: str) -> None:
        self._sess, self._name, self._run = sess, name, sess.run

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._sess, attr)

    def _failed(self, exc: BaseException) -> BaseException:
        if isinstance(exc, AeError):  # ours (ProviderError is a RuntimeError): as it is
            return exc
        text = str(exc).strip()
        first = text.splitlines()[0][:300] if text else type(exc).__name__
        return BundleError(
            f"the graph could not be run by onnxruntime {ort.__version__} ({self._name}): {first}. The graph "
            "is damaged or was not written by aeexport: re-export the bundle."
        )

    def run(self, *args: Any, **kwargs: Any) -> Any:
        try:  # the hot path of every batch: no extra call when nothing fails
            return self._run(*args, **kwargs)
        except ORT_ERRORS as exc:
            raise self._failed(exc) from None

    def run_with_iobinding(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._sess.run_with_iobinding(*args, **kwargs)
        except ORT_ERRORS as exc:
            raise self._failed(exc) from None


def create_session(data: bytes, name: str, options: Any, providers: list[Any], mode: str = "list") -> Any:
    """``ort.InferenceSession`` on checked bytes (a :class:`TypedSession`); onnxruntime's errors
    at creation and at run become :class:`BundleError` (exit code 1)."""
    try:
        return TypedSession(_provider_session(data, options, providers, mode), name)
    except ProviderError:
        raise
    except Exception as exc:  # noqa: BLE001 (onnxruntime raises its own pybind exception types)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(
            f"onnxruntime {ort.__version__} cannot load {name}: {first[:300]}. The graph may need a newer "
            "onnxruntime (pip install -U onnxruntime) or be damaged (re-export the bundle)."
        ) from None


def _dims(shape: Any) -> list[Any]:
    return [d if isinstance(d, int) else None for d in (shape or [])]


def check_session_io(sess: Any, role: str, manifest: dict[str, Any], name: str) -> None:
    """Check the session's input/output names (and, for core roles, shapes) against the manifest."""
    ins, outs = sess.get_inputs(), sess.get_outputs()
    check_io_names([i.name for i in ins], "inputs", role, manifest, name)
    check_io_names([o.name for o in outs], "outputs", role, manifest, name)
    if role not in CORE_ROLES:
        return
    in_shape, latent = list(manifest["input"]["shape"]), list(manifest["latent"]["shape"])
    expect = {
        "encoder": ([in_shape], [latent]),
        "decoder": ([latent], [in_shape]),
        "scorer": ([in_shape], [[]]),
    }[role]
    for kind, args, wants in (("input", ins, expect[0]), ("output", outs, expect[1])):
        for arg, want in zip(args, wants):
            dims = _dims(arg.shape)
            ok = (
                arg.type == "tensor(float)"
                and len(dims) == len(want) + 1
                and all(d is None or d == w for d, w in zip(dims[1:], want))
            )
            if not ok:
                raise IntegrityError(
                    f"{name}: {kind} {arg.name!r} is {arg.type} of shape {arg.shape}, but manifest.json "
                    f"describes float32 of shape (batch, {', '.join(map(str, want))}). {RECOPY}"
                )


def check_session(sess: Any, role: str, manifest: dict[str, Any], name: str) -> None:
    """:func:`check_session_io`, then the session's own ``aeexport.bundle_id`` (ORT-format graphs too)."""
    check_session_io(sess, role, manifest, name)
    check_bundle_id(sess.get_modelmeta().custom_metadata_map.get(META_PREFIX + "bundle_id"), manifest, name)


def _cuda_runner(sess: Any, inp: str, out: str) -> Runner:
    """IO binding on the CUDA path: the input is copied to the GPU once as an OrtValue and the
    output comes back in one copy, with no per-node staging."""

    def runner(x: np.ndarray) -> np.ndarray:
        binding = sess.io_binding()
        binding.bind_ortvalue_input(inp, ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0))
        binding.bind_output(out, "cpu")
        sess.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    return runner


def _cpu_runner(sess: Any, inp: str, out: str) -> Runner:
    run, outs = sess.run, [out]

    def runner(x: np.ndarray) -> np.ndarray:
        return run(outs, {inp: x})[0]

    return runner


def make_runner(sess: Any, inp: str, out: str) -> Runner:
    """``x -> sess's output `out``` for input ``inp``: IO binding when the session runs on CUDA."""
    return (_cuda_runner if CUDA in sess.get_providers() else _cpu_runner)(sess, inp, out)
