"""SIGTERM stops ``aeruntime serve`` gracefully: every request it accepted is answered in full."""

from __future__ import annotations

import json
import re
import threading
import time

import numpy as np

import aeruntime

from .conftest import post, start_server, v2_request

#: rows per request: large enough that a request is still in the server when SIGTERM arrives
ROWS = 4000
CLIENTS = 4


def test_sigterm_answers_every_accepted_request(shipped_dense, synthetic_digits, tmp_path):
    server = start_server(shipped_dense, tmp_path / "server.log")  # skips without mlserver or requests
    import requests

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
                refused = "Connection refused" in str(exc)
                with lock:  # refused: the server had stopped listening; else the connection was cut
                    outcomes.append((sent, "refused" if refused else f"cut: {exc}", None))
                return
            with lock:
                outcomes.append((sent, "answered", (r, time.monotonic())))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    busy_by = time.monotonic() + 60
    while sum(o[1] == "answered" for o in outcomes) < CLIENTS and time.monotonic() < busy_by:
        time.sleep(0.05)  # until the server is busy with requests
    time.sleep(0.2)  # requests are in flight now
    stop_at.append(time.monotonic())
    code = server.stop(timeout=60)
    for t in threads:
        t.join(timeout=90)
    answered = [(sent, r) for sent, kind, r in outcomes if kind == "answered"]
    # the server counts the requests it accepted (headers read) and answered; a connection cut
    # before the server read a request is not an accepted request, one cut after it would be lost
    counts = re.search(r"REST inference requests accepted (\d+), answered (\d+)", server.log.read_text())
    assert counts, server.log.read_text()[-2000:]
    accepted, finished = map(int, counts.groups())
    assert accepted == finished == len(answered), (accepted, finished, len(answered), [o[1] for o in outcomes])
    for _, (r, _) in answered:
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["outputs"][0]["data"], ref, rtol=1e-5, atol=1e-6)
    in_flight = [sent for sent, (_, done) in answered if sent < stop_at[0] < done]
    assert in_flight, "no request was in flight when SIGTERM was sent: the test proved nothing"
    assert code == 0, server.log.read_text()[-2000:]
    assert len(answered) < len(outcomes), "no client saw the server stop accepting"
