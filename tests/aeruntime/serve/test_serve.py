"""``aeruntime serve`` answers the Open Inference Protocol with aeruntime's numbers.

Three independent clients score the same rows: tritonclient over HTTP and over gRPC
(NVIDIA's implementation of the protocol) and plain ``requests``; each must equal
``aeruntime.load(...).score`` within the bundle's parity tolerance, labels identical.
"""

from __future__ import annotations

import numpy as np
import pytest

import aeruntime

from .conftest import CLIENT_EXTRA, post, v2_request


@pytest.fixture(scope="module")
def reference(shipped_dense, synthetic_digits):
    """Rows (97, 64) (an odd batch) and aeruntime's scores, labels and tolerance for them."""
    model = aeruntime.load(shipped_dense, providers="cpu")
    X = synthetic_digits[0][:97]
    X[:5] *= 3  # a few clear anomalies, so both labels occur
    tol = model.manifest["parity"]["tolerance"]
    return X, model.score(X), model.predict(X), tol, model


def _check(reference, score, label):
    X, ref_score, ref_label, tol, _ = reference
    np.testing.assert_allclose(np.asarray(score, np.float32), ref_score, rtol=tol["rtol"], atol=tol["atol"])
    np.testing.assert_array_equal(np.asarray(label), ref_label)
    assert 0 < ref_label.sum() < len(ref_label)


def test_tritonclient_http_scores_like_aeruntime(server, reference):
    httpclient = pytest.importorskip("tritonclient.http", reason=CLIENT_EXTRA)
    X = reference[0]
    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.http}")
    assert client.is_server_ready() and client.is_model_ready(server.name)
    inp = httpclient.InferInput("x", list(X.shape), "FP32")
    inp.set_data_from_numpy(X, binary_data=False)  # MLServer speaks JSON tensors, not the binary extension
    outs = [httpclient.InferRequestedOutput(n, binary_data=False) for n in ("score", "label")]
    result = client.infer(server.name, [inp], outputs=outs)
    _check(reference, result.as_numpy("score"), result.as_numpy("label"))


def test_tritonclient_grpc_scores_like_aeruntime(server, reference):
    grpcclient = pytest.importorskip("tritonclient.grpc", reason=CLIENT_EXTRA)
    X = reference[0]
    client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{server.grpc}")
    assert client.is_server_ready() and client.is_model_ready(server.name)
    inp = grpcclient.InferInput("x", list(X.shape), "FP32")
    inp.set_data_from_numpy(X)  # raw_input_contents: the bytes of the float32 rows
    result = client.infer(server.name, [inp])
    _check(reference, result.as_numpy("score"), result.as_numpy("label"))
    one = grpcclient.InferInput("x", [1, 64], "FP64")  # another numeric dtype is cast, as in the API
    one.set_data_from_numpy(X[:1].astype(np.float64))
    np.testing.assert_allclose(client.infer(server.name, [one]).as_numpy("score"), reference[1][:1], rtol=1e-6)


def test_plain_requests_scores_like_aeruntime(server, reference):
    X = reference[0]
    r = post(server, v2_request(X))
    assert r.status_code == 200, r.text
    body = r.json()
    outputs = {o["name"]: o for o in body["outputs"]}
    assert [o["name"] for o in body["outputs"]] == ["score", "label", "p_value"]  # the shipped scorer decides
    assert outputs["score"]["datatype"] == "FP32" and outputs["score"]["shape"] == [len(X)]
    assert outputs["label"]["datatype"] == "INT8"
    _check(reference, outputs["score"]["data"], outputs["label"]["data"])
    # one output asked for by name: only that one comes back
    r = post(server, {**v2_request(X[:3]), "outputs": [{"name": "label"}]})
    assert [o["name"] for o in r.json()["outputs"]] == ["label"]
    assert r.json()["outputs"][0]["data"] == reference[2][:3].tolist()


def test_metadata_reports_features_shapes_threshold_and_bundle_id(server, reference):
    import requests

    model = reference[4]
    meta = requests.get(f"{server.url}/v2/models/{server.name}", timeout=10).json()
    assert meta["name"] == server.name and meta["platform"] == "aeexport-bundle"
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 64]}]
    assert [(o["name"], o["datatype"]) for o in meta["outputs"]] == [
        ("score", "FP32"),
        ("label", "INT8"),
        ("p_value", "FP32"),
    ]
    p = meta["parameters"]
    assert p["bundle_id"] == model.manifest["bundle_id"]
    assert p["threshold"] == model.threshold
    assert p["input_shape"] == [64] and p["feature_names"] == (model.feature_names or [])
    assert p["outputs"] == ["score", "label", "p_value"] and p["score"] == "mse"
    grpcclient = pytest.importorskip("tritonclient.grpc", reason=CLIENT_EXTRA)
    gmeta = grpcclient.InferenceServerClient(url=f"127.0.0.1:{server.grpc}").get_model_metadata(
        server.name, as_json=True
    )
    # Triton's gRPC schema has no metadata parameters: the tensors are there, the rest is on REST
    assert gmeta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": ["-1", "64"]}]
    assert [o["name"] for o in gmeta["outputs"]] == ["score", "label", "p_value"]
