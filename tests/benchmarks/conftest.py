"""The benchmarks' modules, imported from ``benchmarks/`` (not a package) for their tests."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench_import(monkeypatch):
    """``name -> module``: imports ``benchmarks/<name>.py`` with ``benchmarks/`` on ``sys.path``; the modules it
    imported are forgotten afterwards, so another test's import gets a fresh one."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    names: list[str] = []

    def load(name: str):
        names.append(name)
        return importlib.import_module(name)

    yield load
    for name in names:
        sys.modules.pop(name, None)
