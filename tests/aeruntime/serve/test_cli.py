"""``aeruntime serve`` on the command line: what it refuses before a port is opened, and life without MLServer."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pytest

from tests.conftest import SUBPROCESS_ENV

from .conftest import SERVE_EXTRA, free_ports, need

#: run aeruntime's command line with MLServer made unimportable (as where the extra is not installed)
WITHOUT_MLSERVER = "import sys; sys.modules['mlserver'] = None; from aeruntime.cli import main; main()"


def _serve(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "aeruntime", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=120)


def test_without_mlserver_serve_names_the_extra_and_the_runtime_still_imports(shipped_dense):
    r = _serve("serve", str(shipped_dense), code=WITHOUT_MLSERVER)
    assert r.returncode == 1
    assert (
        r.stderr.strip()
        == "Error: aeruntime serve needs MLServer, which is not installed: pip install 'aeruntime[serve]'"
    )
    probe = (
        "import sys; sys.modules['mlserver'] = None; import aeruntime, aeruntime.cli, aeruntime.serve, "
        "aeruntime.serve.bundle, aeruntime.serve.pyfunc; print('ok')"
    )
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=SUBPROCESS_ENV).stdout
        == "ok\n"
    )


def test_two_bundles_with_one_name_are_refused(shipped_dense, tmp_path):
    need("mlserver", SERVE_EXTRA)
    other = tmp_path / "x" / shipped_dense.name
    shutil.copytree(shipped_dense, other)
    r = _serve("serve", str(shipped_dense), str(other))
    assert r.returncode == 2
    assert "two bundles would be served under the same name 'dense'" in r.stderr


def test_a_bad_bundle_fails_before_any_port_is_opened(shipped_dense, tmp_path):
    need("mlserver", SERVE_EXTRA)
    bad = tmp_path / "bad"
    shutil.copytree(shipped_dense, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["threshold"]["value"] = "high"
    (bad / "manifest.json").write_text(json.dumps(m))
    http, grpc = free_ports(2)
    r = _serve("serve", str(bad), "--port", str(http), "--grpc-port", str(grpc), "--metrics-port", "0")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("Error: ") and "Traceback" not in r.stderr
    assert "REST http" not in r.stderr  # nothing was served


def test_ports_must_differ(shipped_dense):
    need("mlserver", SERVE_EXTRA)
    r = _serve("serve", str(shipped_dense), "--port", "9000", "--grpc-port", "9000")
    assert r.returncode == 2 and "must differ" in r.stderr


@pytest.mark.parametrize("option", ["--port", "--grpc-port"])
def test_out_of_range_ports_are_usage_errors(shipped_dense, option):
    r = _serve("serve", str(shipped_dense), option, "70000")
    assert r.returncode == 2 and "is not in the range" in r.stderr


def test_a_port_in_use_is_a_one_line_error(shipped_dense):
    need("mlserver", SERVE_EXTRA)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (grpc,) = free_ports(1)
        r = _serve("serve", str(shipped_dense), "--port", str(port), "--grpc-port", str(grpc), "--metrics-port", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"--port {port}: cannot listen on 127.0.0.1:{port} (Address already in use)" in r.stderr
