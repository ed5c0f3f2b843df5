"""SIGTERM stops ``aeruntime serve`` gracefully: every request it accepted is answered in full."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

import aeruntime

from .conftest import post, start_server, v2_request

#: rows per request: large enough that a request is still in the server when SIGTERM arrives
ROWS = 4000
CLIENTS = 4


def test_sigterm_answers_every_accepted_request(shipped_dense, synthetic_digits, tmp_path):
    import requests

    server = start_server(shipped_dense, tmp_path / "server.log")
    X = synthetic_digits[0][:ROWS]
    ref = aeruntime.load(shipped_dense, providers="cpu").score(X)
    body = json.dumps(v2_request(X))
    outcomes: list[tuple[float, str, object]] = []
    stop_at: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                r = post(server, body, headers={"Connection": "close"})
            except requests.ConnectionError as exc:
                refused = isinstance(getattr(exc.args[0], "reason", None), ConnectionRefusedError) or (
                    "Connection refused" in str(exc)
                )
                with lock:
                    outcomes.append((sent, "refused" if refused else f"lost: {exc}", None))
                return
            with lock:
                outcomes.append((sent, "answered", (r, time.monotonic())))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    while sum(o[1] == "answered" for o in outcomes) < CLIENTS:  # the server is busy with requests
        time.sleep(0.05)
    time.sleep(0.2)  # requests are in flight now
    stop_at.append(time.monotonic())
    code = server.stop(timeout=60)
    for t in threads:
        t.join(timeout=90)
    lost = [o[1] for o in outcomes if o[1].startswith("lost")]
    assert not lost, lost
    answered = [(sent, r) for sent, kind, r in outcomes if kind == "answered"]
    for _, (r, _) in answered:
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["outputs"][0]["data"], ref, rtol=1e-5, atol=1e-6)
    in_flight = [sent for sent, (_, done) in answered if sent < stop_at[0] < done]
    assert in_flight, "no request was in flight when SIGTERM was sent: the test proved nothing"
    assert code == 0, server.log.read_text()[-2000:]
    if not any(kind == "refused" for _, kind, _ in outcomes):
        pytest.fail("no client saw the server stop accepting")
