"""One module per command, registered in one place; ``python -m`` runs every command of both CLIs."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import subprocess
import sys

import click
import pytest

import aeexport.commands
from aeexport.cli import main
from aeexport.commands import COMMANDS
from aeruntime.cli import main as rt_main
from aeruntime.clibase import DEFAULT_PROVIDERS, PROVIDER_CHOICES
from tests.conftest import SUBPROCESS_ENV

#: modules of aeexport.commands that hold helpers, not a command
HELPER_MODULES = {"_common", "_options", "_series_options"}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=SUBPROCESS_ENV, check=False, timeout=120
    )


def test_every_command_module_is_registered():
    names = {m.name for m in pkgutil.iter_modules(aeexport.commands.__path__)} - HELPER_MODULES
    assert len(names) == len(COMMANDS)
    for name in names:
        module = importlib.import_module(f"aeexport.commands.{name}")
        defined = [
            v
            for v in vars(module).values()
            if isinstance(v, click.Command) and v.callback.__module__ == module.__name__
        ]
        assert len(defined) == 1, (name, defined)
        assert defined[0] in COMMANDS and main.commands[defined[0].name] is defined[0], name
    assert sorted(main.commands) == sorted(c.name for c in COMMANDS)


def test_python_m_aeexport_cli_knows_slim():
    r = _run("-m", "aeexport.cli", "slim", "--help")
    assert r.returncode == 0, r.stderr
    assert "Write a runtime-only copy of BUNDLE" in r.stdout


@pytest.mark.parametrize("command", sorted(c.name for c in COMMANDS))
def test_python_m_aeexport_runs_every_command(command):
    r = _run("-m", "aeexport", command, "--help")
    assert r.returncode == 0, r.stderr
    assert f"Usage: python -m aeexport {command}" in r.stdout


def test_python_m_aeruntime_runs_every_command():
    for module in ("aeruntime", "aeruntime.cli"):
        r = _run("-m", module, "--help")
        assert r.returncode == 0, r.stderr
        assert all(name in r.stdout for name in rt_main.commands), (module, r.stdout)
    for name in rt_main.commands:
        r = _run("-m", "aeruntime", name, "--help")
        assert r.returncode == 0, (name, r.stderr)


def test_every_providers_option_is_the_runtime_one():
    commands = [*main.commands.values(), *(c for n, c in rt_main.commands.items() if n != "spark")]
    found = 0
    for command in commands:
        for p in command.params:
            if p.name == "providers":
                found += 1
                assert p.default == DEFAULT_PROVIDERS and list(p.type.choices) == list(PROVIDER_CHOICES), command.name
    assert found >= 7  # evaluate, report, compare-pca; score, encode, decode, reconstruct


@pytest.mark.parametrize("command", ["train", "run"])
def test_training_flags_come_from_the_train_config_metadata(command):
    from aeexport.settings import TrainConfig

    params = {p.name: p for p in main.commands[command].params}
    for f in dataclasses.fields(TrainConfig):
        if "flag" not in f.metadata:
            continue
        name = "quiet" if f.name == "progress" else f.name
        assert name in params, f.name
        if f.name != "progress":
            assert params[name].default == f.default and params[name].help == f.metadata["flag"]["help"], f.name
