"""``aeruntime serve BUNDLE...``: the bundles on MLServer (REST and gRPC), bound to loopback by default."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from ..clibase import providers_option, threads_option
from ..errors import AeError, InvalidInputError
from . import SERVE_EXTRA

__all__ = ["serve_command"]

#: the largest request body (REST) or message (gRPC) by default: 64 MiB, about 260,000 rows of 64 float32 as JSON
DEFAULT_MAX_BYTES = 64 << 20


def _names(bundles: tuple[str, ...]) -> list[str]:
    """The model name of each bundle: its directory name, which must be unique."""
    names = [Path(b).resolve().name for b in bundles]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInputError(
            f"two bundles would be served under the same name {twice[0]!r} (the directory name); "
            "give each bundle a directory of its own name."
        )
    return names


def _check_free(host: str, port: int, option: str) -> None:
    """Refuse a port another process listens on, before anything starts (the engines would exit with a traceback)."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InvalidInputError(
            f"--host {host!r} is not an address of this machine ({exc}); use e.g. 127.0.0.1."
        ) from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            s.bind(addr)
        except OSError as exc:
            raise InvalidInputError(
                f"{option} {port}: cannot listen on {host}:{port} ({exc.strerror}); another process may be using it. "
                f"Choose another {option}."
            ) from None


@click.command("serve")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; 0.0.0.0 only behind a proxy.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="HTTP (REST) port.")
@click.option("--grpc-port", type=click.IntRange(1, 65535), default=8081, show_default=True, help="gRPC port.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=8082,
    show_default=True,
    help="Prometheus /metrics port; 0: no metrics server.",
)
@click.option(
    "--max-request-bytes",
    type=click.IntRange(min=1024),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="Largest REST body or gRPC message; larger ones get an error.",
)
@click.option(
    "--max-batch-size",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="MLServer adaptive batching: requests merged per call (0: off; a bad request then fails its batch).",
)
@click.option("--max-batch-time", type=click.FloatRange(min=0), default=0.002, show_default=True, hidden=True)
@threads_option()
@providers_option()
def serve_command(
    bundles: tuple[str, ...],
    host: str,
    port: int,
    grpc_port: int,
    metrics_port: int,
    max_request_bytes: int,
    max_batch_size: int,
    max_batch_time: float,
    threads: int | None,
    providers: str,
) -> None:
    """Serve BUNDLE(s) over the Open Inference Protocol (KServe v2), REST and gRPC, on MLServer.

    Each bundle is the model named after its directory: POST rows (n, *input_shape) to
    /v2/models/NAME/infer as input 'x'; the outputs are score, label (and p_value when
    the bundle has it). GET /v2/models/NAME gives the feature names, shapes, threshold
    and bundle id. Stops on SIGTERM/SIGINT after answering the requests in flight.
    """
    try:
        import mlserver  # noqa: F401
    except ImportError:
        raise AeError(f"aeruntime serve needs MLServer, which is not installed: {SERVE_EXTRA}") from None
    from ..model import load
    from .bundle import ServedBundle
    from .server import run_server, server_settings

    names = _names(bundles)
    if len({port, grpc_port, metrics_port} - {0}) != 3 - (metrics_port == 0):
        raise InvalidInputError(
            f"--port {port}, --grpc-port {grpc_port} and --metrics-port {metrics_port} must differ; choose other ports."
        )
    for option, value in (("--port", port), ("--grpc-port", grpc_port), ("--metrics-port", metrics_port)):
        if value:
            _check_free(host, value, option)
    served = [
        ServedBundle(n, load(b, providers=providers, threads=threads)) for n, b in zip(names, bundles)
    ]  # every check of aeruntime.load, before a port is opened
    for b in served:
        click.echo(f"serving {b.name} ({b.model.kind}, bundle {b.bundle_id}) as /v2/models/{b.name}", err=True)
    click.echo(f"REST http://{host}:{port}  gRPC {host}:{grpc_port}", err=True)
    settings = server_settings(host, port, grpc_port, metrics_port or None, max_request_bytes)
    run_server(served, settings, max_batch_size, max_batch_time)
