"""The README's examples on ``rows.npy``, ``rows.csv``, ``rows.parquet`` run as written.

``python examples/make_rows.py`` writes the three files (scikit-learn's digits, ten outliers, an
``id`` column in the Parquet file); the commands of the README's "Dimensionality reduction"
block are read from the README itself and run in that folder, and the scores printed to stdout
are aeruntime's own.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

import aeruntime
from tests.conftest import BIN, MODELS, ROOT, SUBPROCESS_ENV

pytest.importorskip("pyarrow", reason="needs pyarrow: the README's examples read CSV and Parquet (aeruntime[tables])")
pytest.importorskip("sklearn", reason="needs scikit-learn: examples/make_rows.py reads the digits")


def _readme_block(first: str) -> list[str]:
    """The commands of the README's bash block that starts with ``first`` (comments dropped)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(" + re.escape(first) + r".*?)```", text, re.S)
    assert block, f"README.md has no bash block starting with {first!r}"
    return [ln.split("#")[0].strip() for ln in block.group(1).splitlines() if ln.split("#")[0].strip()]


def test_sample_inputs_and_the_readme_commands(tmp_path):
    commands = _readme_block("python examples/make_rows.py")
    (tmp_path / "models").symlink_to(MODELS)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    for line in commands:
        args = shlex.split(line)
        exe = [sys.executable] if args[0] == "python" else [str(BIN / args[0])]
        r = subprocess.run(
            [*exe, *args[1:]], cwd=tmp_path, capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=600
        )
        assert r.returncode == 0, f"{line}: {r.stderr[-2000:]}"
    X = np.load(tmp_path / "rows.npy", allow_pickle=False)
    assert X.shape == (1797, 64) and X.dtype == np.float32
    printed = subprocess.run(
        [str(BIN / "aeruntime"), "score", "models/digits-dense", "rows.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
        timeout=300,
    )
    assert printed.returncode == 0, printed.stderr
    got = np.loadtxt(printed.stdout.splitlines()[1:], delimiter=",", dtype=np.float64)
    model = aeruntime.load(MODELS / "digits-dense", providers="cpu")
    np.testing.assert_array_equal(got[:, 0].astype(np.float32), model.score(X))
    assert got[:10, 1].sum() == 10  # the ten outliers are flagged
    codes = np.load(tmp_path / "codes.npy", allow_pickle=False)
    assert codes.dtype == np.int8 and codes.shape == (1797, 16)
    assert (tmp_path / "rows_hat.csv").read_text().count("\n") == 1797 + 1
