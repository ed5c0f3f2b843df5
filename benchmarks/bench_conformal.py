"""Conformal validity of the in-graph p-values on the shared anomaly sets, and BH at fdr=0.1.

Protocol (``benchmarks/anomaly.py``'s split and loader): per set and seed, a stratified 60/40
split; the tabular default trained on the *normal* rows of the training split
(``aeexport.train.fit_tabular``, which holds out 15% of them); the held-out normal rows are the
calibration rows, as in ``aeexport export``. On the test split:

- empirical false-positive rate of ``p <= a`` on its normal rows, for a = 0.05 and 0.01, against the
  nominal level with two 95% intervals of the count (:func:`intervals`): the binomial at rate ``a``
  (the test rows' sampling alone) and the Beta-Binomial of one calibration set (conformal p-values
  are valid marginally, P(p <= a) <= a; given one calibration set the rate varies with it, which the
  binomial alone leaves out); a run above either is listed;
- false-discovery rate and power of Benjamini-Hochberg at fdr = 0.1 over the whole test split.

Seed 0 is exported and scored through the bundle's own ``p_value`` output (aeruntime); the other
seeds compute the same p-values in numpy from the torch scores (``aeruntime.decisions``; the
exported graph equals it bit for bit, ``tests/aeexport/export/test_decisions.py``). Records go to
``OUT/conformal.jsonl`` (an interrupted run resumes); ``--report`` writes the table.

    PYTHONPATH=.:runtime nice -n 15 python benchmarks/bench_conformal.py --out-dir /tmp/conformal --max-minutes 30
    PYTHONPATH=.:runtime python benchmarks/bench_conformal.py --out-dir /tmp/conformal --report --record
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anomaly import DATA, SEEDS, roles, split  # noqa: E402
from harness import parser, write  # noqa: E402

LEVELS = (0.05, 0.01)
FDR = 0.1
BUNDLE_SEEDS = {0}


def _p_values(result, val: np.ndarray, Xte: np.ndarray, seed: int) -> tuple[np.ndarray, int, str]:
    import torch

    from aeexport.export import calibration_table
    from aeruntime.decisions import conformal_p_values

    if seed in BUNDLE_SEEDS:
        import aeruntime
        from aeexport.export import export_bundle
        from aeexport.settings import ExportOptions, Tolerance

        with tempfile.TemporaryDirectory() as tmp:
            export_bundle(
                result.model,
                Path(tmp) / "b",
                calibration_x=val,
                options=ExportOptions(batches=(1, 7), tol=Tolerance(1e-4, 1e-4)),
            )
            model = aeruntime.load(Path(tmp) / "b", providers="cpu", threads=1)
            return model.p_value(Xte), int(model.calibration_size), "bundle"
    with torch.inference_mode():
        model = result.model.eval()
        cal = model.scorer_graph(torch.from_numpy(np.ascontiguousarray(val))).numpy()
        s = model.scorer_graph(torch.from_numpy(np.ascontiguousarray(Xte))).numpy()
    table = calibration_table(cal)
    return conformal_p_values(s, table), int(table.size), "numpy"


def intervals(n_cal: int, m: int, a: float) -> dict[str, list[float]]:
    """The two 95% intervals of the share of ``m`` normal test rows with ``p <= a`` (``n_cal`` calibration scores).

    - ``binomial``: the count at rate ``a`` exactly (the test rows' sampling alone);
    - ``beta-binomial``: given one calibration set of ``n`` scores, the false-positive rate of ``p <= a`` is
      the normal distribution's share above the calibration score of rank ``n + 1 - k`` (ascending),
      k = floor(a (n + 1)): Beta(k, n + 1 - k) distributed (mean k / (n + 1) <= a); the count over ``m``
      rows is then BetaBinomial(m, k, n + 1 - k). This is the law a single exported bundle's rate follows.
    """
    from scipy.stats import betabinom, binom

    k = int(np.floor(a * (n_cal + 1) + 1e-9))
    out = {"binomial": [float(binom.ppf(q, m, a) / m) for q in (0.025, 0.975)]}
    out["beta-binomial"] = (
        [float(betabinom.ppf(q, m, k, n_cal + 1 - k) / m) for q in (0.025, 0.975)] if k >= 1 else [0.0, 0.0]
    )
    return out


def measure(p: np.ndarray, yte: np.ndarray, n_cal: int) -> dict:
    from aeruntime.decisions import benjamini_hochberg

    normal = p[yte == 0]
    rec: dict = {"n_cal": n_cal, "normal_rows": int(normal.size), "anomalies": int((yte == 1).sum())}
    for a in LEVELS:
        rec[f"fpr@{a}"] = int((normal <= a).sum()) / normal.size
        rec.update(_checks(rec, a))
    flagged = benjamini_hochberg(p, FDR).astype(bool)
    false = int((flagged & (yte == 0)).sum())
    rec["bh_discoveries"] = int(flagged.sum())
    rec["bh_fdr"] = false / max(1, int(flagged.sum()))
    rec["bh_power"] = int((flagged & (yte == 1)).sum()) / max(1, int((yte == 1).sum()))
    return rec


def _checks(rec: dict, a: float) -> dict:
    """Both intervals of ``rec``'s rate at ``a`` and whether it is inside or below each (below: conservative,
    still valid). Computed from ``n_cal``, ``normal_rows`` and ``fpr@a``: records of an older run get them too."""
    iv = intervals(rec["n_cal"], rec["normal_rows"], a)
    f = rec[f"fpr@{a}"]
    return {
        f"interval@{a}": iv["binomial"],
        f"within@{a}": bool(f <= iv["binomial"][1] + 1e-12),
        f"bb_interval@{a}": iv["beta-binomial"],
        f"within_bb@{a}": bool(f <= iv["beta-binomial"][1] + 1e-12),
    }


def run(args: argparse.Namespace, jsonl: Path) -> None:
    import torch

    from aeexport.train import fit_tabular

    torch.set_num_threads(1)
    deadline = time.monotonic() + args.max_minutes * 60
    done = {(r["dataset"], r["seed"]) for r in _records(jsonl)}
    for seed in args.seeds:  # seed-major: a bounded run covers every set once before the next seed
        for ds in args.datasets:
            if (ds, seed) in done:
                continue
            if time.monotonic() > deadline:
                print(f"stopped at --max-minutes {args.max_minutes}: rerun to resume", file=sys.stderr)
                return
            d = np.load(Path(args.data) / f"{ds}.npz", allow_pickle=False)
            X, y = d["X"].astype(np.float32), d["y"].astype(np.int64)
            Xtr, Xte, ytr, yte = split(X, y, seed)
            t0 = time.perf_counter()
            result, val = fit_tabular(Xtr[ytr == 0], seed=seed)
            p, n_cal, via = _p_values(result, val, Xte, seed)
            rec = {"dataset": ds, "seed": seed, "via": via, **measure(p, yte, n_cal)}
            rec["seconds"] = round(time.perf_counter() - t0, 1)
            with jsonl.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(json.dumps(rec), flush=True)


def _records(path: Path) -> list[dict]:
    """The records of ``path``, the first of each (dataset, seed) (two runs appending to one file repeat them)."""
    lines = path.read_text().splitlines() if path.is_file() else []
    first: dict[tuple[str, int], dict] = {}
    for rec in (json.loads(line) for line in lines if line.strip()):
        first.setdefault((rec["dataset"], rec["seed"]), rec)
    return list(first.values())


def report(recs: list[dict]) -> list[str]:
    recs = [{**r, **{k: v for a in LEVELS for k, v in _checks(r, a).items()}} for r in recs]
    by: dict[str, list[dict]] = {}
    for r in recs:
        by.setdefault(r["dataset"], []).append(r)
    lines = [
        f"{len(recs)} runs over {len(by)} sets (seeds: {sorted({r['seed'] for r in recs})}); FPR = share of the test "
        "split's normal rows with p <= a (mean over the seeds). Two 95% intervals of that share (seed 0's): "
        "binomial [B] (the test rows' sampling at rate a) and Beta-Binomial [BB] (one calibration set of n "
        "scores: the rate is Beta(k, n + 1 - k), k = floor(a (n + 1)), the count over the test rows "
        "Beta-Binomial). 'ok B' / 'ok BB' count the seeds inside or below each (below: conservative, still valid).",
        "",
        "| set | n cal | normal test rows | FPR p<=0.05 | [B] | [BB] | ok B | ok BB | FPR p<=0.01 | [B] | [BB] "
        "| ok B | ok BB | BH 0.1: FDR | power |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    outside: dict[str, list[str]] = {"binomial": [], "beta-binomial": []}
    for ds in sorted(by, key=lambda s: int(s.split("_")[0])):
        rs = sorted(by[ds], key=lambda r: r["seed"])
        cells = []
        for a in LEVELS:
            (lo, hi), (blo, bhi) = rs[0][f"interval@{a}"], rs[0][f"bb_interval@{a}"]
            fprs = np.mean([r[f"fpr@{a}"] for r in rs])
            ok, ok_bb = sum(r[f"within@{a}"] for r in rs), sum(r[f"within_bb@{a}"] for r in rs)
            cells += [f"{fprs:.4f}", f"[{lo:.4f}, {hi:.4f}]", f"[{blo:.4f}, {bhi:.4f}]"]
            cells += [f"{ok}/{len(rs)}", f"{ok_bb}/{len(rs)}"]
            for key, law in (("within", "binomial"), ("within_bb", "beta-binomial")):
                outside[law] += [
                    f"{ds} seed {r['seed']} at {a}: {r[f'fpr@{a}']:.4f}" for r in rs if not r[f"{key}@{a}"]
                ]
        fdr = np.mean([r["bh_fdr"] for r in rs])
        power = np.mean([r["bh_power"] for r in rs])
        lines.append(
            f"| {ds} | {rs[0]['n_cal']} | {rs[0]['normal_rows']} | "
            + " | ".join(cells)
            + f" | {fdr:.3f} | {power:.3f} |"
        )
    mean = {a: np.mean([r[f"fpr@{a}"] for r in recs]) for a in LEVELS}
    checks = len(recs) * len(LEVELS)
    lines += [
        "",
        f"Mean empirical FPR over all runs: {mean[0.05]:.4f} at a = 0.05, {mean[0.01]:.4f} at a = 0.01; "
        f"mean BH FDR {np.mean([r['bh_fdr'] for r in recs]):.3f} at target {FDR}, "
        f"mean power {np.mean([r['bh_power'] for r in recs]):.3f}.",
        "",
        f"Runs above the binomial interval ({len(outside['binomial'])} of {checks} checks): "
        + ("; ".join(outside["binomial"]) or "none."),
        "",
        f"Runs above the Beta-Binomial interval ({len(outside['beta-binomial'])} of {checks} checks): "
        + ("; ".join(outside["beta-binomial"]) or "none."),
    ]
    return lines


def arguments(doc: str, scratch: str, datasets: list[str] | None) -> argparse.ArgumentParser:
    """The command line a resumable run over (set, seed) takes: data, sets, seeds, records' folder, --report."""
    ap = parser(doc)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument(
        "--datasets",
        nargs="*",
        default=datasets,
        help="default: " + (", ".join(datasets or []) or "the 24 benchmark and development sets"),
    )
    ap.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS))
    ap.add_argument("--out-dir", type=Path, default=Path(tempfile.gettempdir()) / scratch)
    ap.add_argument("--report", action="store_true", help="write the table from the records; train nothing")
    return ap


def dispatch(args: argparse.Namespace, records: str, run_fn, report_fn, name: str, title: str) -> None:
    """Run (resuming from ``OUT_DIR/records``) or, with ``--report``, write the table of the records."""
    args.out_dir.mkdir(parents=True, exist_ok=True)
    jsonl = args.out_dir / records
    if not args.report:
        run_fn(args, jsonl)
        return
    write(name, title, report_fn(_records(jsonl)), args.out, args.record)


def main() -> None:
    ap = arguments(__doc__, "aeexport-conformal", None)
    ap.add_argument("--max-minutes", type=float, default=60.0, help="stop starting new runs after this long")
    args = ap.parse_args()
    if args.datasets is None:
        args.datasets = sorted(s for s, r in roles(args.data).items() if r in ("benchmark", "development"))
    dispatch(args, "conformal.jsonl", run, report, "decisions-conformal", "Conformal validity of the in-graph p-values")


if __name__ == "__main__":
    main()
