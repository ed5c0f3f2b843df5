"""Which onnxruntime releases load and score our bundles: one venv per release.

For every release given (default: the newest patch of every minor release pip offers for
this Python), a venv with only ``onnxruntime==V`` and a numpy it supports is made in a
cache folder; a probe script run by that interpreter (onnxruntime + numpy only) opens every
graph of every bundle and runs it on the bundle's golden inputs (``test_data_set_1``, a
batch of 5); the outputs are compared with the golden outputs within the bundle's golden
tolerance. The table printed (markdown) has one row per release, one column per bundle:
``ok``, ``load`` (refused to load: the reason) or ``diff`` (loaded, outputs out of tolerance).

    python benchmarks/onnxruntime_versions.py models/* [VARIANT ...] [--versions 1.15.0,1.32.0]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import parser  # noqa: E402

from aeruntime.format import minimum_for_bundle  # noqa: E402

CACHE = Path.home() / ".cache" / "aeexport" / "onnxruntime-venvs"
PROBE = r"""
import json, sys
import numpy as np
import onnxruntime as ort
job = json.load(open(sys.argv[1]))
out = {"version": ort.__version__}
for key, g in job.items():
    try:
        s = ort.InferenceSession(g["file"], providers=["CPUExecutionProvider"])
    except Exception as e:
        out[key] = {"status": "load", "why": str(e).splitlines()[0][:160]}
        continue
    feeds = {n: np.load(p, allow_pickle=False) for n, p in g["inputs"].items()}
    got = s.run(None, feeds)
    worst = 0.0
    for a, p in zip(got, g["outputs"]):
        want = np.load(p, allow_pickle=False)
        excess = np.abs(a.astype(np.float64) - want) - (g["atol"] + g["rtol"] * np.abs(want))
        worst = max(worst, float(excess.max()))
    out[key] = {"status": "ok" if worst <= 0 else "diff", "excess": worst}
print(json.dumps(out))
"""


def pip_versions() -> list[str]:
    """The newest patch of every onnxruntime minor release pip offers for this Python."""
    text = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "onnxruntime"], capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in text.splitlines() if x.startswith("Available versions:"))
    newest: dict[tuple[int, int], str] = {}
    for v in line.split(":", 1)[1].split(","):
        v = v.strip()
        major, minor = (int(p) for p in v.split(".")[:2])
        newest.setdefault((major, minor), v)  # pip lists newest first
    return [newest[k] for k in sorted(newest)]


def numpy_spec(version: str) -> str:
    """onnxruntime before 1.19 is built against numpy 1.x."""
    return "numpy<2" if tuple(int(p) for p in version.split(".")[:2]) < (1, 19) else "numpy"


def venv_python(version: str, cache: Path = CACHE) -> Path:
    """The interpreter of a venv holding only onnxruntime==version and numpy (made once, cached)."""
    root = cache / version
    py = root / "bin" / "python"
    if not (root / ".done").exists():
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", f"onnxruntime=={version}", numpy_spec(version)], check=True
        )
        (root / ".done").write_text("ok\n")
    return py


def _tensor(path: Path) -> np.ndarray:
    return numpy_helper.to_array(onnx.load_tensor(str(path)))


def make_job(bundles: list[Path], tmp: Path) -> dict[str, dict]:
    """One entry per graph: the file, golden inputs/outputs as .npy, the golden tolerance."""
    job = {}
    for b in bundles:
        m = json.loads((b / "manifest.json").read_text())
        tol = m.get("golden", {}).get("tolerance", {"atol": 1e-5, "rtol": 1e-4})
        for role, g in m["graphs"].items():
            case = b / "test_data" / role / "test_data_set_1"
            if not case.is_dir():
                continue
            key = f"{b.name}/{g['file']}"
            ins = {}
            for i, name in enumerate(g["inputs"]):
                np.save(tmp / f"{b.name}-{role}-in{i}.npy", _tensor(case / f"input_{i}.pb"))
                ins[name] = str(tmp / f"{b.name}-{role}-in{i}.npy")
            outs = []
            for i in range(len(g["outputs"])):
                np.save(tmp / f"{b.name}-{role}-out{i}.npy", _tensor(case / f"output_{i}.pb"))
                outs.append(str(tmp / f"{b.name}-{role}-out{i}.npy"))
            job[key] = {"file": str(b / g["file"]), "inputs": ins, "outputs": outs, **tol}
    return job


def _recorded_minimum(b: Path) -> str:
    """The manifest's min_onnxruntime; for bundles without it, the rule on its .onnx graphs."""
    m = json.loads((b / "manifest.json").read_text())
    return m.get("min_onnxruntime") or f"{minimum_for_bundle(b)} by the rule, not recorded"


def probe(versions: list[str], bundles: list[Path], cache: Path) -> tuple[dict, dict]:
    """The probe's job over ``bundles`` and, per onnxruntime release, its result (or the error)."""
    rows = {}
    with tempfile.TemporaryDirectory() as d:
        job = make_job(bundles, Path(d))
        (Path(d) / "job.json").write_text(json.dumps(job))
        (Path(d) / "probe.py").write_text(PROBE)
        for v in versions:
            cmd = [str(venv_python(v, cache)), str(Path(d) / "probe.py"), str(Path(d) / "job.json")]
            res = subprocess.run(cmd, capture_output=True, text=True)
            rows[v] = json.loads(res.stdout) if res.returncode == 0 else {"error": res.stderr[-300:]}
            print(v, json.dumps(rows[v]), file=sys.stderr, flush=True)
    return job, rows


def table(job: dict, rows: dict, paths: list[Path]) -> list[str]:
    """One line per release, one column per bundle: ok or the statuses seen."""
    bundles = sorted({k.split("/")[0] for k in job})
    mins = {b.name: _recorded_minimum(b) for b in paths if b.name in bundles}
    lines = ["| onnxruntime | " + " | ".join(f"{b} (min {mins[b]})" for b in bundles) + " |"]
    lines.append("| --- |" + " --- |" * len(bundles))
    for v, r in rows.items():
        cells = []
        for b in bundles:
            st = sorted({r.get(k, {}).get("status", "error") for k in job if k.startswith(b + "/")})
            cells.append("ok" if st == ["ok"] else "/".join(st))
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = parser(__doc__, output=False)
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--versions", help="comma-separated releases (default: newest patch of each minor)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args()
    versions = args.versions.split(",") if args.versions else pip_versions()
    job, rows = probe(versions, args.bundles, args.cache)
    print("\n".join(table(job, rows, args.bundles)))


if __name__ == "__main__":
    main()
