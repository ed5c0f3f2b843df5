"""Footprint of the C consumer (examples/c) + Debian's libonnxruntime vs ``aeruntime score``.

Builds ``aescore`` in the Debian 13 root of ``examples/c/rootfs.sh`` (cached; made when
missing, needs root on a non-trixie host) and measures

- on disk: the binary (as built, and stripped), ``libonnxruntime.so`` and every shared library
  the binary loads outside glibc (``ldd`` in the root), against aeruntime[cpu]'s installed
  closure (see ``benchmarks/results/footprint.md``);
- peak RSS (``ru_maxrss`` of the process tree, median of ``--repeats`` runs, the two commands
  interleaved) of scoring sklearn's digits (1,797 rows, CSV) with one bundle:
  ``aescore BUNDLE rows.csv`` vs ``aeruntime score BUNDLE rows.csv``.

Usage::

    python benchmarks/bench_c_footprint.py [--bundle models/digits-dense] [--repeats 5] [--record]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import add_output_args, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROOTFS_SH = ROOT / "examples" / "c" / "rootfs.sh"
#: the peak RSS of a command's process tree, in KiB, measured by a fresh Python parent
_MAXRSS = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def in_root(work: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOTFS_SH), "run", "--bind", str(work), *cmd], capture_output=True, text=True, check=True
    )


def peak_rss_kib(cmd: list[str]) -> int:
    return int(subprocess.run([sys.executable, "-c", _MAXRSS, *cmd], capture_output=True, text=True, check=True).stdout)


def libraries(work: Path, root: Path, binary: Path) -> dict[str, int]:
    """name -> size in bytes of each shared library the binary loads, glibc's excluded."""
    out = {}
    for line in in_root(work, "ldd", str(binary)).stdout.splitlines():
        parts = line.split()
        if "=>" in parts and not any(g in parts[0] for g in ("libc.so", "libm.so", "ld-linux", "linux-vdso")):
            path = root / parts[parts.index("=>") + 1].lstrip("/")
            out[parts[0]] = path.resolve().stat().st_size
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "digits-dense")
    ap.add_argument("--repeats", type=int, default=5)
    add_output_args(ap)
    args = ap.parse_args()
    root = Path(
        subprocess.run(["bash", str(ROOTFS_SH), "path"], capture_output=True, text=True, check=True).stdout.strip()
    )
    with tempfile.TemporaryDirectory(prefix="aescore-footprint-") as tmp:
        work = Path(tmp)
        src = shutil.copytree(ROOT / "examples" / "c", work / "src", ignore=shutil.ignore_patterns("aescore"))
        in_root(work, "make", "-s", "-C", str(src))
        binary = src / "aescore"
        in_root(work, "strip", "-o", str(work / "aescore.stripped"), str(binary))
        bundle = shutil.copytree(args.bundle, work / "bundle")
        import numpy as np
        from sklearn.datasets import load_digits

        rows = work / "rows.csv"
        np.savetxt(rows, load_digits().data.astype(np.float32), delimiter=",", fmt="%g")
        libs = libraries(work, root, binary)
        c_cmd = ["bash", str(ROOTFS_SH), "run", "--bind", str(work), str(binary), str(bundle), str(rows)]
        py_cmd = [str(Path(sys.executable).parent / "aeruntime"), "score", str(bundle), str(rows)]
        rss: dict[str, list[int]] = {"c": [], "py": []}
        for _ in range(args.repeats):
            rss["c"].append(peak_rss_kib(c_cmd))
            rss["py"].append(peak_rss_kib(py_cmd))
        body = _report(args, binary, work / "aescore.stripped", libs, {k: statistics.median(v) for k, v in rss.items()})
    write("c_footprint", "Footprint: the C consumer + libonnxruntime vs aeruntime score", body, args.out, args.record)


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _report(args, binary: Path, stripped: Path, libs: dict[str, int], rss: dict[str, float]) -> list[str]:
    ort = next(v for k, v in libs.items() if k.startswith("libonnxruntime"))
    ranked = sorted(libs.items(), key=lambda kv: -kv[1])
    lines = [
        f"Bundle `{args.bundle.name}`, sklearn digits (1,797 rows, CSV); onnxruntime 1.21 (Debian 13) for the C",
        "program, the pip onnxruntime of this environment for aeruntime.",
        "",
        "| what | size |",
        "|---|---:|",
        f"| `aescore` as built (`-O2 -g`) | {binary.stat().st_size / 1e3:,.1f} kB |",
        f"| `aescore` stripped | {stripped.stat().st_size / 1e3:,.1f} kB |",
        f"| `libonnxruntime.so.1.21` | {_mb(ort)} |",
        f"| every shared library it loads outside glibc ({len(libs)}) | {_mb(sum(libs.values()))} |",
        "",
        "Libraries: " + ", ".join(f"{k} {_mb(v)}" for k, v in ranked[:8]) + f", and {len(ranked) - 8} smaller "
        f"(abseil, cpuinfo, zlib...) {_mb(sum(v for _, v in ranked[8:]))}",
        "",
        f"Peak RSS, median of {args.repeats} runs (interleaved):",
        "",
        "| command | peak RSS |",
        "|---|---:|",
        f"| `aescore BUNDLE rows.csv` | {rss['c'] / 1024:,.1f} MiB |",
        f"| `aeruntime score BUNDLE rows.csv` | {rss['py'] / 1024:,.1f} MiB |",
        "",
        f"The Python runtime's peak RSS is **{rss['py'] / rss['c']:.1f}x** the C program's.",
    ]
    return lines + ["", "```json", json.dumps({"libs": libs, "rss_kib": rss}), "```"]


if __name__ == "__main__":
    main()
