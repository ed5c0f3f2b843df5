"""The ``series`` section of a manifest: a bad one is a ManifestError naming the field."""

from __future__ import annotations

import copy

import pytest

import aeruntime
from aeruntime.errors import ManifestError
from aeruntime.format.series import validate_series
from tests.helpers import copy_bundle, read_manifest, rehash

from .forge import series_section


def _manifest(**series) -> dict:
    return {
        "input": {"name": "x", "shape": [16, 3], "dtype": "float32", "feature_names": ["a", "b", "c"]},
        "graphs": {"encoder": {}, "decoder": {}, "scorer": {}},
        "series": {**series_section(16), **series},
    }


def test_a_valid_section_and_a_row_bundle_pass():
    validate_series(_manifest())
    validate_series(_manifest(time_column="ts", stride=4, alarm={"k": 2, "n": 5, "hold_off": 10}))
    validate_series({"input": {"shape": [64]}, "graphs": {}})  # no series section: a row bundle


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"window": 0}, r"series.window must be an integer >= 1, got 0"),
        ({"window": True}, r"series.window must be an integer >= 1, got True"),
        ({"window": 8}, r"input.shape must be \[window, columns\] = \[8, C\], got \[16, 3\]"),
        ({"stride": 0}, r"series.stride must be an integer >= 1"),
        ({"time_column": ""}, r"series.time_column must be null or a non-empty column name"),
        ({"time_column": "b"}, r"series.time_column must be a column that is not a feature, got 'b'"),
        ({"step_score": "window_mean"}, r"series.step_score must be one of \['window_end'\]"),
        ({"warmup": {"score": 0.0, "label": 0}}, r"series.warmup must be \{'score': null, 'label': 0\}"),
        ({"warmup": {"score": None, "label": False}}, r"series.warmup must be"),
        ({"alarm": None}, r"series.alarm must be an object"),
        ({"alarm": {"k": 3, "n": 2, "hold_off": 0}}, r"series.alarm.k must be at most alarm.n \(2\), got 3"),
        ({"alarm": {"k": 1, "n": 1, "hold_off": -1}}, r"series.alarm.hold_off must be an integer >= 0"),
        ({"alarm": {"k": 1, "hold_off": 0}}, r"series.alarm.n must be an integer >= 1, got None"),
    ],
)
def test_a_bad_series_section_is_a_manifest_error(change, match):
    with pytest.raises(ManifestError, match=match):
        validate_series(_manifest(**change))


def test_rank_and_scorer_are_required():
    m = _manifest()
    m["input"]["shape"] = [16, 3, 1]
    with pytest.raises(ManifestError, match=r"input.shape must be \[window, columns\]"):
        validate_series(m)
    m = _manifest()
    del m["graphs"]["scorer"]
    with pytest.raises(ManifestError, match=r"a series bundle needs a scorer graph"):
        validate_series(m)


def test_load_refuses_a_bundle_whose_series_section_was_damaged(bundle_dir, tmp_path):
    dst = copy_bundle(bundle_dir, tmp_path / "b")
    bad = copy.deepcopy(read_manifest(dst))
    bad["series"]["alarm"]["k"] = 9
    rehash(dst, bad)
    with pytest.raises(ManifestError, match=r"manifest.json: series.alarm.k must be at most alarm.n"):
        aeruntime.load(dst, providers="cpu")
    # the per-step feature names: C of them for a series bundle, not W * C
    assert aeruntime.load(bundle_dir, providers="cpu").feature_names == ["a", "b", "c"]
