"""Lazy package namespaces: a package's public names, imported from its private modules on first use.

The packages that hold torch code (``train``, ``export``, ``variants``, ``report``) export their names
this way, so that ``from aeexport.export import CALIBRATORS`` in the command line's options imports
the calibration module only, not torch (the command line starts without it).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, modules: dict[str, list[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` of ``package``: each name of ``modules`` (private module ->
    its public names) is imported from ``package.module`` when first asked for, then kept."""
    home = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(home)

    return __getattr__, __dir__, sorted(home)
