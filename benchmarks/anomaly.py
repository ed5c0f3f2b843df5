"""Anomaly-detection quality: our tabular default (trained, exported, scored through
aeruntime) against PyOD's AutoEncoder, PCA and IForest on the shared ODDS/ADBench sets.

Protocol (PyOD's benchmark): per seed, a stratified 60/40 split; standardization
fitted on the training split (ours: the scaler inside the bundle, fitted on the
training rows; PyOD's detectors get StandardScaler output); detectors trained
unsupervised on the training split with its anomalies in it; ROC-AUC on the test
split; mean and std over 3 seeds. Peers run with their defaults.

Datasets: every ``*.npz`` of the dataset folder's README with the role *benchmark*
(9 sets) or *development* (15 sets); the *large* one is left out unless named with
``--datasets``. The two means are reported separately.

Two-half cross-check (issue 23): the sets are split into two fixed halves by a seeded shuffle
(:func:`halves`, seed :data:`HALVES_SEED`); the report picks, among ``--candidates``, the one
with the best mean on half A and gives its mean on half B unchanged, against ``--references``
(today's default and IForest), then the same from B to A. A setting is adopted only if it wins
on the half it was not chosen on.

Results go to ``OUT/anomaly.jsonl``, one line per (dataset, detector, seed), so an
interrupted run resumes where it stopped; the table goes to ``OUT/anomaly.md``, and
with ``--record`` also to ``benchmarks/results/anomaly.{md,jsonl}``.

    PYTHONPATH=.:runtime python benchmarks/anomaly.py --data ../shared/datasets --out /tmp/anomaly
    PYTHONPATH=.:runtime python benchmarks/anomaly.py --out /tmp/anomaly --report --record
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np

from aeexport.settings import ExportOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, parser  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "datasets"
#: fallback roles when the dataset folder has no README table
ROLES = {
    "benchmark": [
        "2_annthyroid",
        "6_cardio",
        "20_letter",
        "23_mammography",
        "24_mnist",
        "30_satellite",
        "32_shuttle",
        "38_thyroid",
        "40_vowels",
    ],
    "development": [
        "7_Cardiotocography",
        "12_fault",
        "14_glass",
        "15_Hepatitis",
        "18_Ionosphere",
        "19_landsat",
        "21_Lymphography",
        "22_magic.gamma",
        "35_SpamBase",
        "37_Stamps",
        "41_Waveform",
        "42_WBC",
        "44_Wilt",
        "45_wine",
        "46_WPBC",
    ],
}
SEEDS = (0, 1, 2)
#: parity tolerance of the benchmark's exports: raw pixel values up to 255 (24_mnist) put the
#: float32 spacing (3e-5 at 255) above the default atol 1e-5 in the decoder's raw-unit output
PARITY_TOL = (1e-4, 1e-4)


def roles(data: Path) -> dict[str, str]:
    """dataset stem -> role, read from the README table of ``data`` (fallback: :data:`ROLES`)."""
    readme = data / "README.md"
    found: dict[str, str] = {}
    if readme.is_file():
        for line in readme.read_text().splitlines():
            m = re.match(r"\|\s*`([^`]+)\.npz`\s*\|.*\|\s*([a-z]+)[^|]*\|\s*$", line)
            if m:
                found[m.group(1)] = m.group(2)
    return found or {s: r for r, sets in ROLES.items() for s in sets}


#: seed of the shuffle that splits the 24 sets into the two fixed halves of the cross-check (:func:`halves`)
HALVES_SEED = 23


def halves(stems: list[str], seed: int = HALVES_SEED) -> tuple[list[str], list[str]]:
    """The sets ``stems`` split into two fixed halves ``(A, B)`` (sizes n // 2 and the rest) by a shuffle
    seeded with ``seed`` of their sorted names: the same names give the same halves on every machine.
    Defaults are chosen on one half and measured unchanged on the other (:func:`cross_check`)."""
    names = sorted(set(stems))
    order = np.random.default_rng(seed).permutation(len(names))
    shuffled = [names[i] for i in order]
    return sorted(shuffled[: len(names) // 2]), sorted(shuffled[len(names) // 2 :])


def split(X: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)


#: seeds whose fits are exported and scored through aeruntime (``--bundle-seeds``); the other
#: seeds score with the trained torch model's scorer (the function the bundle's scorer.onnx
#: exports; parity of the two is measured on the exported seeds and recorded)
BUNDLE_SEEDS: set[int] = {0}
#: extra fields of the last record (how it was scored)
EXTRA: dict[str, object] = {}


def _scores(result, val: np.ndarray, Xte: np.ndarray, seed: int) -> np.ndarray:
    import torch

    with torch.inference_mode():
        ref = result.model.eval().scorer_graph(torch.from_numpy(np.ascontiguousarray(Xte))).numpy()
    if seed not in BUNDLE_SEEDS:
        EXTRA["scored_by"] = "torch"
        return ref
    import aeruntime
    from aeexport.export import export_bundle
    from aeexport.settings import Tolerance

    with tempfile.TemporaryDirectory() as tmp:
        export_bundle(
            result.model,
            Path(tmp) / "b",
            calibration_x=val,
            training=result.summary(),
            options=ExportOptions(batches=(1, 7), tol=Tolerance(*PARITY_TOL)),
        )
        model = aeruntime.load(Path(tmp) / "b", providers="cpu", threads=1)
        s = model.score(Xte)
    EXTRA.update(scored_by="aeruntime", parity_max_rel=float(np.max(np.abs(s - ref) / (np.abs(ref) + 1e-6))))
    return s


def ours(
    preset: str, novelty: bool = False, **overrides: object
) -> Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]:
    """Our detector under ``preset`` (``overrides``: TrainConfig fields): train, export a bundle, score the
    test split through aeruntime."""

    def run(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, seed: int) -> np.ndarray:
        from aeexport.train import fit_tabular

        rows = Xtr[ytr == 0] if novelty else Xtr
        result, val = fit_tabular(rows, seed=seed, preset=preset, **overrides)
        return _scores(result, val, Xte, seed)

    return run


def pyod(name: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]:
    def run(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, seed: int) -> np.ndarray:
        from sklearn.preprocessing import StandardScaler

        sc = StandardScaler().fit(Xtr)
        a, b = sc.transform(Xtr), sc.transform(Xte)
        if name == "AutoEncoder":
            from pyod.models.auto_encoder import AutoEncoder

            det = AutoEncoder(verbose=0, random_state=seed, device="cpu")
        elif name == "PCA":
            from pyod.models.pca import PCA

            det = PCA(random_state=seed)
        else:
            from pyod.models.iforest import IForest

            det = IForest(random_state=seed)
        det.fit(a)
        return det.decision_function(b)

    return run


#: detector name -> (fit on train rows, score test rows); the first four run by default
DETECTORS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]] = {
    "ae": ours("tabular"),
    "pyod-AutoEncoder": pyod("AutoEncoder"),
    "pyod-PCA": pyod("PCA"),
    "pyod-IForest": pyod("IForest"),
    "ae-v3": ours("tabular-v3"),  # the tabular preset before the wider hidden layers ([64, 32])
    "ae-v2": ours("tabular-v2"),  # the tabular preset before the dispersed-feature rule
    "ae-previous": ours("tabular-v1"),  # the tabular preset before issue 11
    "ae-generic": ours("default"),  # the generic dense defaults
    "ae-novelty": ours("tabular", novelty=True),  # trained on normal rows only (uses labels)
    # issue 23's candidates (label-free): EntropyStop, ALTBI-style growing batches (with the trimmed loss), both
    "ae-entropy": ours("tabular", stop_rule="entropy"),
    "ae-altbi": ours("tabular", batch_growth=1.05),
    "ae-entropy-altbi": ours("tabular", stop_rule="entropy", batch_growth=1.05),
}
DEFAULT_DETECTORS = ["ae", "pyod-AutoEncoder", "pyod-PCA", "pyod-IForest"]


def auc(y: np.ndarray, s: np.ndarray) -> tuple[float, int]:
    from sklearn.metrics import roc_auc_score

    s = np.asarray(s, dtype=np.float64)
    bad = int((~np.isfinite(s)).sum())
    if bad:  # PCA on near-constant components: +inf scores rank first, -inf/NaN last
        s = np.nan_to_num(s, nan=-np.inf)
        finite = s[np.isfinite(s)]
        s = np.clip(s, finite.min() - 1, finite.max() + 1)
    return float(roc_auc_score(y, s)), bad


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    recs, seen = [], set()
    for r in map(json.loads, path.read_text().splitlines()):
        key = (r["dataset"], r["detector"], r["seed"])
        if key not in seen:  # two workers may have finished the same item
            seen.add(key)
            recs.append(r)
    return recs


def run(args: argparse.Namespace, jsonl: Path) -> None:
    import torch

    torch.set_num_threads(1)
    for ds in args.datasets:
        d = np.load(Path(args.data) / f"{ds}.npz", allow_pickle=False)
        X, y = d["X"].astype(np.float32), d["y"].astype(np.int64)
        for seed in args.seeds:
            Xtr, Xte, ytr, yte = split(X, y, seed)
            for det in args.detectors:
                done = {(r["dataset"], r["detector"], r["seed"]) for r in _records(jsonl)}  # re-read: shared file
                if (ds, det, seed) in done:
                    continue
                t0 = time.perf_counter()
                EXTRA.clear()
                s = DETECTORS[det](Xtr, ytr, Xte, seed)
                value, bad = auc(yte, s)
                rec = {
                    "dataset": ds,
                    "detector": det,
                    "seed": seed,
                    "roc_auc": value,
                    "nonfinite": bad,
                    "seconds": round(time.perf_counter() - t0, 2),
                    **EXTRA,
                }
                with jsonl.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(json.dumps(rec), flush=True)


def report(recs: list[dict], role_of: dict[str, str], n_seeds: int) -> str:
    table: dict[str, dict[str, list[float]]] = {}
    nonfinite: set[tuple[str, str]] = set()
    secs: dict[str, list[float]] = {}
    for r in recs:
        table.setdefault(r["dataset"], {}).setdefault(r["detector"], []).append(r["roc_auc"])
        if r["nonfinite"]:
            nonfinite.add((r["dataset"], r["detector"]))
        secs.setdefault(r["detector"], []).append(r["seconds"])
    dets = [d for d in DETECTORS if d in secs]
    compared = [d for d in dets if d != "ae-novelty"]
    order = {"benchmark": 0, "development": 1}
    sets = sorted(table, key=lambda s: (order.get(role_of.get(s, ""), 2), int(s.split("_")[0])))
    lines = ["| dataset | role | " + " | ".join(dets) + " |", "|---|---|" + "---|" * len(dets)]
    means: dict[str, dict[str, list[float]]] = {role: {d: [] for d in dets} for role in order}
    for s in sets:
        role = role_of.get(s, "other")
        full = {d: float(np.mean(table[s][d])) for d in dets if len(table[s].get(d, [])) == n_seeds}
        best = max((v for d, v in full.items() if d in compared), default=None)
        cells = []
        for d in dets:
            v = table[s].get(d, [])
            if not v:
                cells.append("-")
                continue
            m = float(np.mean(v))
            if d in full and role in means:
                means[role][d].append(m)
            cell = f"{m:.3f} ± {np.std(v):.3f}" + ("" if len(v) == n_seeds else f" ({len(v)} seeds)")
            cell += " †" if (s, d) in nonfinite else ""
            cells.append(f"**{cell}**" if d in compared and m == best else cell)
        lines.append(f"| {s} | {role} | " + " | ".join(cells) + " |")
    for role, label in (("development", "mean, 15 development sets"), ("benchmark", "mean, 9 benchmark sets")):
        vals = {d: float(np.mean(means[role][d])) for d in dets if means[role][d]}
        best = max((v for d, v in vals.items() if d in compared), default=None)
        cells = []
        n_role = sum(1 for s in sets if role_of.get(s) == role)
        for d in dets:
            if d not in vals:
                cells.append("-")
                continue
            cell = f"{vals[d]:.3f}" + ("" if len(means[role][d]) == n_role else f" ({len(means[role][d])} sets)")
            cells.append(f"**{cell}**" if d in compared and vals[d] == best else cell)
        lines.append(f"| {label} | | " + " | ".join(cells) + " |")
    lines.append("| total seconds | | " + " | ".join(f"{sum(secs[d]):.0f}" for d in dets) + " |")
    lines.append("| seconds per fit (median) | | " + " | ".join(f"{np.median(secs[d]):.1f}" for d in dets) + " |")
    return "\n".join(lines)


def _set_means(recs: list[dict], n_seeds: int) -> dict[str, dict[str, float]]:
    """detector -> set -> ROC-AUC mean over the seeds (sets with all ``n_seeds`` seeds only)."""
    vals: dict[str, dict[str, list[float]]] = {}
    for r in recs:
        vals.setdefault(r["detector"], {}).setdefault(r["dataset"], []).append(r["roc_auc"])
    return {d: {s: float(np.mean(v)) for s, v in per.items() if len(v) == n_seeds} for d, per in vals.items()}


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def half_means(recs: list[dict], n_seeds: int, half: dict[str, list[str]]) -> dict[str, dict[str, float | None]]:
    """detector -> half name -> mean over the half's sets of the per-set seed means (None: a set is missing)."""
    out: dict[str, dict[str, float | None]] = {}
    for d, per in _set_means(recs, n_seeds).items():
        out[d] = {
            h: float(np.mean([per[s] for s in sets])) if all(s in per for s in sets) else None
            for h, sets in half.items()
        }
    return out


def _direction(means: dict, on: str, out: str, candidates: list[str], references: list[str]) -> str | None:
    """One row of the cross-check: the best candidate on half ``on``, measured on half ``out``."""
    scored = {c: means[c][on] for c in candidates if means.get(c, {}).get(on) is not None}
    if not scored:
        return None
    best = max(scored, key=scored.__getitem__)
    held = means[best][out]
    refs = [means.get(r, {}).get(out) for r in references]
    wins = held is not None and all(held > v for v in refs if v is not None)
    cells = [on, best, _fmt(scored[best]), out, _fmt(held), *map(_fmt, refs), "yes" if wins else "no"]
    return "| " + " | ".join(cells) + " |"


def cross_check(
    recs: list[dict], n_seeds: int, candidates: list[str], references: list[str], sets: list[str] | None = None
) -> str:
    """The two-half protocol as a markdown section: every detector's mean on half A and half B
    (:func:`halves` of ``sets``, default: the sets in ``recs``); then per direction the candidate with the
    best mean on the half it is chosen on, and its mean on the other half, unchanged, against ``references``
    ("wins held-out": above every reference there)."""
    half = dict(zip("AB", halves(sets or sorted({r["dataset"] for r in recs}))))
    means = half_means(recs, n_seeds, half)
    lines = [f"Halves (seeded shuffle of the sorted names, seed {HALVES_SEED}, `anomaly.halves`):", ""]
    lines += [f"- half {h}: " + ", ".join(half[h]) for h in "AB"]
    lines += ["", "| detector | mean, half A | mean, half B |", "|---|---|---|"]
    lines += [f"| {d} | {_fmt(means[d]['A'])} | {_fmt(means[d]['B'])} |" for d in DETECTORS if d in means]
    head = ["chosen on", "chosen", "its mean there", "held-out half", "its mean there"]
    head += [f"{r} there" for r in references] + ["wins held-out"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = (_direction(means, on, out, candidates, references) for on, out in (("A", "B"), ("B", "A")))
    return "\n".join(lines + [r for r in rows if r])


def _candidates(args: argparse.Namespace, recs: list[dict]) -> list[str]:
    """The cross-check's candidates: ``--candidates``, else our detectors in ``recs`` (labels-free ones)."""
    if args.candidates:
        return list(args.candidates)
    found = {r["detector"] for r in recs}
    return [d for d in DETECTORS if d in found and d.startswith("ae") and d != "ae-novelty"]


def _argv() -> list[str]:
    """The command-line arguments without ``--note`` and its text (printed on its own)."""
    argv, skip = [], False
    for a in sys.argv[1:]:
        if skip or a == "--note":
            skip = not skip
            continue
        argv.append(a)
    return argv


def _parity_note(recs: list[dict]) -> str:
    rel = [r["parity_max_rel"] for r in recs if "parity_max_rel" in r]
    if not rel:
        return ""
    return f" (largest relative difference of aeruntime vs torch scores over {len(rel)} exported fits: {max(rel):.1e})"


def published(data: Path, sets: list[str]) -> str:
    import csv

    path = data / "published" / "pyod_notebooks_roc.csv"
    if not path.is_file():
        return ""
    names = {s.split("_", 1)[1]: s for s in sets}
    rows = ["| dataset | AutoEncoder | PCA | IForest |", "|---|---|---|---|"]
    with path.open() as fh:
        for r in csv.DictReader(fh):
            if r["Data"] in names:
                rows.append(
                    f"| {names[r['Data']]} | {float(r['AutoEncoder']):.3f} | {float(r['PCA']):.3f} | "
                    f"{float(r['IForest']):.3f} |"
                )
    return "\n".join(rows)


def arguments() -> argparse.Namespace:
    p = parser(__doc__, output=False, raw=True)
    p.add_argument("--data", default=str(DATA), help="dataset folder (default: ../shared/datasets beside the repo)")
    p.add_argument(
        "--datasets",
        nargs="+",
        default=None,
        help="dataset stems (default: all benchmark and development sets of the folder's README)",
    )
    p.add_argument("--detectors", nargs="+", default=DEFAULT_DETECTORS, choices=list(DETECTORS))
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    p.add_argument(
        "--bundle-seeds",
        nargs="*",
        type=int,
        default=[0],
        help="seeds whose fits of ours are exported and scored through aeruntime (others: torch)",
    )
    p.add_argument(
        "--out",
        default=str(Path(tempfile.gettempdir()) / "aeexport-anomaly"),
        help="folder for anomaly.jsonl (resumed) and anomaly.md",
    )
    p.add_argument("--report", action="store_true", help="only write the table from OUT/anomaly.jsonl")
    p.add_argument("--record", action="store_true", help="also write benchmarks/results/anomaly.{md,jsonl}")
    p.add_argument("--note", default="", help="a line added under the command (e.g. how the run was split)")
    p.add_argument(
        "--candidates",
        nargs="+",
        default=None,
        help="detectors the two-half cross-check chooses from (default: our detectors in the run but ae-novelty)",
    )
    p.add_argument(
        "--references",
        nargs="+",
        default=["ae", "pyod-IForest"],
        help="detectors a choice must beat on the half it was not chosen on (default: today's default, IForest)",
    )
    return p.parse_args()


def document(args: argparse.Namespace, recs: list[dict], data: Path, role_of: dict[str, str]) -> str:
    """The markdown result: the command, the machine, the protocol, the tables."""
    import pyod
    import torch

    text = (
        "# Anomaly detection: our tabular default vs PyOD peers\n\n"
        f"Command: `PYTHONPATH=.:runtime python benchmarks/{' '.join([Path(sys.argv[0]).name, *_argv()])}`"
        + (f"\n\n{args.note}" if args.note else "")
        + "\n\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other work), "
        f"python {platform.python_version()}, torch {torch.__version__} (1 thread), pyod {pyod.__version__}.\n\n"
        f"Protocol: stratified 60/40 split per seed ({', '.join(map(str, args.seeds))}); unsupervised training on "
        "the training split *with* its anomalies; ROC-AUC on the test split, mean ± std over the seeds. `ae`: "
        "what `aeexport run|train` trains on tabular data without flags (`aeexport.train`, preset `tabular`), "
        "exported to a bundle and scored by aeruntime (onnxruntime); `ae-v3`: preset `tabular-v3` (the default "
        "before the wider hidden layers: [64, 32]); `ae-v2`: preset `tabular-v2` (the default "
        "before the dispersed-feature scaling rule); `ae-previous`: the tabular preset before issue 11; "
        '`ae-generic`: the generic dense defaults; `ae-entropy`: the default with `stop_rule="entropy"` (EntropyStop: '
        "early stopping on the entropy of the training rows' per-row errors instead of the validation split); "
        "`ae-altbi`: the default with `batch_growth=1.05` (ALTBI-style: the batch grows 5% per epoch, with the "
        "trimmed loss); `ae-entropy-altbi`: both; `ae-novelty`: trained on normal rows only (uses labels; not "
        "comparable). Peers: PyOD defaults on StandardScaler output. Bold: best per row. "
        "†: some test scores were non-finite (PCA: +inf), clipped to the finite range for ROC-AUC. "
        f"Our detectors' fits of seed(s) {', '.join(map(str, sorted(BUNDLE_SEEDS))) or 'none'} are exported "
        "(parity-checked) and scored through aeruntime; the other seeds score with the trained torch model's "
        "scorer, the function scorer.onnx exports" + _parity_note(recs) + ". Seconds include training, "
        "export (exported seeds) and scoring.\n\n"
        + report(recs, role_of, len(args.seeds))
        + "\n\n## Two-half cross-check (choose on one half, measure unchanged on the other)\n\n"
        + cross_check(recs, len(args.seeds), _candidates(args, recs), args.references, args.datasets)
        + "\n\n## Published PyOD benchmark (pyod_notebooks_roc.csv, same 60/40 protocol)\n\n"
        + published(data, sorted({r["dataset"] for r in recs}))
        + "\n"
    )
    return text


def main() -> None:
    args = arguments()
    data = Path(args.data)
    role_of = roles(data)
    if args.datasets is None:
        args.datasets = [s for s, r in role_of.items() if r in ("benchmark", "development")]
    BUNDLE_SEEDS.clear()
    BUNDLE_SEEDS.update(args.bundle_seeds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / "anomaly.jsonl"
    if not args.report:
        if not data.is_dir():
            sys.exit(f"dataset folder {data} not found; pass --data")
        run(args, jsonl)
    text = document(args, _records(jsonl), data, role_of)
    (out / "anomaly.md").write_text(text)
    if args.record:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "anomaly.md").write_text(text)
        shutil.copyfile(jsonl, RESULTS / "anomaly.jsonl")
    print(text)


if __name__ == "__main__":
    main()
