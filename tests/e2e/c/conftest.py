"""Fixtures of the C consumer's tests: a Debian 13 build root, the compiled ``aescore``, the bundles.

``examples/c/rootfs.sh`` gives a root with Debian's onnxruntime 1.21 (the host on Debian 13,
else a debootstrapped trixie in ``$AEEXPORT_ROOTFS``, built once and cached). The sources are
compiled there, in a session folder that every run binds at the same path inside the root, so
the paths a test passes mean the same on both sides. Needs root, ``debootstrap`` and a Debian mirror
where the host is not Debian 13 (``rootfs.sh check`` says what is missing; the tests then skip with
that line; CI provides all of it, and ``.ci/run`` fails if they skip). Nothing is installed on the host.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import BIN, MODELS, ROOT, SUBPROCESS_ENV

C_DIR = ROOT / "examples" / "c"
ROOTFS_SH = C_DIR / "rootfs.sh"
#: the shipped row bundles (series bundles take windows: their C tests are in test_aescore_stream.py)
SHIPPED = sorted(
    p.parent.name
    for p in MODELS.glob("*/scorer.onnx")
    if json.loads((p.parent / "manifest.json").read_text()).get("series") is None
)
#: variants of digits-dense made by the fixture: (name, aeexport arguments after the bundle)
VARIANTS = {
    "int8-dynamic": ("quantize", "--int8", "dynamic"),
    "int8-static": ("quantize", "--int8", "static"),
    "fp16": ("quantize", "--fp16"),
    "ort": ("optimize", "--ort-format"),
}
#: the bundles aescore scores: the ORT-format variant is refused (it cannot check a flatbuffer; test_aescore_trust.py)
ALL_BUNDLES = [*SHIPPED, *(f"digits-dense-{v}" for v in VARIANTS if v != "ort")]
#: rows per onnxruntime call in aescore (``#define BATCH`` in aescore.c); int8-dynamic scores depend on
#: the batch (DynamicQuantizeLinear takes each activation's range over the whole batch), so the
#: reference scores the same batches
C_BATCH = int(re.search(r"#define BATCH (\d+)", (C_DIR / "aescore.c").read_text()).group(1))
VALGRIND = ("valgrind", "-q", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite")
#: Debian's libonnxruntime1.21 prints these while it loads (ONNX schemas registered twice); not ours
_LOAD_NOISE = "Schema error: "


def _trixie_host() -> bool:
    try:
        return "VERSION_CODENAME=trixie" in Path("/etc/os-release").read_text()
    except OSError:
        return False


@dataclass
class Consumer:
    """The compiled consumer and the session folder bound into the build root."""

    binary: Path
    work: Path

    def run(
        self, *args: str | Path, stdin: str | None = None, valgrind: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``aescore ARGS`` in the build root; ``stderr`` without onnxruntime's load noise."""
        cmd = [*(VALGRIND if valgrind else ()), str(self.binary), *map(str, args)]
        r = subprocess.run(
            ["bash", str(ROOTFS_SH), "run", "--bind", str(self.work), *cmd],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith(_LOAD_NOISE)]
        return subprocess.CompletedProcess(r.args, r.returncode, r.stdout, "\n".join(lines))

    def scores(self, bundle: Path, rows: Path, *options: str) -> tuple[np.ndarray, np.ndarray]:
        """(scores float32, labels int8) that ``aescore [OPTIONS] BUNDLE ROWS`` prints."""
        table = self.table(bundle, rows, *options)
        return table[:, 0].astype(np.float32), table[:, 1].astype(np.int8)

    def table(self, bundle: Path, rows: Path, *options: str) -> np.ndarray:
        """What ``aescore [OPTIONS] BUNDLE ROWS`` prints: (n, 2) score, label, or (n, 3) with p_value."""
        r = self.run(*options, bundle, rows)
        assert r.returncode == 0, f"aescore failed ({r.returncode}): {r.stderr}"
        lines = r.stdout.splitlines()
        assert lines[0] in ("score,label", "score,label,p_value"), lines[:2]
        width = len(lines[0].split(","))
        return np.array([ln.split(",") for ln in lines[1:]], dtype=np.float64).reshape(-1, width)


@pytest.fixture(scope="session")
def consumer(tmp_path_factory) -> Consumer:
    """``examples/c`` built with ``make`` against Debian 13's onnxruntime."""
    check = subprocess.run(["bash", str(ROOTFS_SH), "check"], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        why = (check.stdout.strip() or check.stderr.strip()).splitlines()[-1:] or ["rootfs.sh check failed"]
        pytest.skip(f"the C consumer needs a Debian 13 root: {why[0]}")
    made = subprocess.run(["bash", str(ROOTFS_SH), "path"], capture_output=True, text=True, timeout=1200)
    assert made.returncode == 0, f"rootfs.sh path failed: {made.stderr[-3000:]}"
    work = tmp_path_factory.mktemp("c-consumer")
    src = work / "src"
    shutil.copytree(C_DIR, src, ignore=shutil.ignore_patterns("aescore", "*.o"))
    build = subprocess.run(
        ["bash", str(ROOTFS_SH), "run", "--bind", str(work), "make", "-s", "-C", str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, f"make failed (-Wall -Wextra -Werror):\n{build.stdout}\n{build.stderr}"
    return Consumer(src / "aescore", work)


def _make_variant(parent: Path, name: str, args: tuple[str, ...]) -> Path:
    out = parent.with_name(f"{parent.name}-{name}")
    cmd = [str(BIN / "aeexport"), args[0], str(parent), *args[1:], "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=600)
    assert r.returncode == 0, f"{' '.join(cmd)} failed: {r.stderr[-2000:]}"
    return out


@pytest.fixture(scope="session")
def bundles(consumer) -> dict[str, Path]:
    """name -> a copy inside the bound folder: every shipped bundle and digits-dense's variants."""
    root = consumer.work / "bundles"
    out = {name: shutil.copytree(MODELS / name, root / name) for name in SHIPPED}
    for name, args in VARIANTS.items():
        out[f"digits-dense-{name}"] = _make_variant(out["digits-dense"], name, args)
    return out


@pytest.fixture(scope="session")
def named_bundle(consumer, dense_trained, digits_split) -> Path:
    """A dense bundle exported with feature names (``aeexport.feature_names`` in its graphs)."""
    from aeexport.export import export_bundle

    out = consumer.work / "bundles" / "named"
    names = [f"px{i}" for i in range(64)]
    export_bundle(dense_trained.model, out, calibration_x=digits_split.val, dataset={"feature_names": names})
    return out


@pytest.fixture(scope="session")
def digit_rows(consumer, digits) -> tuple[np.ndarray, Path]:
    """sklearn's digits (1,797 rows) and ten clear outliers, and the same rows as a header-less CSV."""
    X = digits[0].astype(np.float32)
    rows = np.concatenate([X, X[:10] * 4.0 + 3.0])
    path = consumer.work / "rows.csv"
    np.savetxt(path, rows, delimiter=",", fmt="%.9g")
    return rows, path


def tolerance(bundle: Path) -> tuple[float, float]:
    """(atol, rtol): the bundle's own parity tolerance (``manifest.golden.tolerance``)."""
    tol = json.loads((bundle / "manifest.json").read_text())["golden"]["tolerance"]
    return float(tol["atol"]), float(tol["rtol"])
