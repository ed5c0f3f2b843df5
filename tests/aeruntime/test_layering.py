"""The layers of aeruntime (docs/architecture.md), checked on the source with ast (nothing imported).

Each unit (a top-level module or a package of ``runtime/aeruntime``) sits in one layer
and imports only units of lower layers, its own modules and the standard library or
third-party packages; the file-system rules (``fs``) are the bottom, above the error
classes alone. Besides:

- no import cycle between the runtime's modules, counting the imports inside functions
  (an import moved into a function to hide a cycle is still a cycle);
- no torch, onnx, scikit-learn or aeexport import anywhere (the runtime is torch-free);
- no module or package named like a standard-library module: run as a script
  (``aeruntime/spark/submit.py`` under spark-submit) a folder of the package comes first on
  ``sys.path``, and a ``csv.py`` or ``io.py`` there would replace the standard library's.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "runtime" / "aeruntime"

#: bottom first; a unit imports only units of lower layers
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "_ort"}),  # the error classes; the one onnxruntime import
    frozenset({"fs"}),  # file-system rules: faults, the output rule, atomic publishing
    frozenset({"format", "validation", "latent_codes", "sampling", "providers"}),  # bundles, input checks
    # table I/O, graph sessions; decisions reads the calibration scores out of a graph (format)
    frozenset({"tables", "sessions", "explain", "doctor", "series", "decisions"}),
    frozenset({"model"}),  # Model and load
    frozenset({"__init__", "jobs", "clibase"}),  # the API (``aeruntime.load``), streaming jobs, CLI machinery
    frozenset({"spark", "serve", "verify"}),  # Spark, the v2 server, the self-check: commands over ``aeruntime.load``
    frozenset({"cli"}),  # the ``aeruntime`` command line, ``aeruntime spark`` included
    frozenset({"__main__"}),
)
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}
#: top-level packages the runtime never imports
FORBIDDEN = frozenset({"torch", "onnx", "sklearn", "aeexport"})


def _modules() -> dict[str, Path]:
    """Dotted module name (``aeruntime.fs.atomic``; a package by its ``__init__``) -> file."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["aeruntime", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package_of(name: str) -> str:
    """The package a module's relative imports start from."""
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _imports(name: str) -> Iterator[tuple[int, str]]:
    """``(line, absolute module)`` of every import in module ``name``, inside functions too."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = _package_of(name).split(".")
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, *([base] if base else [])])
            for alias in node.names:  # `from . import x` imports the module x
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in MODULES else base


def _internal(name: str) -> Iterator[tuple[int, str]]:
    """Imports of runtime modules by ``name`` (the module itself excluded)."""
    for line, target in _imports(name):
        while target not in MODULES and "." in target:  # `aeruntime.format.X` names -> the module
            target = target.rpartition(".")[0]
        if target in MODULES and target != name:
            yield line, target


def _unit(name: str) -> str:
    """``aeruntime.fs.atomic`` -> ``fs``; the package itself -> ``__init__``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_scan_sees_every_unit():
    units = {_unit(m) for m in MODULES}
    assert units == set(LAYER), (
        f"units without a layer: {units - set(LAYER)}; layers without a unit: {set(LAYER) - units}"
    )
    assert "aeruntime.fs.atomic" in MODULES and any(True for _ in _internal("aeruntime.tables.sinks"))


def test_units_import_only_lower_layers():
    bad = []
    for name in MODULES:
        for line, target in _internal(name):
            src, dst = _unit(name), _unit(target)
            if src != dst and LAYER[dst] >= LAYER[src]:
                bad.append(f"{MODULES[name].relative_to(PACKAGE)}:{line}: {src} (layer {LAYER[src]}) imports {target}")
    assert not bad, "imports that break the layers of aeruntime:\n" + "\n".join(bad)


def test_fs_is_the_bottom_layer():
    """The file-system rules use the error classes only: every other unit may publish through them."""
    below = {f"aeruntime.{u}" for u in LAYERS[0]}
    bad = [
        f"{name}:{line}: {target}"
        for name in MODULES
        if _unit(name) == "fs"
        for line, target in _internal(name)
        if _unit(target) != "fs" and target not in below
    ]
    assert not bad, "aeruntime.fs imports above the error classes:\n" + "\n".join(bad)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (a list of nodes, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], node, nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_no_import_cycle():
    cycle = _cycle({name: {t for _, t in _internal(name)} for name in MODULES})
    assert cycle is None, "import cycle in aeruntime: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_torch_onnx_sklearn_or_aeexport():
    bad = [
        f"{MODULES[name].relative_to(PACKAGE)}:{line}: {target}"
        for name in MODULES
        for line, target in _imports(name)
        if target.split(".")[0] in FORBIDDEN
    ]
    assert not bad, "aeruntime must stay torch-free (no torch, onnx, scikit-learn, aeexport):\n" + "\n".join(bad)


@pytest.mark.skipif(not hasattr(sys, "stdlib_module_names"), reason="sys.stdlib_module_names needs Python 3.10+")
def test_no_module_is_named_like_the_standard_library():
    names = {part for name in MODULES for part in name.split(".")[1:]}
    shadowing = sorted(names & set(sys.stdlib_module_names))
    assert not shadowing, f"aeruntime modules named like standard-library modules: {shadowing}; rename them"


def test_no_module_over_450_lines():
    """The runtime keeps aeexport's size rule (tests/test_layering.py): a module over 450 lines is split."""
    long = {
        path.relative_to(PACKAGE): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 450
    }
    assert not long, f"modules over 450 lines: {long}"
