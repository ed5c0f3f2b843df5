"""`aeexport train` then `aeexport export` calibrates like `aeexport run`: at the preset's percentile."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aeexport.cli import main
from aeexport.settings import IMAGE_PERCENTILE


@pytest.mark.parametrize(
    ("extra", "percentile"),
    [
        ((), IMAGE_PERCENTILE),  # digits are images: the image preset's percentile travels in the checkpoint
        (("--model", "dense"), 95.0),  # an explicit --model: the default preset, the calibrator's 95
    ],
)
def test_export_uses_the_training_presets_percentile(tmp_path, extra, percentile):
    runner = CliRunner()
    ck, bundle = tmp_path / "ck", tmp_path / "b"
    res = runner.invoke(main, ["train", "digits", "--out", str(ck), "--epochs", "3", "--quiet", *extra])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["export", str(ck), "--out", str(bundle)])
    assert res.exit_code == 0, res.output
    threshold = json.loads((bundle / "manifest.json").read_text())["threshold"]
    assert threshold["method"] == "percentile" and threshold["params"]["percentile"] == percentile


def test_an_explicit_percentile_wins_over_the_presets(tmp_path):
    runner = CliRunner()
    ck, bundle = tmp_path / "ck", tmp_path / "b"
    assert runner.invoke(main, ["train", "digits", "--out", str(ck), "--epochs", "3", "--quiet"]).exit_code == 0
    res = runner.invoke(main, ["export", str(ck), "--out", str(bundle), "--percentile", "90"])
    assert res.exit_code == 0, res.output
    assert json.loads((bundle / "manifest.json").read_text())["threshold"]["params"]["percentile"] == 90.0
