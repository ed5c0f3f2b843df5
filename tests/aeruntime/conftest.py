"""Fixtures of the runtime tests: shipped bundles and rows made with numpy only.

``tests/aeruntime`` must pass where only ``aeruntime[cpu]``, numpy and pytest are
installed (no torch, no aeexport, no scikit-learn; the table, fuzz and Spark tests skip
with a reason without pyarrow, hypothesis or pyspark), so it does not use the fixtures of
``tests/conftest.py`` that train and export: ``shipped_dense`` is a copy of the shipped
``models/digits-dense``, ``shipped_copy`` a private copy of it, and ``synthetic_digits``
rows drawn around its scaler statistics (same shape and range as scikit-learn's digits).
The names differ from the root fixtures (``dense_bundle``, ``digits``) on purpose: they
hold other data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import MODELS

SHIPPED = {name: MODELS / f"digits-{name}" for name in ("dense", "conv", "vae")}
#: digits-dense as shipped before decisions (models/ at d6a3963): a score-only scorer, kept to prove old bundles work
SCORE_ONLY_DENSE = Path(__file__).parent / "data" / "digits-dense-score-only"


@pytest.fixture(scope="session")
def shipped_dense(tmp_path_factory) -> Path:
    """A copy of the shipped digits-dense bundle (do not modify; copy it first)."""
    out = tmp_path_factory.mktemp("shipped") / "dense"
    shutil.copytree(SHIPPED["dense"], out)
    return out


@pytest.fixture(scope="session")
def score_only_dense(tmp_path_factory) -> Path:
    """A copy of a bundle exported before decisions (scorer outputs score only)."""
    out = tmp_path_factory.mktemp("score-only") / "dense"
    shutil.copytree(SCORE_ONLY_DENSE, out)
    return out


@pytest.fixture
def shipped_copy(shipped_dense, tmp_path) -> Path:
    """A private copy of ``shipped_dense`` that a test may modify."""
    dst = tmp_path / "bundle"
    shutil.copytree(shipped_dense, dst)
    return dst


@pytest.fixture(scope="session")
def synthetic_digits() -> tuple[np.ndarray, np.ndarray]:
    """X (1797, 64) float32 in 0..16 around the digits-dense scaler statistics, y (1797,) in 0..9."""
    m = json.loads((SHIPPED["dense"] / "manifest.json").read_text())
    mean, scale = (np.asarray(m["scaler"][k], np.float32) for k in ("mean", "scale"))
    rng = np.random.default_rng(0)
    X = np.clip(np.round(mean + scale * rng.standard_normal((1797, 64))), 0, 16).astype(np.float32)
    return X, rng.integers(0, 10, size=1797)


@pytest.fixture(scope="session")
def synthetic_split(synthetic_digits) -> SimpleNamespace:
    """``val`` (270 rows) and ``test`` (360 rows) of :func:`synthetic_digits`."""
    X, _ = synthetic_digits
    return SimpleNamespace(val=X[:270], test=X[270:630], train=X[630:])
