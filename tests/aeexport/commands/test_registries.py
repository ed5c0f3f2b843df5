"""The CLI takes its choices and defaults from the registries and dataclasses (issue 10)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from aeexport.cli import main
from tests.conftest import SUBPROCESS_ENV


def _param(command: str, name: str):
    return next(p for p in main.commands[command].params if p.name == name)


def test_model_kinds_are_the_registry():
    from aeexport.models import REGISTRY
    from aeexport.settings import MODEL_KINDS

    assert sorted(MODEL_KINDS) == sorted(REGISTRY)
    assert list(_param("train", "kind").type.choices) == list(MODEL_KINDS)


@pytest.mark.parametrize("command", ["train", "run"])
def test_train_options_default_to_the_train_config(command):
    from aeexport.data import SCALERS
    from aeexport.settings import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for name in ("epochs", "batch_size", "lr", "patience", "val_fraction", "seed", "device", "scaler", "threads"):
        assert _param(command, name).default == defaults[name], name
    assert list(_param(command, "scaler").type.choices) == list(SCALERS)


def test_presets_threshold_methods_and_scores_come_from_their_registries():
    from aeexport.export import CALIBRATORS, SCORE_DEFINITIONS
    from aeexport.settings import PRESETS

    for command in ("export", "run"):
        assert set(_param(command, "threshold_method").type.choices) == set(CALIBRATORS) - {"f1"}
        assert list(_param(command, "score").type.choices) == list(SCORE_DEFINITIONS)
    assert list(_param("train", "preset").type.choices) == list(PRESETS)


def test_cli_help_does_not_import_torch():
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom aeexport.cli import main\n"
        "r = CliRunner().invoke(main, ['train', '--help'])\nassert r.exit_code == 0, r.output\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=SUBPROCESS_ENV, check=False)
    assert r.returncode == 0, r.stderr
