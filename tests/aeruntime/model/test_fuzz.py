"""Property tests (hypothesis): arbitrary arrays into score/predict/encode, arbitrary
manifest mutations into load. Never a crash, never a wrong-shape result, only our
typed errors."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest

import aeruntime
from aeruntime.errors import AeError, InvalidInputError
from tests.helpers import copy_bundle, read_manifest

hypothesis = pytest.importorskip(
    "hypothesis", reason="needs hypothesis: the property tests run with pip install hypothesis"
)
HealthCheck, event, given, settings = hypothesis.HealthCheck, hypothesis.event, hypothesis.given, hypothesis.settings
st = pytest.importorskip("hypothesis.strategies")
hnp = pytest.importorskip("hypothesis.extra.numpy")

N = 64
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@pytest.fixture(scope="module")
def model(shipped_dense):
    return aeruntime.load(shipped_dense, providers="cpu")


NUMERIC = [np.float32, np.float64, np.float16, ">f4", ">f8", np.int8, np.int64, np.uint64, np.bool_]
OTHER = [np.complex64, "U2", "S2", "datetime64[s]", "m8[s]"]

shapes = st.one_of(
    st.tuples(st.integers(0, 5), st.just(N)),  # right width, maybe empty
    st.tuples(st.integers(1, 5), st.just(N)),
    st.tuples(st.integers(0, 3), st.integers(0, 70)),  # wrong width
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
)
object_elements = st.one_of(
    st.floats(), st.integers(-(2**1100), 2**1100), st.none(), st.text(max_size=3), st.booleans()
)


@st.composite
def arrays(draw: Any) -> np.ndarray:
    dtype = draw(st.sampled_from(NUMERIC + OTHER + [object]))
    shape = draw(shapes)
    if dtype is object:
        arr = draw(hnp.arrays(object, shape, elements=object_elements))
    else:
        arr = draw(hnp.arrays(np.dtype(dtype), shape))
        if arr.dtype.kind == "f" and draw(st.booleans()):  # often clean, so valid input is common too
            arr[~np.isfinite(arr)] = 0
    layout = draw(st.sampled_from(["asis", "fortran", "strided", "list"]))
    if layout == "fortran":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim >= 1:
        arr = np.repeat(arr, 2, axis=-1)[..., ::2]
    elif layout == "list" and dtype is not object:
        return arr.tolist()
    return arr


def _valid(x: Any) -> bool | None:
    """True/False when we know whether ``x`` is a valid batch; None for object arrays."""
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if arr.dtype.kind == "O":
        return None
    if arr.dtype.kind not in "fiub" or arr.ndim != 2 or arr.shape[1] != N or arr.shape[0] == 0:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        f32 = arr.astype(np.float32)
        if not np.isfinite(f32).all():
            return False
        # finite rows whose score overflows float32 (values near its limit) are refused too
        return True if float(np.abs(f32).max()) < 1e15 else None


@pytest.mark.parametrize("method", ["score", "predict", "encode"])
@FUZZ
@given(x=arrays())
def test_array_inputs_never_crash(model, method, x):
    valid = _valid(x)
    try:
        out = getattr(model, method)(x)
    except InvalidInputError as exc:
        event("refused")
        assert valid is not True, f"valid input refused: {exc}"
        assert "expect" in str(exc)  # the message says what was expected
        return
    event("accepted")
    assert valid is not False, "invalid input accepted"
    n = len(x)
    expected_shape = (n, *model.latent_shape) if method == "encode" else (n,)
    assert out.shape == expected_shape
    assert out.dtype == (np.int8 if method == "predict" else np.float32)
    if method == "predict":
        assert set(np.unique(out)) <= {0, 1}


# ---------------------------------------------------------------------------- manifest mutations
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):  # first items are enough (scaler lists hold 64)
            out += _paths(v, (*prefix, i))
    return out


def _mutate(m: dict, path: tuple, op: str, value: Any) -> Any:
    if not path:
        return value if op == "replace" else m
    parent = m
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = value
    elif op == "wrap":
        parent[last] = [parent[last]]
    elif op == "stringify":
        parent[last] = json.dumps(parent[last])
    return m


@pytest.fixture(scope="module")
def fuzz_bundle(tmp_path_factory, shipped_dense):
    return copy_bundle(shipped_dense, tmp_path_factory.mktemp("fuzz") / "bundle")


@FUZZ
@given(data=st.data())
def test_manifest_mutations_give_only_typed_errors(fuzz_bundle, data):
    original = (
        read_manifest(fuzz_bundle)
        if not hasattr(test_manifest_mutations_give_only_typed_errors, "m")
        else test_manifest_mutations_give_only_typed_errors.m
    )
    test_manifest_mutations_give_only_typed_errors.m = original
    m: Any = copy.deepcopy(original)
    for _ in range(data.draw(st.integers(1, 3), label="n_mutations")):
        paths = _paths(m)
        path = data.draw(st.sampled_from(paths), label="path")
        op = data.draw(st.sampled_from(["replace", "delete", "wrap", "stringify"]), label="op")
        m = _mutate(m, path, op, data.draw(json_values, label="value") if op == "replace" else None)
    try:
        (fuzz_bundle / "manifest.json").write_text(json.dumps(m))  # NaN/Infinity tokens included
        try:
            loaded = aeruntime.load(fuzz_bundle, providers="cpu")
        except AeError as exc:
            event(f"refused: {type(exc).__name__}")
            return
        event("loaded")
        x = np.full((5, *loaded.input_shape), 3.0, np.float32)
        s = loaded.score(x)
        assert s.shape == (5,)
        assert loaded.predict(x).shape == (5,)
        assert loaded.encode(x).shape == (5, *loaded.latent_shape)
        assert loaded.decode(loaded.encode(x)).shape == x.shape
        assert math.isfinite(loaded.threshold)
        json.dumps(loaded.info())
    finally:
        (fuzz_bundle / "manifest.json").write_text(json.dumps(original, indent=2))
