"""``aeexport package``: a bundle as a model-registry package (torch-free; no mlflow or tritonclient import).

==============  ==============================================================
module          owns
==============  ==============================================================
``common``      the one writer of a package folder: the bundle checked with
                ``aeruntime.load``, the atomic write and the overwrite rule
``mlflow``      an MLflow model directory (``MLmodel``, ``python_function``
                flavor whose loader is ``aeruntime.serve.pyfunc``; no pickle)
``triton``      a Triton/KServe model repository (``NAME/config.pbtxt`` and
                ``NAME/1/model.onnx``, the scorer graph)
==============  ==============================================================

:data:`FORMATS` is the registry: a new format is a module with one ``write(tmp, source)``
function and one entry there.
"""

from __future__ import annotations

from ._common import Package, PackageSource, write_package
from ._mlflow import write_mlflow
from ._triton import write_triton

__all__ = ["FORMATS", "Package", "PackageSource", "package_bundle"]

#: format name -> the function that fills the package folder (returns the files written)
FORMATS = {"mlflow": write_mlflow, "triton": write_triton}


def package_bundle(bundle: str, fmt: str, out: str, *, name: str | None = None, max_batch_size: int = 1024) -> Package:
    """Write ``bundle`` as a ``fmt`` package (one of :data:`FORMATS`) to the new folder ``out``."""
    from aeruntime.errors import check_choice

    check_choice("--format", fmt, sorted(FORMATS))
    return write_package(bundle, out, fmt, FORMATS[fmt], name=name, max_batch_size=max_batch_size)
