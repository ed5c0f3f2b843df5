"""The layering rules of docs/architecture.md, checked on the source (ast, nothing imported).

- aeexport imports only the documented public runtime modules, and no private name
  (leading underscore) from aeruntime;
- aeruntime never imports torch, onnx or aeexport (a subprocess test checks the same at
  run time; this one also sees imports inside functions and on paths no test takes).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: the runtime modules aeexport may import (docs/architecture.md)
PUBLIC_RUNTIME = frozenset(
    {
        "aeruntime",
        "aeruntime.format",
        "aeruntime.errors",
        "aeruntime.latent_codes",
        "aeruntime.tables",
        "aeruntime.validation",
        "aeruntime.clibase",
        "aeruntime.fs",
        "aeruntime.spark",
    }
)
#: top-level packages aeruntime must not import
NOT_IN_RUNTIME = frozenset({"torch", "onnx", "aeexport"})


def _imports(package: Path):  # type: ignore[no-untyped-def]
    """Yield ``(file:line, imported module, imported names)`` of every absolute import below ``package``."""
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield where, alias.name, ()
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield where, node.module, tuple(alias.name for alias in node.names)


def _runtime_imports():  # type: ignore[no-untyped-def]
    """Imports of aeruntime modules by aeexport: ``(where, module, names)``."""
    for where, module, names in _imports(ROOT / "aeexport"):
        if module == "aeruntime" or module.startswith("aeruntime."):
            yield where, module, names


def test_the_scan_sees_the_packages():
    assert any(True for _ in _runtime_imports()), "no aeruntime import found in aeexport: wrong root?"
    assert any(True for _ in _imports(ROOT / "runtime" / "aeruntime"))


def test_aeexport_imports_only_public_runtime_modules():
    bad = []
    for where, module, names in _runtime_imports():
        # `from aeruntime import tables` imports a module too
        modules = [module, *(f"aeruntime.{n}" for n in names if module == "aeruntime" and _is_module(f"aeruntime.{n}"))]
        bad += [f"{where}: {m}" for m in modules if m not in PUBLIC_RUNTIME]
    assert not bad, "aeexport imports runtime modules that are not public (docs/architecture.md):\n" + "\n".join(bad)


def _is_module(name: str) -> bool:
    """``aeruntime.x`` is a module or package of the runtime (not another name in ``aeruntime``)."""
    rel = Path("runtime", *name.split("."))
    return (ROOT / rel).is_dir() or (ROOT / rel).with_suffix(".py").is_file()


def test_aeexport_imports_no_private_runtime_name():
    bad = [
        f"{where}: {module} {', '.join(names)}"
        for where, module, names in _runtime_imports()
        if _private([*module.split("."), *names])
    ]
    assert not bad, "aeexport uses private aeruntime names:\n" + "\n".join(bad)


def _private(parts: list[str]) -> bool:
    return any(p.startswith("_") and not p.startswith("__") for p in parts)


def test_aeruntime_never_imports_torch_onnx_or_aeexport():
    bad = [
        f"{where}: {module}"
        for where, module, _ in _imports(ROOT / "runtime" / "aeruntime")
        if module.split(".")[0] in NOT_IN_RUNTIME
    ]
    assert not bad, "aeruntime must not import torch, onnx or aeexport:\n" + "\n".join(bad)
