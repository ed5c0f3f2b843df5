"""Quick loop for choosing tabular defaults: fit variants once, cache, compare means in seconds.

The protocol of :mod:`anomaly` (stratified 60/40 split per seed, unsupervised training on the
training split with its anomalies, ROC-AUC on the test split, the 24 non-large sets of the
dataset folder, two means by role), but each fit is cached: ``fit`` trains one variant for
every (set, split seed, init) in parallel processes and stores the test rows' scores and scaled
residuals; ``eval`` prints the development / benchmark means (and per seed) of any cached
variants, averaging the scores of the first ``--inits`` fits (what ``--members`` would ship).
Scored with the torch scorer (the function ``scorer.onnx`` exports); the recorded run with the
exported bundles is ``anomaly.py``. What the third round of issue 11 measured with it is in
``results/anomaly_experiments.md``.

    python benchmarks/anomaly_sweep.py fit h128 --model '{"hidden": [128, 64]}'
    python benchmarks/anomaly_sweep.py fit h128 --model '{"hidden": [128, 64]}' --inits 3
    python benchmarks/anomaly_sweep.py eval tabular h128 --inits 1 3 --table

Variants are the ``--preset`` (default ``tabular``) with ``--train`` (TrainConfig fields) and
``--model`` (model options) overrides as JSON; init ``m`` > 0 uses seed ``1000 m + seed`` on the
same train/validation split.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import anomaly  # noqa: E402
from harness import parser  # noqa: E402

CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "aeexport-anomaly-sweep"


def _fit_one(job: tuple[str, str, str, dict, dict, int, int, Path]) -> float:
    """Train one (set, split seed, init) of a variant; cache its test scores and residuals; seconds."""
    name, dataset, preset, train, model, seed, init, path = job
    import torch

    from aeexport.train import fit_tabular

    torch.set_num_threads(1)
    d = np.load(dataset, allow_pickle=False)
    Xtr, Xte, _, yte = anomaly.split(d["X"].astype(np.float32), d["y"].astype(int), seed)
    t0 = time.perf_counter()
    result, _ = fit_tabular(
        Xtr,
        seed=seed,
        preset=preset,
        init_seed=seed if init == 0 else 1000 * init + seed,
        model_options=model,
        **train,
    )
    secs = time.perf_counter() - t0
    m = result.model.eval()
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(Xte))
        score = m.scorer_graph(x).numpy()
        xs = m.scale(x)
        resid = (xs - m.decode(m._code(xs))).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, score=score, y=yte, xs=xs.numpy(), resid=resid, secs=secs)
    return secs


def _sets(data: Path) -> dict[str, str]:
    return {n: r for n, r in anomaly.roles(data).items() if r in ("benchmark", "development")}


def _features(path: Path) -> int:
    with np.load(path, allow_pickle=False) as d:
        return int(d["X"].shape[1])


def _runs(args: argparse.Namespace, name: str, n: str, s: int, k: int) -> list[np.ndarray]:
    """Test scores of the first ``k`` fits of variant ``name`` on set ``n``, split seed ``s``; ``a+b``: the
    fits of both variants (a hyper-ensemble of their shapes); a set a variant skipped (``--min-features``)
    takes the ``--fallback`` variant's fits."""
    out = []
    for part in name.split("+"):
        folder = args.cache / part
        if not (folder / f"{n}__{s}__0.npz").exists():
            folder = args.cache / args.fallback
        out += [np.load(folder / f"{n}__{s}__{m}.npz", allow_pickle=False) for m in range(k)]
    return out


def _halves_text(per_set: dict[str, list[float]], sets: list[str]) -> str:
    """The means over the two fixed halves of :func:`anomaly.halves` of the per-set seed means."""
    a, b = anomaly.halves(sets)
    return "  half A {:.4f}  half B {:.4f}".format(*(np.mean([np.mean(per_set[n]) for n in h]) for h in (a, b)))


def fit(args: argparse.Namespace) -> None:
    sets = _sets(args.data)
    jobs = [
        (args.name, str(args.data / f"{n}.npz"), args.preset, json.loads(args.train), json.loads(args.model), s, m, p)
        for m in range(args.inits)
        for s in args.seeds
        for n in sets
        if _features(args.data / f"{n}.npz") >= args.min_features
        and not (p := args.cache / args.name / f"{n}__{s}__{m}.npz").exists()
    ]
    jobs.sort(key=lambda j: -Path(j[1]).stat().st_size)  # large sets first: even load across processes
    t0 = time.perf_counter()
    with Pool(args.jobs) as pool:
        secs = list(pool.imap_unordered(_fit_one, jobs))
    print(f"{args.name}: {len(jobs)} fits, {sum(secs):.0f} s of fitting, {time.perf_counter() - t0:.0f} s wall")


def evaluate(args: argparse.Namespace) -> None:
    from sklearn.metrics import roc_auc_score

    sets = _sets(args.data)
    per: dict[str, dict[str, list[float]]] = {}
    for name in args.names:
        for k in args.inits:
            label = name if len(args.inits) == 1 else f"{name}x{k}"
            per[label] = {}
            for n in sets:
                aucs = []
                for s in args.seeds:
                    runs = _runs(args, name, n, s, k)
                    aucs.append(roc_auc_score(runs[0]["y"], np.mean([r["score"] for r in runs], axis=0)))
                per[label][n] = aucs
            means = {
                role: [np.mean([per[label][n][i] for n in sets if sets[n] == role]) for i in range(len(args.seeds))]
                for role in ("development", "benchmark")
            }
            seeds = ", ".join(f"{d:.3f} / {b:.3f}" for d, b in zip(means["development"], means["benchmark"]))
            line = (
                f"{label:16s} development {np.mean(means['development']):.4f}  benchmark "
                f"{np.mean(means['benchmark']):.4f}  (per seed: {seeds})"
            )
            print(line + (_halves_text(per[label], list(sets)) if args.halves else ""))
    if args.table:
        print("| set | role | " + " | ".join(per) + " |")
        print("|---|---|" + "---:|" * len(per))
        for n in sorted(sets, key=lambda n: (sets[n], n)):
            print(f"| {n} | {sets[n]} | " + " | ".join(f"{np.mean(per[v][n]):.3f}" for v in per) + " |")


COMMANDS = {"fit": fit, "eval": evaluate}


def main(argv: list[str] | None = None) -> None:
    ap = parser(__doc__, output=False)
    ap.add_argument("--data", type=Path, default=anomaly.DATA, help="dataset folder (default: ../shared/datasets)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(anomaly.SEEDS))
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="train a variant on every set, seed and init (cached)")
    f.add_argument("name")
    f.add_argument("--preset", default="tabular")
    f.add_argument("--train", default="{}", help="TrainConfig overrides, JSON")
    f.add_argument("--model", default="{}", help="model option overrides, JSON")
    f.add_argument("--inits", type=int, default=1, help="fits per (set, seed) with other init seeds")
    f.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    f.add_argument("--min-features", type=int, default=0, help="fit only the sets with at least this many features")
    e = sub.add_parser("eval", help="means of cached variants")
    e.add_argument("names", nargs="+")
    e.add_argument("--inits", type=int, nargs="+", default=[1], help="average the scores of the first K fits")
    e.add_argument("--table", action="store_true", help="per-set table (markdown)")
    e.add_argument("--fallback", default="tabular", help="variant whose fits stand in for sets a variant skipped")
    e.add_argument("--halves", action="store_true", help="also the means on the two fixed halves (anomaly.halves)")
    args = ap.parse_args(argv)
    COMMANDS[args.cmd](args)


if __name__ == "__main__":
    main()
