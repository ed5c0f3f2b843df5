"""Shared fixtures: small models trained on digits, exported once per session.

Tests are laid out like the code: ``tests/aeruntime`` (the runtime alone, no torch: its
own conftest serves the shipped ``models/`` bundles; ``spark/`` for ``aeruntime.spark``),
``tests/aeexport/<package>`` (one folder per package of aeexport), and ``tests/e2e`` for what runs
outside Python (the Node consumer). Fixtures used by more than one directory live here (``spark``:
the one local Spark session of ``tests/aeruntime/spark`` and ``tests/aeexport/data``);
``tests/helpers.py`` holds functions that tamper with bundle copies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
#: the shipped bundles that score single rows (models/series-* take windows of a series)
SHIPPED_ROWS = sorted(
    p.parent.name for p in MODELS.glob("*/manifest.json") if json.loads(p.read_text()).get("series") is None
)
#: environment for subprocesses so they import this checkout (also from a worktree)
SUBPROCESS_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "runtime")])}
BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip)


def _java_problem() -> str | None:
    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else shutil.which("java")
    if java is None or not Path(java).exists():
        return "Spark needs a Java runtime (17+): none found on PATH or in JAVA_HOME"
    try:
        subprocess.run([str(java), "-version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Spark needs a working Java runtime: `java -version` failed ({exc})"
    return None


@pytest.fixture(scope="session")
def spark():
    """One SparkSession on local[2,2] (2 cores, a failed task is retried once) for the whole test session,
    whose Python workers import this checkout's aeruntime; skipped without pyspark or Java."""
    problem = _java_problem()
    if problem:
        pytest.skip(problem)
    pyspark = pytest.importorskip("pyspark", reason="aeruntime[spark] (pyspark) is not installed")
    del pyspark
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    paths = [str(ROOT), str(ROOT / "runtime"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    session = (
        SparkSession.builder.master("local[2,2]")
        .appName("aeruntime-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.executorEnv.PYTHONPATH", os.environ["PYTHONPATH"])
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: X (1797, 64) float32 in 0..16, y (1797,) classes."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.float32), d.target


@pytest.fixture(scope="session")
def digits_split(digits):
    """Novelty split with digit 0 as the anomaly class (the `aeexport run` scenario)."""
    from aeexport.data import binary_labels, make_split

    X, y = digits
    return make_split(X, binary_labels(y, 0), val_fraction=0.15, test_fraction=0.2, seed=0)


@pytest.fixture(scope="session")
def dense_trained(digits_split):
    """A dense AE trained briefly on digits (fast; parity does not need a good model)."""
    from aeexport.settings import TrainConfig
    from aeexport.train import train_model

    cfg = TrainConfig(epochs=15, patience=5, progress=False, seed=0)
    return train_model(digits_split.train, digits_split.val, kind="dense", config=cfg)


@pytest.fixture(scope="session")
def dense_bundle(tmp_path_factory, dense_trained, digits_split) -> Path:
    """The dense model exported to a bundle directory (do not modify; copy it first)."""
    from aeexport.export import export_bundle

    out = tmp_path_factory.mktemp("bundles") / "dense"
    export_bundle(dense_trained.model, out, calibration_x=digits_split.val, training=dense_trained.summary())
    return out


@pytest.fixture
def bundle_copy(dense_bundle, tmp_path) -> Path:
    """A private copy of ``dense_bundle`` that a test may modify."""
    import shutil

    dst = tmp_path / "bundle"
    shutil.copytree(dense_bundle, dst)
    return dst
