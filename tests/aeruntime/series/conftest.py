"""Fixtures of the series tests: a generated series and a series bundle forged for it (numpy only)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from .forge import generated_series, make_series_bundle

W = 16


@pytest.fixture(scope="session")
def series() -> SimpleNamespace:
    """rows (3000, 3) float32: sines + noise with spikes and a level shift; mu/scale of the first 1000 rows."""
    x, y = generated_series()
    return SimpleNamespace(x=x, y=y, mu=x[:1000].mean(0), scale=x[:1000].std(0))


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, series):
    """A series bundle (W = 16, C = 3, threshold 1.0, alarm k=2 of n=3, hold-off 5)."""
    out = tmp_path_factory.mktemp("series") / "bundle"
    return make_series_bundle(
        out, series.mu, series.scale, W, threshold=1.0, alarm={"k": 2, "n": 3, "hold_off": 5}, names=["a", "b", "c"]
    )


@pytest.fixture(scope="session")
def model(bundle_dir):
    import aeruntime

    return aeruntime.load(bundle_dir, providers="cpu")


@pytest.fixture(scope="session")
def one_shot(model, series) -> np.ndarray:
    """Scores (3000,) of the whole series in one piece."""
    from aeruntime.series import score_series

    return score_series(model, series.x, chunk_rows=len(series.x))
