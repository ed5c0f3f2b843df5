"""Hostile requests get a v2 error with the command line's words, and the server stays ready.

The reference wording is aeruntime's own: the message ``aeruntime.load(...).score`` raises
for the same rows (the row rule, :mod:`aeruntime.validation`), which ``aeruntime score`` prints.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import aeruntime
from aeruntime.errors import InvalidInputError
from aeruntime.validation import FINITE_FIX
from tests.conftest import SUBPROCESS_ENV

from .conftest import CLIENT_EXTRA, LIMIT, post, v2_request


def _nan_rows():
    x = np.ones((4, 64), np.float32)
    x[2, 5] = np.nan
    return x


#: name -> (rows, v2 datatype): what the API refuses, sent as a request
BAD_ROWS = {
    "width": (np.ones((3, 10), np.float32), "FP32"),
    "nan": (_nan_rows(), "FP32"),
    "dtype": (np.array([["a"] * 64]), "BYTES"),
}


@pytest.fixture(scope="module")
def model(shipped_dense):
    return aeruntime.load(shipped_dense, providers="cpu")


def api_message(model, rows) -> str:
    with pytest.raises(InvalidInputError) as info:
        model.score(rows)
    return str(info.value)


def _still_serving(server, model):
    assert server.proc.poll() is None, "the server died"
    assert server.ready()
    x = np.full((2, 64), 4.0, np.float32)
    r = post(server, v2_request(x))
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["outputs"][0]["data"], model.score(x), rtol=1e-5)


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_over_rest_get_the_api_message(server, model, case):
    rows, datatype = BAD_ROWS[case]
    body = {"inputs": [{"name": "x", "shape": list(rows.shape), "datatype": datatype, "data": rows.ravel().tolist()}]}
    r = post(server, json.dumps(body))  # NaN goes out as the JSON extension `NaN`, as Python writes it
    assert r.status_code == 400
    assert r.json() == {"error": api_message(model, rows)}
    _still_serving(server, model)


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_over_grpc_get_the_api_message(server, model, case):
    grpcclient = pytest.importorskip("tritonclient.grpc", reason=CLIENT_EXTRA)
    from tritonclient.utils import InferenceServerException

    rows, datatype = BAD_ROWS[case]
    client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{server.grpc}")
    inp = grpcclient.InferInput("x", list(rows.shape), datatype)
    inp.set_data_from_numpy(rows.astype(object) if datatype == "BYTES" else rows)
    with pytest.raises(InferenceServerException) as info:
        client.infer(server.name, [inp])
    assert info.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert info.value.message() == api_message(model, rows)
    _still_serving(server, model)


@pytest.mark.parametrize(
    ("body", "status", "match"),
    [
        ('{"inputs": [', 400, r"^the request body is not valid JSON \(.*\); send a v2 inference request: "),
        ("[1, 2, 3]", 400, r"^the request body is not a v2 inference request \(.*\); send one like "),
        ('{"rows": [[1, 2]]}', 400, r"^the request body is not a v2 inference request \(inputs: Field required\)"),
        (
            json.dumps({"inputs": [{"name": "x", "shape": [2, 64], "datatype": "FP32", "data": [1.0] * 64}]}),
            400,
            r"^input 'x' declares shape \[2, 64\] \(128 values\) but holds 64 values",
        ),
        (
            json.dumps(v2_request(np.ones((2, 64), np.float32), name="rows")),
            400,
            r"^the request has inputs \['rows'\], but model '.*' takes one input 'x' of shape \[-1, 64\]",
        ),
        (b"{" + b" " * (LIMIT + 10) + b"}", 413, rf"holds {LIMIT + 12} bytes, but this server accepts at most {LIMIT}"),
        (iter([b"{", b" " * (LIMIT + 10), b"}"]), 413, rf"holds more, but this server accepts at most {LIMIT} bytes"),
    ],
    ids=["malformed-json", "not-an-object", "not-v2", "count", "input-name", "oversized", "oversized-chunked"],
)
def test_bad_bodies_get_a_v2_error(server, model, body, status, match):
    r = post(server, body)
    assert r.status_code == status
    assert list(r.json()) == ["error"]
    assert re.search(match, r.json()["error"]), r.json()["error"]
    _still_serving(server, model)


def test_oversized_grpc_message_is_refused(server, model):
    grpcclient = pytest.importorskip("tritonclient.grpc", reason=CLIENT_EXTRA)
    from tritonclient.utils import InferenceServerException

    rows = np.ones((LIMIT // 256 + 10, 64), np.float32)  # 4 bytes x 64 = 256 bytes a row
    inp = grpcclient.InferInput("x", list(rows.shape), "FP32")
    inp.set_data_from_numpy(rows)
    with pytest.raises(InferenceServerException, match="larger than max"):
        grpcclient.InferenceServerClient(url=f"127.0.0.1:{server.grpc}").infer(server.name, [inp])
    _still_serving(server, model)


def test_the_server_words_are_the_command_lines(server, model, tmp_path, shipped_dense):
    """``aeruntime score`` prints the server's message for the same rows (after its file prefix);
    for NaN the streaming CLI names the cell without counting, and both give the same fix."""
    for case, (rows, _) in BAD_ROWS.items():
        np.save(tmp_path / f"{case}.npy", rows)
        cli = subprocess.run(
            [sys.executable, "-m", "aeruntime", "score", str(shipped_dense), str(tmp_path / f"{case}.npy")],
            capture_output=True,
            text=True,
            env=SUBPROCESS_ENV,
            timeout=120,
        )
        assert cli.returncode == 2
        served = post(server, json.dumps(v2_request(rows, datatype="BYTES" if case == "dtype" else "FP32")))
        message = served.json()["error"]
        if case == "nan":
            assert message.endswith(FINITE_FIX) and cli.stderr.strip().endswith(FINITE_FIX)
            assert "row 2, column 5" in message and "row 2, column 5" in cli.stderr
        else:
            assert message in cli.stderr, (message, cli.stderr)
