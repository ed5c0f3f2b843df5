"""Size of the static site ``aeexport web BUNDLE --out SITE`` writes, per shipped bundle.

For each bundle: the files of the site (the page, the JavaScript core, the bundle, onnxruntime-web's
WebAssembly build) summed by part, in MiB (2**20 bytes). The site copies onnxruntime-web from
``examples/web/node_modules`` (``npm ci --prefix examples/web`` first).

    python benchmarks/bench_site.py --record
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, parser, write  # noqa: E402

BUNDLES = ("digits-dense", "digits-conv")
#: a site's parts: its top-level folder (``bundle``, ``ort``, ``core``), the rest is the page
PARTS = {"bundle": "the bundle", "ort": "onnxruntime-web", "core": "JavaScript core"}


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def site_sizes(bundle: Path) -> dict[str, int]:
    """Bytes of each part of the site written for ``bundle``, and ``total``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "site"
        cmd = [sys.executable, "-m", "aeexport", "web", str(bundle), "--out", str(out)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        sizes = {label: 0 for label in (*PARTS.values(), "the page")}
        for f in out.rglob("*"):
            if f.is_file():
                top = f.relative_to(out).parts[0]
                sizes[PARTS.get(top, "the page")] += f.stat().st_size
        sizes["total"] = sum(sizes.values())
        return sizes


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__).parse_args(argv)
    labels = [*PARTS.values(), "the page"]
    body = ["| bundle | total | " + " | ".join(labels) + " |", "|---|---:|" + "---:|" * len(labels)]
    for name in BUNDLES:
        s = site_sizes(ROOT / "models" / name)
        body.append(f"| `models/{name}` | **{mib(s['total'])}** | " + " | ".join(mib(s[k]) for k in labels) + " |")
    write("site", "Static site size: aeexport web BUNDLE --out SITE", body, args.out, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
