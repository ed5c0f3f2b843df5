"""The public API is ``__all__`` (httpx's rule): what the package and each of its packages export, exactly.

A name added to or dropped from a package is a change of its API: this test makes it
a visible one (update ``__all__`` and the expected list together).
"""

from __future__ import annotations

import importlib
import inspect

import pytest

import aeruntime

#: the API of ``import aeruntime``
EXPECTED = {
    "AeError",
    "BundleError",
    "BundleNotFoundError",
    "FORMAT_VERSION",
    "FileSystemError",
    "IntegrityError",
    "InvalidInputError",
    "ManifestError",
    "Model",
    "ProviderError",
    "RuntimeTooOldError",
    "SUPPORTED_FORMAT_VERSIONS",
    "UnsafeBundleError",
    "UnsupportedFormatError",
    "__version__",
    "load",
}


def _public_members(module) -> set[str]:  # type: ignore[no-untyped-def]
    """Names a user sees in ``module``: not private, not a submodule, not a ``from __future__`` feature."""
    return {
        name
        for name, value in vars(module).items()
        if (not name.startswith("_") or name == "__version__") and not inspect.ismodule(value) and name != "annotations"
    }


def test_the_package_exports_exactly_its_api():
    assert set(aeruntime.__all__) == EXPECTED
    assert len(aeruntime.__all__) == len(EXPECTED), "a name is listed twice in aeruntime.__all__"
    assert _public_members(aeruntime) == EXPECTED, "a public name of aeruntime is missing from __all__ (or extra)"


def test_every_exported_error_is_an_aeerror():
    errors = [getattr(aeruntime, n) for n in aeruntime.__all__ if n.endswith("Error")]
    assert len(errors) == 11
    assert all(issubclass(e, aeruntime.AeError) for e in errors)


@pytest.mark.parametrize(
    "name",
    ["aeruntime.fs", "aeruntime.format", "aeruntime.tables", "aeruntime.validation", "aeruntime.spark"],
)
def test_each_package_exports_what_it_defines_or_imports(name):
    """Every name in a package's ``__all__`` exists, once, and every public name it holds is listed."""
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not hold: {missing}"
    if name != "aeruntime.validation":  # a module: its imports (np, Sequence) are not API
        unlisted = _public_members(module) - set(exported)
        assert not unlisted, f"{name} holds public names missing from __all__: {sorted(unlisted)}"
