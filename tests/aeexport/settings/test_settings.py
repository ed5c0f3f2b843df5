"""The settings of a run: one object passed through, torch-free, the specs' rules."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aeexport.settings import DEFAULT_PERCENTILE, ExportOptions, RunSettings, ThresholdSpec, TrainConfig, TrainSettings
from tests.conftest import SUBPROCESS_ENV


def test_a_spec_left_at_the_defaults_takes_the_presets_percentile():
    assert ThresholdSpec().or_percentile(96.0) == ThresholdSpec(param=96.0)
    assert ThresholdSpec().or_percentile(None) == ThresholdSpec()  # the calibrator's default
    given = ThresholdSpec(param=90.0)
    assert given.or_percentile(96.0) is given  # an option given on the command line wins
    assert ThresholdSpec(value=1.5).or_percentile(96.0).value == 1.5
    assert ThresholdSpec(method="target_fpr").or_percentile(96.0).param is None


def test_run_settings_defaults_are_the_run_commands():
    s = RunSettings()
    assert s.training == TrainSettings() and s.training.config == TrainConfig()
    assert s.threshold == ThresholdSpec() and s.export == ExportOptions()
    assert (s.bundle, s.plot, s.test_fraction) == (None, None, 0.2)
    assert s.training.kind == "dense" and s.training.header is None
    assert DEFAULT_PERCENTILE == 95.0


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        RunSettings().test_fraction = 0.5  # type: ignore[misc]


def test_settings_import_no_torch():
    code = "import sys, aeexport.settings, aeexport.cli; print(sorted({'torch', 'onnx'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
