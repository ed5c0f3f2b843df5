"""aeruntime: run aeexport autoencoder bundles with numpy + onnxruntime (no torch).

>>> import aeruntime
>>> model = aeruntime.load("models/digits-dense")      # doctest: +SKIP
>>> model.score(X)    # (n,) higher = more anomalous    # doctest: +SKIP
"""

from __future__ import annotations

from . import _ort  # noqa: F401  (raises an ImportError naming the pip command)
from .errors import (
    AeError,
    BundleError,
    BundleNotFoundError,
    FileSystemError,
    IntegrityError,
    InvalidInputError,
    ManifestError,
    ProviderError,
    RuntimeTooOldError,
    UnsafeBundleError,
    UnsupportedFormatError,
)
from .format import FORMAT_VERSION, SUPPORTED_FORMAT_VERSIONS
from .model import Model, load

__version__ = "0.1.0"

__all__ = [
    "load",
    "Model",
    "AeError",
    "InvalidInputError",
    "BundleError",
    "BundleNotFoundError",
    "FileSystemError",
    "IntegrityError",
    "ManifestError",
    "RuntimeTooOldError",
    "UnsupportedFormatError",
    "ProviderError",
    "UnsafeBundleError",
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "__version__",
]
