"""A real ``aeruntime serve`` process on free loopback ports, for the protocol tests.

The server runs as a subprocess of this checkout (``python -m aeruntime serve``), as a
user would start it; clients reach it over 127.0.0.1 only. Without MLServer the tests
skip, naming the pip extra.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SUBPROCESS_ENV

SERVE_EXTRA = "aeruntime[serve] (mlserver) is not installed: pip install 'aeruntime[serve]'"
CLIENT_EXTRA = "tritonclient is not installed: pip install 'tritonclient[http,grpc]' (the test extra)"
#: how long a server may take to load and answer ready (a shared 2-core machine)
START_TIMEOUT = 90.0
#: the request body limit of the module's server: the scoring requests fit, 2 MB does not
LIMIT = 1 << 20


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (bound then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def need(module: str, reason: str) -> None:
    """Skip unless ``module`` is installed; it is not imported (MLServer's and tritonclient's gRPC
    modules both register the ``inference.*`` protobuf messages and cannot share a process)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(reason)


@dataclass
class Server:
    proc: subprocess.Popen
    http: int
    grpc: int
    name: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    def ready(self) -> bool:
        import requests

        try:
            return requests.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)


def start_server(bundle: Path, log: Path, *extra: str) -> Server:
    """Start ``aeruntime serve bundle`` on free ports and wait until it is ready (or fail with its log)."""
    need("mlserver", SERVE_EXTRA)
    pytest.importorskip("requests", reason="requests is not installed (the test extra)")
    http, grpc = free_ports(2)
    cmd = [sys.executable, "-m", "aeruntime", "serve", str(bundle), "--port", str(http), "--grpc-port", str(grpc)]
    cmd += ["--metrics-port", "0", "--threads", "1", *extra]
    fh = open(log, "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=SUBPROCESS_ENV, cwd=os.getcwd())
    fh.close()
    server = Server(proc, http, grpc, bundle.name, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"aeruntime serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if server.ready():
            return server
        time.sleep(0.25)
    server.stop()
    pytest.fail(f"aeruntime serve was not ready after {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(shipped_dense, tmp_path_factory):
    """``aeruntime serve`` of the shipped digits-dense bundle, body limit :data:`LIMIT`, for the module."""
    srv = start_server(
        shipped_dense, tmp_path_factory.mktemp("serve") / "server.log", "--max-request-bytes", str(LIMIT)
    )
    yield srv
    with contextlib.suppress(Exception):
        srv.stop()


def v2_request(x, name: str = "x", datatype: str = "FP32") -> dict:
    """A v2 inference request of rows ``x`` (n, F) as JSON-ready data."""
    return {"inputs": [{"name": name, "shape": list(x.shape), "datatype": datatype, "data": x.ravel().tolist()}]}


def post(server: Server, body, **kw):
    import requests

    data = body if isinstance(body, (bytes, str)) or body is None or hasattr(body, "__next__") else json.dumps(body)
    return requests.post(
        f"{server.url}/v2/models/{server.name}/infer",
        data=data,
        headers={"Content-Type": "application/json", **kw.pop("headers", {})},
        timeout=60,
        **kw,
    )
