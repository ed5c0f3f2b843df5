"""Lazy package namespaces: a package's public names, imported from its private modules on first use.

The packages that hold torch code (``train``, ``export``, ``variants``, ``report``) and ``data``
export their names this way, so that ``from aeexport.export import CALIBRATORS`` in the command line's options imports
the calibration module only, not torch (the command line starts without it). Each private module's
``__all__`` is the one list of its public names: it is read from the module's source (the literal
``__all__ = [...]``), not by importing the module.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["attach", "declared_names"]

_ALL = re.compile(r"^__all__ = (\[.*?\])", re.MULTILINE | re.DOTALL)


def declared_names(source: Path) -> list[str]:
    """The literal ``__all__`` list of the module at ``source``, without importing it."""
    m = _ALL.search(source.read_text(encoding="utf-8"))
    if m is None:
        raise ImportError(f"{source}: expected a literal `__all__ = [...]` (the module's public names)")
    return list(ast.literal_eval(m.group(1)))


def attach(package: str, modules: Sequence[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` of ``package``: each name in the ``__all__`` of one of its private
    ``modules`` is imported from ``package.module`` when first asked for, then kept."""
    folder = Path(sys.modules[package].__file__).parent  # type: ignore[arg-type]
    home = {name: module for module in modules for name in declared_names(folder / f"{module}.py")}

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(home)

    return __getattr__, __dir__, sorted(home)
