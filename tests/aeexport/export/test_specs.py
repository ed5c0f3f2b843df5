"""export_bundle's spec objects and the loose keywords they replace (torch-free)."""

from __future__ import annotations

import pytest

from aeexport.specs import ExportOptions, ThresholdSpec, specs_from_keywords


def test_loose_keywords_map_to_the_specs():
    spec, opts = specs_from_keywords(None, None, {"percentile": 90, "verbose": True, "batches": (1, 7)})
    assert spec == ThresholdSpec(method="percentile", param=90)
    assert opts == ExportOptions(verbose=True, batches=(1, 7))
    spec, _ = specs_from_keywords(None, None, {"percentile": 90, "threshold_method": "target_fpr"})
    assert spec == ThresholdSpec(method="target_fpr", param=None)  # percentile is the percentile method's param
    spec, _ = specs_from_keywords(None, None, {"threshold": 1.5, "score": "mae"})
    assert spec.value == 1.5 and spec.score == "mae"


def test_specs_or_keywords_not_both_and_no_unknown_keyword():
    with pytest.raises(TypeError, match="not both"):
        specs_from_keywords(ThresholdSpec(), None, {"percentile": 90})
    with pytest.raises(TypeError, match="not both"):
        specs_from_keywords(None, ExportOptions(), {"slim": True})
    with pytest.raises(TypeError, match="percentil"):
        specs_from_keywords(None, None, {"percentil": 90})
