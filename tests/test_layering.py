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
        "aeruntime.series",
        "aeruntime.errors",
        "aeruntime.decisions",
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


# ---------------------------------------------------------------------------------------------
# aeexport's own layers (docs/architecture.md, "Layers"): an import points down, never up or sideways.

AEEXPORT = ROOT / "aeexport"
#: rank of each package (and top-level module) of aeexport: a module imports only lower ranks or its own package
RANKS = {
    "cli": 10,
    "__main__": 11,
    "commands": 9,
    "pipeline": 8,
    "report": 7,
    "web": 7,
    "packaging": 7,  # torch-free: a bundle as an MLflow or Triton package
    "variants": 6,
    "export": 5,
    "train": 4,
    "models": 3,
    "settings": 2,
    "data": 1,
    "_lazy": 0,
    "": 0,  # aeexport/__init__.py: __version__ and the lazy top-level names
}
#: packages whose modules import no torch (nor onnx) at module level: the command line starts without it
TORCH_FREE_AT_IMPORT = ("settings", "commands", "data", "packaging")
HEAVY = frozenset({"torch", "onnx", "onnxscript", "safetensors"})
MAX_TOP_MODULES = 5
MAX_LINES = 450
MAX_PARAMS = 8


def _modules():  # type: ignore[no-untyped-def]
    """Yield ``(dotted name below aeexport, path, tree)`` of every module of aeexport."""
    for path in sorted(AEEXPORT.rglob("*.py")):
        parts = list(path.relative_to(AEEXPORT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_package(name: str) -> bool:
    return (AEEXPORT / Path(*name.split("."))).is_dir() if name else True


def _aeexport_imports(name: str, path: Path, tree: ast.Module):  # type: ignore[no-untyped-def]
    """Yield ``(line, imported aeexport module, at module level)`` of every import of aeexport by ``name``."""
    top = {id(n) for n in tree.body}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module == "aeexport" or (node.module or "").startswith("aeexport."):
                target = node.module[len("aeexport.") :] if node.module != "aeexport" else ""
            else:
                continue
            yield node.lineno, target, id(node) in top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aeexport."):
                    yield node.lineno, alias.name[len("aeexport.") :], id(node) in top


def _layer(name: str) -> str:
    return name.split(".")[0]


def test_aeexport_has_at_most_five_top_level_modules():
    top = sorted(p.name for p in AEEXPORT.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, f"aeexport/ has {len(top)} top-level modules (at most {MAX_TOP_MODULES}): {top}"
    packages = sorted(p.name for p in AEEXPORT.iterdir() if (p / "__init__.py").is_file())
    assert set(packages) | {p.removesuffix(".py") for p in top} - {"__init__"} <= set(RANKS), "a package without a rank"


def test_aeexport_imports_point_down_the_layers():
    bad = []
    for name, path, tree in _modules():
        for line, target, _ in _aeexport_imports(name, path, tree):
            src, dst = _layer(name), _layer(target)
            if src != dst and RANKS[dst] >= RANKS[src]:
                bad.append(f"aeexport/{path.relative_to(AEEXPORT)}:{line}: {src} -> {dst}")
    assert not bad, "imports against the layers (docs/architecture.md):\n" + "\n".join(bad)


def test_a_package_is_entered_through_its_init():
    """Another package's private modules are not imported: its ``__init__`` (``__all__``) is the door."""
    bad = []
    for name, path, tree in _modules():
        for line, target, _ in _aeexport_imports(name, path, tree):
            parts = target.split(".")
            if _layer(name) != parts[0] and any(p.startswith("_") for p in parts[1:]):
                bad.append(f"aeexport/{path.relative_to(AEEXPORT)}:{line}: {target}")
    assert not bad, "imports of another package's private module:\n" + "\n".join(bad)


def test_torch_free_packages_import_no_torch_at_module_level():
    bad = []
    for name, path, tree in _modules():
        if _layer(name) not in TORCH_FREE_AT_IMPORT:
            continue
        for node in tree.body:
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            bad += [
                f"aeexport/{path.relative_to(AEEXPORT)}:{node.lineno}: {n}" for n in names if n.split(".")[0] in HEAVY
            ]
    assert not bad, "torch-free packages import torch/onnx at module level:\n" + "\n".join(bad)


def test_no_import_cycle_in_aeexport():
    """Module to module, imports inside functions included: a cycle held apart only by a deferred import counts."""
    names = {name for name, _, _ in _modules()}
    edges: dict[str, set[str]] = {n: set() for n in names}
    for name, path, tree in _modules():
        for _, target, _ in _aeexport_imports(name, path, tree):
            if target in names and target != name:
                edges[name].add(target)
    for name in names:  # a package stands for its modules (a lazy __init__ imports them on first use)
        if _is_package(name) and name:
            edges[name] |= {m for m in names if m.startswith(name + ".") and m.count(".") == name.count(".") + 1}
    edges[""] = set()  # aeexport/__init__: __version__ and lazy names only
    cycle = _find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` (a list of nodes, first = last), or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_find_cycle_sees_a_cycle_and_no_false_one():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_aeexport_module_over_450_lines():
    long = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in sorted(AEEXPORT.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert not long, f"modules over {MAX_LINES} lines:\n" + "\n".join(long)


def _is_click_command(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated by ``click.command``/``click.group`` (its parameters are the command's options)."""
    for d in fn.decorator_list:
        call = d.func if isinstance(d, ast.Call) else d
        if isinstance(call, ast.Attribute) and call.attr in {"command", "group"}:
            return True
    return False


def test_no_function_over_8_parameters_outside_click_commands():
    bad = []
    for _, path, tree in _modules():
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or _is_click_command(fn):
                continue
            a = fn.args
            params = [
                *a.posonlyargs,
                *a.args,
                *a.kwonlyargs,
                *([a.vararg] if a.vararg else []),
                *([a.kwarg] if a.kwarg else []),
            ]
            n = len([p for p in params if p.arg not in {"self", "cls"}])
            if n > MAX_PARAMS:
                bad.append(f"aeexport/{path.relative_to(AEEXPORT)}:{fn.lineno}: {fn.name} ({n})")
    assert not bad, f"functions over {MAX_PARAMS} parameters:\n" + "\n".join(bad)


def test_every_package_exports_what_its_all_names():
    """``__all__`` is the API (httpx style): every name listed is there, from a private module of the package."""
    import importlib

    for name in sorted(RANKS):
        if not name or not _is_package(name):
            continue
        package = importlib.import_module(f"aeexport.{name}")
        missing = [n for n in package.__all__ if not hasattr(package, n)]
        assert not missing, f"aeexport.{name}.__all__ names missing attributes: {missing}"
        assert sorted(package.__all__) == sorted(set(package.__all__)), f"aeexport.{name}.__all__ has duplicates"
