"""Load figures of ``aeruntime serve`` on loopback against in-process ``Model.score`` on the same rows.

Starts ``python -m aeruntime serve BUNDLE`` on free 127.0.0.1 ports, then for REST (``requests``,
JSON tensors) and gRPC (tritonclient, raw float32 bytes) runs 1, 8 and 64 concurrent clients
(threads, one connection each) sending batches of 1 and 64 rows, each cell bounded by
``--seconds`` and ``--max-requests``. Reports rows/s and p50/p99 latency per request, the
in-process rows/s of ``Model.score`` on the same batches, and where the time of one
request goes (measured in a child process: JSON, pydantic, scoring, response).

    nice -n 5 python benchmarks/bench_serve.py --record

Needs ``aeruntime[serve]``, ``tritonclient[grpc]`` and ``requests``. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import parser, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "runtime")])}
CLIENTS = (1, 8, 64)
BATCHES = (1, 64)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def rows(bundle: Path, n: int) -> np.ndarray:
    m = json.loads((bundle / "manifest.json").read_text())
    mean, scale = (np.asarray(m["scaler"][k], np.float32) for k in ("mean", "scale"))
    return (mean + scale * np.random.default_rng(0).standard_normal((n, mean.size))).astype(np.float32)


def percentiles(lat: list[float]) -> tuple[float, float]:
    a = np.asarray(lat) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def in_process(bundle: Path, X: np.ndarray, batch: int, seconds: float) -> dict:
    import aeruntime

    model = aeruntime.load(bundle, providers="cpu")
    xs = [np.ascontiguousarray(X[i : i + batch]) for i in range(0, len(X) - batch + 1, batch)]
    lat, n, t0 = [], 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        model.score(xs[n % len(xs)])
        lat.append(time.perf_counter() - t)
        n += 1
    wall = time.perf_counter() - t0
    p50, p99 = percentiles(lat)
    return {"rows_s": n * batch / wall, "p50_ms": p50, "p99_ms": p99, "requests": n}


def _rest_client(url: str, name: str):
    import orjson
    import requests

    session = requests.Session()
    headers = {"Content-Type": "application/json"}

    def send(x: np.ndarray) -> None:
        # orjson writes the float32 array itself: the stdlib's json.dumps of x.tolist() costs
        # more than the whole server side at batch 64 (see the breakdown)
        body = {"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel()}]}
        r = session.post(
            f"{url}/v2/models/{name}/infer",
            data=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
            headers=headers,
            timeout=60,
        )
        r.raise_for_status()
        orjson.loads(r.content)

    return send


def _grpc_client(url: str, name: str):
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url=url)

    def send(x: np.ndarray) -> None:
        inp = grpcclient.InferInput("x", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        client.infer(name, [inp]).as_numpy("score")

    return send


def load_cell(make, X: np.ndarray, clients: int, batch: int, seconds: float, max_requests: int) -> dict:
    """``clients`` threads each sending batches of ``batch`` rows until the time or the count is spent."""
    senders = [make() for _ in range(clients)]
    xs = [np.ascontiguousarray(X[i : i + batch]) for i in range(0, len(X) - batch + 1, batch)]
    lat: list[float] = []
    lock = threading.Lock()
    count = [0]
    errors: list[str] = []
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def run(send) -> None:
        start.wait()
        i = 0
        while time.perf_counter() < deadline[0]:
            with lock:
                if count[0] >= max_requests:
                    return
                count[0] += 1
            t = time.perf_counter()
            try:
                send(xs[i % len(xs)])
            except Exception as exc:  # noqa: BLE001 (a benchmark counts failures, it does not stop)
                errors.append(str(exc)[:200])
                return
            with lock:
                lat.append(time.perf_counter() - t)
            i += 1

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    p50, p99 = percentiles(lat) if lat else (float("nan"), float("nan"))
    return {
        "rows_s": len(lat) * batch / wall,
        "p50_ms": p50,
        "p99_ms": p99,
        "requests": len(lat),
        "errors": len(errors),
    }


def breakdown(bundle: Path, batch: int, repeat: int) -> dict:
    """Microseconds per request of each REST step, measured in this process with MLServer's own types."""
    import orjson
    from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

    import aeruntime
    from aeruntime.serve.bundle import ServedBundle, decode_tensor

    served = ServedBundle("m", aeruntime.load(bundle, providers="cpu"))
    x = rows(bundle, batch)
    body = json.dumps(
        {"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}]}
    )
    steps = {}

    def timed(name, fn):
        t = time.perf_counter()
        for _ in range(repeat):
            out = fn()
        steps[name] = (time.perf_counter() - t) / repeat * 1e6
        return out

    timed("client: json.dumps of x.tolist() (stdlib)", lambda: json.dumps({"data": x.ravel().tolist()}))
    timed(
        "client: orjson.dumps of x (numpy option)",
        lambda: orjson.dumps({"data": x.ravel()}, option=orjson.OPT_SERIALIZE_NUMPY),
    )
    parsed = timed("server: orjson.loads of the body", lambda: orjson.loads(body))
    req = timed("server: pydantic InferenceRequest", lambda: InferenceRequest.model_validate(parsed))
    i = req.inputs[0]
    arr = timed(
        "server: tensor -> ndarray",
        lambda: decode_tensor(i.name, getattr(i.datatype, "value", i.datatype), i.shape, i.data.root),
    )
    res = timed("server: score + label (onnxruntime)", lambda: served.infer({"x": arr}))
    resp = timed(
        "server: response model",
        lambda: InferenceResponse(
            model_name="m",
            outputs=[
                ResponseOutput(name=k, shape=list(v.shape), datatype="FP32", data=v.tolist()) for k, v in res.items()
            ],
        ),
    )
    timed("server: response JSON", lambda: orjson.dumps(resp.model_dump(exclude_none=True)))
    return steps


def start_server(bundle: Path, threads: int | None) -> tuple[subprocess.Popen, int, int]:
    http, grpc = free_ports(2)
    cmd = [sys.executable, "-m", "aeruntime", "serve", str(bundle), "--port", str(http), "--grpc-port", str(grpc)]
    cmd += ["--metrics-port", "0"] + (["--threads", str(threads)] if threads else [])
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import requests

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{http}/v2/health/ready", timeout=1).status_code == 200:
                return proc, http, grpc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not become ready in 120 s")


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--bundle", default=str(ROOT / "models" / "digits-dense"))
    ap.add_argument("--seconds", type=float, default=3.0, help="per cell")
    ap.add_argument("--max-requests", type=int, default=20000, help="per cell")
    ap.add_argument("--threads", type=int, default=None, help="the server's onnxruntime threads")
    ap.add_argument("--breakdown", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    bundle = Path(args.bundle)
    if args.breakdown:
        print(json.dumps({b: breakdown(bundle, b, args.breakdown) for b in BATCHES}))
        return
    X = rows(bundle, 4096)
    local = {b: in_process(bundle, X, b, args.seconds) for b in BATCHES}
    proc, http, grpc = start_server(bundle, args.threads)
    cells = []
    try:
        name = bundle.resolve().name
        makers = {
            "REST (JSON, orjson client)": lambda: _rest_client(f"http://127.0.0.1:{http}", name),
            "gRPC (raw bytes)": lambda: _grpc_client(f"127.0.0.1:{grpc}", name),
        }
        for proto, make in makers.items():
            make()(X[:1])  # warm-up
            for c in CLIENTS:
                for b in BATCHES:
                    r = load_cell(make, X, c, b, args.seconds, args.max_requests)
                    r.update(protocol=proto, clients=c, batch=b, vs_local=r["rows_s"] / local[b]["rows_s"])
                    cells.append(r)
                    print(json.dumps(r), flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    steps = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--bundle", str(bundle), "--breakdown", "200"],
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    write("serve", "`aeruntime serve`: load on loopback", report(args, local, cells, steps), args.out, args.record)


def report(args, local: dict, cells: list[dict], steps: dict) -> str:
    lines = [
        "| path | clients | batch | rows/s | p50 ms | p99 ms | requests | errors | vs in-process |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for b, r in local.items():
        lines.append(
            f"| in-process `Model.score` | 1 | {b} | {r['rows_s']:,.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
            f"{r['requests']} | 0 | 1.00 |"
        )
    for r in cells:
        lines.append(
            f"| {r['protocol']} | {r['clients']} | {r['batch']} | {r['rows_s']:,.0f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['requests']} | {r['errors']} | {r['vs_local']:.3f} |"
        )
    step_lines = ["| step (REST, one request) | batch 1 µs | batch 64 µs |", "| --- | ---: | ---: |"]
    for k in steps["1"]:
        step_lines.append(f"| {k} | {steps['1'][k]:.0f} | {steps['64'][k]:.0f} |")
    return [
        f"Bundle `{Path(args.bundle).name}`; {args.seconds:g} s or {args.max_requests} requests per cell; the clients "
        "are threads of one Python process on the same machine as the server (they compete for the same 2 cores).",
        "",
        *lines,
        "",
        "Where the time of one REST request goes (measured in one process with MLServer's own types):",
        "",
        *step_lines,
    ]


if __name__ == "__main__":
    main()
