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

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, interleave, medians, parser, tree_peak_kib, write  # noqa: E402

ROOTFS_SH = ROOT / "examples" / "c" / "rootfs.sh"


def in_root(work: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOTFS_SH), "run", "--bind", str(work), *cmd], capture_output=True, text=True, check=True
    )


def libraries(work: Path, root: Path, binary: Path) -> dict[str, int]:
    """name -> size in bytes of each shared library the binary loads, glibc's excluded."""
    out = {}
    for line in in_root(work, "ldd", str(binary)).stdout.splitlines():
        parts = line.split()
        if "=>" in parts and not any(g in parts[0] for g in ("libc.so", "libm.so", "ld-linux", "linux-vdso")):
            path = root / parts[parts.index("=>") + 1].lstrip("/")
            out[parts[0]] = path.resolve().stat().st_size
    return out


def build(work: Path, bundle: Path) -> tuple[Path, Path, Path]:
    """``aescore`` built (and stripped) in the root under ``work``, the bundle copied, digits as CSV."""
    import numpy as np
    from sklearn.datasets import load_digits

    src = shutil.copytree(ROOT / "examples" / "c", work / "src", ignore=shutil.ignore_patterns("aescore"))
    in_root(work, "make", "-s", "-C", str(src))
    in_root(work, "strip", "-o", str(work / "aescore.stripped"), str(src / "aescore"))
    rows = work / "rows.csv"
    np.savetxt(rows, load_digits().data.astype(np.float32), delimiter=",", fmt="%g")
    return src / "aescore", shutil.copytree(bundle, work / "bundle"), rows


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "digits-dense")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    root = Path(
        subprocess.run(["bash", str(ROOTFS_SH), "path"], capture_output=True, text=True, check=True).stdout.strip()
    )
    with tempfile.TemporaryDirectory(prefix="aescore-footprint-") as tmp:
        work = Path(tmp)
        binary, bundle, rows = build(work, args.bundle)
        cmds = {
            "c": ["bash", str(ROOTFS_SH), "run", "--bind", str(work), str(binary), str(bundle), str(rows)],
            "py": [str(Path(sys.executable).parent / "aeruntime"), "score", str(bundle), str(rows)],
        }
        rss = medians(interleave({k: lambda c=c: tree_peak_kib(c) for k, c in cmds.items()}, args.repeats))
        body = _report(args, binary, work / "aescore.stripped", libraries(work, root, binary), rss)
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
