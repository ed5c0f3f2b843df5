"""The MLServer runtime of aeexport bundles: :class:`AeBundleRuntime` (imports mlserver).

MLServer (Seldon, Apache-2.0) brings the Open Inference Protocol over REST and gRPC,
health, metadata, Prometheus metrics and multi-model serving; this class only loads a
bundle through :func:`aeruntime.load` (every check of the bundle) and turns a v2
request into rows and the bundle's decisions into a v2 response. Our typed errors
become MLServer errors (HTTP 400 / gRPC ``INVALID_ARGUMENT``) carrying the CLI's words.
"""

from __future__ import annotations

from typing import Any

from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import (
    InferenceRequest,
    InferenceResponse,
    MetadataModelResponse,
    MetadataTensor,
    Parameters,
    ResponseOutput,
)

from ..errors import AeError
from ..model import load
from .bundle import ServedBundle, decode_tensor

__all__ = ["PLATFORM", "AeBundleRuntime", "preload", "served"]

#: the ``platform`` the metadata endpoint reports
PLATFORM = "aeexport-bundle"

#: bundles loaded by ``aeruntime serve`` before the server starts, by name (so a bad bundle
#: fails the command with its one-line error instead of a log line of a running server)
_PRELOADED: dict[str, ServedBundle] = {}


def preload(bundle: ServedBundle) -> None:
    """Hand a loaded bundle to the runtime that MLServer creates for ``bundle.name``."""
    _PRELOADED[bundle.name] = bundle


def served(name: str) -> ServedBundle | None:
    """The bundle served as ``name`` in this process, or None."""
    return _PRELOADED.get(name)


def v2_error(exc: AeError) -> MLServerError:
    """Our typed error as MLServer's (HTTP 400, gRPC INVALID_ARGUMENT), the message unchanged."""
    return MLServerError(str(exc), status_code=400)


class AeBundleRuntime(MLModel):
    """An aeexport bundle on MLServer; ``parameters.uri`` is the bundle directory."""

    async def load(self) -> bool:
        bundle = _PRELOADED.get(self.name)
        if bundle is None:
            uri = self.settings.parameters.uri if self.settings.parameters else None
            extra: dict[str, Any] = (self.settings.parameters.extra or {}) if self.settings.parameters else {}
            bundle = ServedBundle(self.name, load(uri, providers=extra.get("providers", "auto")))
            _PRELOADED[self.name] = bundle
        self._bundle = bundle
        return True

    async def metadata(self) -> MetadataModelResponse:
        b = self._bundle
        return MetadataModelResponse(
            name=self.name,
            platform=PLATFORM,
            versions=self.settings.versions or [],
            inputs=[MetadataTensor(name=b.input_name, datatype="FP32", shape=b.input_shape)],
            outputs=[MetadataTensor(name=o.name, datatype=o.datatype, shape=list(o.shape)) for o in b.outputs],
            parameters=Parameters(**b.parameters()),
        )

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        b = self._bundle
        try:
            inputs = {
                i.name: decode_tensor(i.name, getattr(i.datatype, "value", i.datatype), i.shape, i.data.root)
                for i in payload.inputs
            }
            result = b.infer(inputs)
        except AeError as exc:
            raise v2_error(exc) from None
        wanted = [o.name for o in payload.outputs] if payload.outputs else list(result)
        unknown = [n for n in wanted if n not in result]
        if unknown:
            raise MLServerError(
                f"the request asks for outputs {unknown}, but model {self.name!r} has {list(result)}; "
                "ask for those, or for none to get all of them.",
                status_code=400,
            )
        spec = {o.name: o for o in b.outputs}
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            outputs=[
                ResponseOutput(name=n, shape=list(result[n].shape), datatype=spec[n].datatype, data=result[n].tolist())
                for n in wanted
            ],
        )
