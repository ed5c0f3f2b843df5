"""``aeruntime serve``: bundles on MLServer, REST and gRPC, with the door checked (imports mlserver).

What this module adds to MLServer, and nothing else:

- the settings of a loopback server for the bundles (:func:`server_settings`,
  :func:`model_settings`): HTTP, gRPC and metrics ports, no parallel worker processes
  (onnxruntime already uses the cores; a worker would add a copy of every request);
- a body limit on REST (:class:`BodyLimit`: 413 before the body reaches the app) and on
  gRPC (``grpc_max_message_length``);
- v2 error responses (``{"error": "..."}``, HTTP 400) for bodies that are not JSON or not
  a v2 request, instead of FastAPI's 422 ``detail`` list. JSON has no NaN or Infinity:
  a body that holds them gets the row rule's NaN/Inf message, like the command line.

The REST app is reached through MLServer's ``_rest_server._app`` (MLServer 1.7 has no
public hook for exception handlers); :func:`_harden` is the one place that does it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from mlserver import MLServer
from mlserver.settings import ModelParameters, ModelSettings, Settings
from mlserver.types import InferenceRequest
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import AeError
from .bundle import ServedBundle, decode_tensor
from .runtime import AeBundleRuntime, preload, served

__all__ = ["BodyLimit", "InferCounter", "model_settings", "run_server", "server_settings"]


def _error(status: int, message: str) -> JSONResponse:
    """A v2 error response: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status)


def too_large_message(size: int | None, limit: int) -> str:
    got = f"{size} bytes" if size is not None else "more"
    return (
        f"the request body holds {got}, but this server accepts at most {limit} bytes per request "
        "(aeruntime serve --max-request-bytes); send fewer rows per request."
    )


class BodyLimit:
    """ASGI middleware: a REST body over ``limit`` bytes gets a v2 error (413) and never reaches the app.

    A declared ``Content-Length`` is checked before anything is read; a chunked body is
    read up to the limit, then refused or replayed to the app.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _error(413, too_large_message(int(declared), self.limit))(scope, receive, send)
            return
        messages, total = [], 0
        while True:
            message = await receive()
            messages.append(message)
            total += len(message.get("body", b""))
            if total > self.limit:
                await _error(413, too_large_message(None, self.limit))(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class InferCounter:
    """ASGI middleware: counts the REST inference requests the app accepted (headers read) and answered
    (last body byte handed to the connection), for the line ``aeruntime serve`` prints when it stops."""

    def __init__(self, app: Any) -> None:
        self.app, self.accepted, self.answered = app, 0, 0
        COUNTERS.append(self)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").endswith("/infer"):
            await self.app(scope, receive, send)
            return
        self.accepted += 1

        async def counted(message: dict) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.answered += 1

        await self.app(scope, receive, counted)


#: the counters of this process's REST apps (one per server)
COUNTERS: list[InferCounter] = []

_EXAMPLE = '{"inputs": [{"name": "x", "shape": [n_rows, n_features], "datatype": "FP32", "data": [...]}]}'


def _non_finite_error(request: Request, body: Any) -> str | None:
    """The row rule's NaN/Inf message when ``body`` is a v2 request holding NaN/Infinity (which JSON cannot carry)."""
    try:
        payload = InferenceRequest.model_validate(json.loads(body))
    except (ValueError, TypeError):
        return None
    bundle: ServedBundle | None = served(str(request.path_params.get("model_name", "")))
    if bundle is None:
        return None
    try:
        for i in payload.inputs:
            bundle.check(decode_tensor(i.name, getattr(i.datatype, "value", i.datatype), i.shape, i.data.root))
    except AeError as exc:
        return str(exc)
    return None


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        found = _non_finite_error(request, exc.body)
        if found is not None:
            return _error(400, found)
        where = first.get("ctx", {}).get("error", "JSON decode error")
        return _error(400, f"the request body is not valid JSON ({where}); send a v2 inference request: {_EXAMPLE}.")
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    return _error(
        400,
        f"the request body is not a v2 inference request ({loc}: {first.get('msg', 'invalid')}); "
        f"send one like {_EXAMPLE}.",
    )


def _harden(server: MLServer, max_bytes: int) -> None:
    app = server._rest_server._app
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(BodyLimit, limit=max_bytes)
    app.add_middleware(InferCounter)  # outermost: counts refused bodies too


def server_settings(
    host: str, port: int, grpc_port: int, metrics_port: int | None, max_bytes: int, debug: bool = False
) -> Settings:
    """MLServer's settings for ``aeruntime serve``."""
    return Settings(
        debug=debug,
        parallel_workers=0,
        host=host,
        http_port=port,
        grpc_port=grpc_port,
        grpc_max_message_length=max_bytes,
        metrics_endpoint="/metrics" if metrics_port else None,
        metrics_port=metrics_port or 0,
        server_name="aeruntime",
        load_models_at_startup=False,
    )


def model_settings(bundle: ServedBundle, max_batch_size: int = 0, max_batch_time: float = 0.0) -> ModelSettings:
    """One model per bundle, named ``bundle.name``; adaptive batching only when ``max_batch_size > 1``."""
    return ModelSettings(
        name=bundle.name,
        implementation=AeBundleRuntime,
        parameters=ModelParameters(uri=str(bundle.model.path)),
        max_batch_size=max_batch_size,
        max_batch_time=max_batch_time,
    )


def run_server(
    bundles: Sequence[ServedBundle], settings: Settings, max_batch_size: int = 0, max_batch_time: float = 0.0
) -> None:
    """Serve ``bundles`` until SIGTERM/SIGINT; requests in flight are answered before the server exits."""
    for b in bundles:
        preload(b)

    async def main() -> None:
        server = MLServer(settings)
        _harden(server, int(settings.grpc_max_message_length or 0))
        await server.start([model_settings(b, max_batch_size, max_batch_time) for b in bundles])

    asyncio.run(main())
    accepted, answered = sum(c.accepted for c in COUNTERS), sum(c.answered for c in COUNTERS)
    print(
        f"aeruntime serve: stopped; REST inference requests accepted {accepted}, answered {answered}", file=sys.stderr
    )
