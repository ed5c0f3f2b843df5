"""An MLflow model directory of a bundle: ``MLmodel``, the bundle, and the environment (no pickle).

Layout (``mlflow.pyfunc.load_model(DIR)`` reads it; so do ``mlflow models serve`` and
``mlflow.pyfunc.spark_udf``)::

    DIR/MLmodel            python_function flavor: loader_module aeruntime.serve.pyfunc, data bundle
    DIR/bundle/            the bundle, byte for byte (loaded with aeruntime.load: every hash checked)
    DIR/requirements.txt   aeruntime[cpu]>=VERSION
    DIR/python_env.yaml    the Python version and the requirements

The signature is the bundle's: a float32 tensor ``(-1, *input_shape)`` in, the outputs
of ``aeruntime serve`` out (``score`` float32, ``label`` int8, ``p_value`` when present).
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aeruntime

from ._common import PackageSource, copy_bundle_files

__all__ = ["LOADER_MODULE", "write_mlflow"]

#: the module MLflow imports to load the package (ships with aeruntime)
LOADER_MODULE = "aeruntime.serve.pyfunc"
_DTYPES = {"score": "float32", "label": "int8"}


def _tensor(dtype: str, shape: list[int], name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}}
    if name is not None:
        spec["name"] = name
    return spec


def _outputs(manifest: dict[str, Any]) -> list[str]:
    graph = list(manifest["graphs"].get("scorer", {}).get("outputs", ["score"]))
    return ["score", "label", *(o for o in graph if o not in ("score", "label"))]


def mlmodel_text(source: PackageSource) -> str:
    """The ``MLmodel`` file (YAML; strings written as JSON strings, which YAML reads as they are)."""
    m = source.manifest
    inputs = [_tensor("float32", [-1, *source.model.input_shape])]
    outputs = [_tensor(_DTYPES.get(o, "float32"), [-1], o) for o in _outputs(m)]
    q = json.dumps
    lines = [
        "flavors:",
        "  python_function:",
        f"    loader_module: {LOADER_MODULE}",
        "    data: bundle",
        "    env:",
        "      virtualenv: python_env.yaml",
        f"    python_version: {q(platform.python_version())}",
        f"model_uuid: {q(m['bundle_id'])}",
        f"utc_time_created: {q(datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f'))}",
        "signature:",
        f"  inputs: {q(json.dumps(inputs))}",
        f"  outputs: {q(json.dumps(outputs))}",
        "  params: null",
        "metadata:",
        f"  aeexport_bundle_id: {q(m['bundle_id'])}",
        f"  threshold: {float(source.model.threshold)!r}",
        f"  score: {q(m['score'].get('name', 'mse'))}",
        f"  feature_names: {q(json.dumps(source.model.feature_names or []))}",
    ]
    return "\n".join(lines) + "\n"


def write_mlflow(tmp: Path, source: PackageSource) -> None:
    """Fill ``tmp`` with the MLflow model directory of ``source``."""
    copy_bundle_files(source.path, source.manifest, tmp / "bundle")
    (tmp / "MLmodel").write_text(mlmodel_text(source), encoding="utf-8")
    (tmp / "requirements.txt").write_text(f"aeruntime[cpu]>={aeruntime.__version__}\n", encoding="utf-8")
    (tmp / "python_env.yaml").write_text(
        f"python: {platform.python_version()}\nbuild_dependencies:\n  - pip\ndependencies:\n  - -r requirements.txt\n",
        encoding="utf-8",
    )
