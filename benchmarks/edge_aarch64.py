"""aarch64 parity: the C consumer and aeruntime on arm64 (emulated) against x86-64.

Builds (cached) a Debian 13 arm64 root under qemu-user-static and the amd64 one
(``examples/c/rootfs.sh``, root needed), compiles ``examples/c`` in both, makes digits-dense's
int8-dynamic, int8-static, fp16 and ORT-format variants, and scores sklearn's digits plus ten
outliers (1,807 rows, batches of 256) with every shipped bundle and variant:

- ``c-x86-64``: ``aescore`` in the amd64 root (onnxruntime 1.21), the reference;
- ``c-arm64``: ``aescore`` in the arm64 root (onnxruntime 1.21, emulated);
- ``aeruntime-arm64``: this checkout's ``aeruntime`` with Debian's python3-onnxruntime and numpy.

Per bundle: max abs score difference and Spearman rank correlation against ``c-x86-64``, and
label agreement (the share of rows with the same label). Same onnxruntime version on both
sides, so the differences are the architectures' kernels (x86's AVX2/VNNI vs ARM's NEON/dot
product; qemu emulates the arm64 instructions exactly).

Usage::

    python benchmarks/edge_aarch64.py [--record]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, parser, write  # noqa: E402

ROOTFS_SH = ROOT / "examples" / "c" / "rootfs.sh"
PY_PACKAGES = "python3-onnxruntime python3-numpy python3-click"
VARIANTS = {
    "int8-dynamic": ("quantize", "--int8", "dynamic"),
    "int8-static": ("quantize", "--int8", "static"),
    "fp16": ("quantize", "--fp16"),
    "ort": ("optimize", "--ort-format"),
}
#: aeruntime in the arm64 root: the rows in batches of 256 (as aescore), scores + labels to .npy
_SCORE_PY = """
import sys, numpy as np, aeruntime
m = aeruntime.load(sys.argv[1]); x = np.loadtxt(sys.argv[2], delimiter=",", dtype=np.float32)
x = x.reshape(-1, *m.input_shape)
s = np.concatenate([m.score(x[i:i + 256]) for i in range(0, len(x), 256)])
np.save(sys.argv[3], np.stack([s.astype(np.float64), (s > m.threshold).astype(np.float64)], 1))
"""


def _env(arch: str) -> dict[str, str]:
    env = {**os.environ, "AEEXPORT_ROOTFS_ARCH": arch}
    if arch == "arm64":
        env["AEEXPORT_ROOTFS_EXTRA"] = PY_PACKAGES
    return env


def in_root(arch: str, work: Path, *cmd: str) -> str:
    r = subprocess.run(
        ["bash", str(ROOTFS_SH), "run", "--bind", str(work), *cmd], capture_output=True, text=True, env=_env(arch)
    )
    if r.returncode:
        tail = [ln for ln in r.stderr.splitlines() if not ln.startswith("Schema error")][-5:]
        raise SystemExit(f"{arch}: {' '.join(cmd[:3])} failed ({r.returncode}): {' | '.join(tail)}")
    return r.stdout


def c_scores(arch: str, work: Path, bundle: Path, rows: Path) -> np.ndarray:
    out = in_root(arch, work, str(work / f"src-{arch}" / "aescore"), str(bundle), str(rows))
    return np.array([ln.split(",") for ln in out.splitlines()[1:]], dtype=np.float64)


def bundles(work: Path) -> dict[str, Path]:
    out = {
        p.parent.name: shutil.copytree(p.parent, work / "bundles" / p.parent.name)
        for p in sorted((ROOT / "models").glob("*/scorer.onnx"))
    }
    for kind, args in VARIANTS.items():
        dst = work / "bundles" / f"digits-dense-{kind}"
        cmd = [str(Path(sys.executable).parent / "aeexport"), args[0], str(out["digits-dense"]), *args[1:]]
        subprocess.run([*cmd, "--out", str(dst)], check=True, capture_output=True)
        out[dst.name] = dst
    return out


def compare(ref: np.ndarray, other: np.ndarray) -> str:
    from scipy.stats import spearmanr

    diff = float(np.max(np.abs(ref[:, 0] - other[:, 0])))
    rho = float(spearmanr(ref[:, 0], other[:, 0]).statistic)
    agree = float(np.mean(ref[:, 1] == other[:, 1]))
    return f"{diff:.3g} | {rho:.6f} | {agree:.4f}"


def prepare(work: Path) -> Path:
    """``aescore`` built for both architectures, aeruntime and its scoring script copied; the rows' CSV."""
    from sklearn.datasets import load_digits

    for arch in ("amd64", "arm64"):
        src = shutil.copytree(ROOT / "examples" / "c", work / f"src-{arch}", ignore=shutil.ignore_patterns("aescore"))
        in_root(arch, work, "make", "-s", "-C", str(src))
    shutil.copytree(ROOT / "runtime" / "aeruntime", work / "py" / "aeruntime")
    (work / "score.py").write_text(_SCORE_PY)
    x = load_digits().data.astype(np.float32)
    rows = work / "rows.csv"
    np.savetxt(rows, np.concatenate([x, x[:10] * 4.0 + 3.0]), delimiter=",", fmt="%.9g")
    return rows


def py_scores(work: Path, bundle: Path, rows: Path, npy: Path) -> np.ndarray:
    """(n, 2) scores and labels of aeruntime in the arm64 root."""
    script = [f"PYTHONPATH={work / 'py'}", "python3", str(work / "score.py"), str(bundle), str(rows), str(npy)]
    in_root("arm64", work, "env", *script)
    return np.load(npy, allow_pickle=False)


def main() -> None:
    args = parser(__doc__).parse_args()
    for arch in ("amd64", "arm64"):
        subprocess.run(["bash", str(ROOTFS_SH), "path"], check=True, env=_env(arch), stdout=subprocess.DEVNULL)
    body = [
        "Reference: `aescore` on x86-64; onnxruntime 1.21 (Debian 13) everywhere; 1,807 rows (digits + 10",
        "outliers), batches of 256; arm64 emulated by qemu-user-static (not a real board).",
        "",
        "| bundle | C arm64: max abs diff | Spearman | labels agree | aeruntime arm64: max abs diff | Spearman "
        "| labels agree |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="aeexport-aarch64-") as tmp:
        work = Path(tmp)
        rows = prepare(work)
        for name, bundle in bundles(work).items():
            ref = c_scores("amd64", work, bundle, rows)
            arm = c_scores("arm64", work, bundle, rows)
            py = py_scores(work, bundle, rows, work / f"{name}.npy")
            body.append(f"| {name} | {compare(ref, arm)} | {compare(ref, py)} |")
            print(body[-1], file=sys.stderr)
    title = "aarch64 parity: the C consumer and aeruntime on arm64 vs x86-64"
    write("edge_aarch64", title, body, args.out, args.record)


if __name__ == "__main__":
    main()
