"""Installed footprint: what `aeruntime[cpu]` needs on disk vs the torch path.

Two measurements:

1. ``--fresh-venv`` (default on): a new virtual environment in /tmp with
   ``pip install ./runtime[cpu]`` (pip's local cache is used when it has the
   wheels), measured with ``du`` of its site-packages, then deleted.
2. Always: the dependency closure of each path in the *current* environment,
   summing the sizes of every installed file of every distribution in the
   closure (``importlib.metadata``): ``aeruntime[cpu]`` = numpy, click,
   onnxruntime and their requirements; what ``[tables]`` adds (pyarrow and
   what it needs beyond ``[cpu]``); torch path = torch + numpy + safetensors
   and their requirements. The torch installed here may be a CUDA build (its
   ``nvidia-*`` wheels are listed separately); a CPU-only torch wheel is smaller.

Usage::

    python benchmarks/bench_footprint.py [--no-fresh-venv]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, parser, write  # noqa: E402

PATHS = {"aeruntime[cpu]": ["numpy", "click", "onnxruntime"], "torch path": ["torch", "numpy", "safetensors"]}
#: what the ``tables`` extra adds to ``aeruntime[cpu]`` (CSV/Parquet reading and writing)
TABLES = ["pyarrow"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_size(name: str) -> int:
    d = metadata.distribution(name)
    total = 0
    for f in d.files or []:
        p = Path(d.locate_file(f))
        if p.is_file():
            total += p.stat().st_size
    return total


def closure(roots: list[str]) -> set[str]:
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(roots)
    while todo:
        req = Requirement(todo.pop())
        name = _norm(req.name)
        if name in seen:
            continue
        try:
            d = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for r in d.requires or []:
            rr = Requirement(r)
            if rr.marker is None or rr.marker.evaluate({"extra": ""}):
                todo.append(r)
    return seen


def du(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def fresh_venv() -> tuple[int, float, str]:
    d = Path(tempfile.mkdtemp(prefix="aeruntime-footprint-"))
    try:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(d)], check=True)
        site = next((d / "lib").glob("python*/site-packages"))
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(site), f"{ROOT / 'runtime'}[cpu]"],
            check=True,
        )
        seconds = time.perf_counter() - t0
        pkgs = sorted(p.name for p in site.iterdir() if p.name.endswith(".dist-info"))
        return du(site), seconds, ", ".join(re.sub(r"\.dist-info$", "", p) for p in pkgs)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def fresh_venv_lines() -> list[str]:
    size, secs, pkgs = fresh_venv()
    return [
        f"Fresh venv, `pip install --target <venv site-packages> ./runtime[cpu]` ({secs:.0f} s): "
        f"**{mb(size)}** (du of site-packages). Installed: {pkgs}.",
        "",
    ]


def closures() -> tuple[dict[str, int], list[str], list[str]]:
    """Size of each path's closure, its table rows, and its eight largest distributions."""
    sizes, rows, detail = {}, [], []
    for label, roots in PATHS.items():
        names = closure(roots)
        per = {n: dist_size(n) for n in names}
        sizes[label] = sum(per.values())
        rows.append(f"| {label} | {len(names)} | {mb(sizes[label])} |")
        top = sorted(per.items(), key=lambda kv: -kv[1])[:8]
        detail.append(f"- {label}: " + ", ".join(f"{n} {mb(s)}" for n, s in top))
    return sizes, rows, detail


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--no-fresh-venv", action="store_true")
    args = ap.parse_args(argv)
    body = [] if args.no_fresh_venv else fresh_venv_lines()
    sizes, rows, detail = closures()
    tables = closure(TABLES) - closure(PATHS["aeruntime[cpu]"])
    tables_size = sum(dist_size(n) for n in tables)
    nvidia = sum(dist_size(n) for n in closure(["torch"]) if n.startswith("nvidia") or n == "triton")
    body += [
        "Dependency closures measured in the current environment (sum of installed file sizes):",
        "",
        "| path | distributions | size |",
        "|---|---:|---:|",
        *rows,
        "",
        *detail,
        "",
        f"`aeruntime[cpu,tables]` adds {', '.join(sorted(tables))} to `aeruntime[cpu]`: **+{mb(tables_size)}**.",
        "",
        f"torch here is {metadata.version('torch')}: the `torch` distribution alone is {mb(dist_size('torch'))}, "
        f"its CUDA wheels (nvidia-*, triton) {mb(nvidia)}. Without those the torch path is still "
        f"{mb(sizes['torch path'] - nvidia)}; this torch distribution itself carries CUDA kernels, so a "
        "CPU-only torch wheel would be smaller than that (not installed here, not measured).",
        "",
        f"The torch path is **{sizes['torch path'] / sizes['aeruntime[cpu]']:.1f}x** larger "
        f"({(sizes['torch path'] - nvidia) / sizes['aeruntime[cpu]']:.1f}x without the CUDA wheels).",
    ]
    write("footprint", "Installed footprint: aeruntime[cpu] vs torch", body, args.out, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
