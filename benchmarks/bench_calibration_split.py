"""Are p-values anti-conservative because the calibration rows are also the early-stopping rows?

A paired test of that hypothesis (issue 34) on the protocol of ``bench_conformal.py`` (the 60/40
split, the tabular default trained on the training split's normal rows, the same 15% held out).
The held-out rows are cut in two equal halves A and B; per (set, seed) two models are trained on
the same training rows:

- ``a``: early stopping watches all held-out rows, as ``fit_tabular`` does now;
- ``b``: early stopping watches A only; B is never seen by training.

and the share of the test split's normal rows with ``p <= a`` is measured for four calibrations:
``a/all`` (today's bundle: model a, every held-out row), ``a/B`` (model a, half B: rows it watched),
``b/A`` (model b, the rows it watched), ``b/B`` (model b, rows it never saw). If watching the rows
made their scores low, ``b/A`` would run above ``b/B`` and ``a/B`` above ``b/B`` (same rows,
watched or not). Each rate is checked against both 95% intervals of ``bench_conformal.intervals``.

    PYTHONPATH=.:runtime nice -n 15 python benchmarks/bench_calibration_split.py --data /work/shared/datasets \\
        --datasets 44_Wilt 30_satellite 22_magic.gamma 2_annthyroid --out-dir /tmp/calsplit
    PYTHONPATH=.:runtime python benchmarks/bench_calibration_split.py --out-dir /tmp/calsplit --report --out FILE
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anomaly import split  # noqa: E402
from bench_conformal import LEVELS, _records, arguments, dispatch, intervals  # noqa: E402

CONDITIONS = ("a/all", "a/B", "b/A", "b/B")
HELD_OUT = 0.15  # fit_tabular's val_fraction


def _fit(train: np.ndarray, watched: np.ndarray, seed: int):
    from aeexport.settings import PRESETS, TrainConfig, apply_preset, choose_preset
    from aeexport.train import train_model

    spec = PRESETS[choose_preset("tabular", image=False)]
    base = TrainConfig(seed=seed, progress=False, device="cpu", val_fraction=HELD_OUT)
    cfg, options = apply_preset("tabular", spec.kind, base, {}, len(train), train.shape[1])
    return train_model(train, watched, kind=spec.kind, model_options=options, config=cfg).model.eval()


def _scores(model, X: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return model.scorer_graph(torch.from_numpy(np.ascontiguousarray(X))).numpy()


def _rates(cal: np.ndarray, normal: np.ndarray) -> dict:
    """The rate of ``p <= a`` of ``normal`` scores against ``cal`` scores, and whether it is above each interval."""
    from aeexport.export import calibration_table
    from aeruntime.decisions import conformal_p_values

    table = calibration_table(cal)
    p = conformal_p_values(normal, table)
    rec: dict = {"n_cal": int(table.size)}
    for a in LEVELS:
        f = float((p <= a).mean())
        iv = intervals(int(table.size), int(normal.size), a)
        rec[f"fpr@{a}"] = f
        rec[f"above_b@{a}"] = bool(f > iv["binomial"][1] + 1e-12)
        rec[f"above_bb@{a}"] = bool(f > iv["beta-binomial"][1] + 1e-12)
    return rec


def run(args: argparse.Namespace, jsonl: Path) -> None:
    import torch

    torch.set_num_threads(1)
    done = {(r["dataset"], r["seed"]) for r in _records(jsonl)}
    for ds in args.datasets:
        for seed in args.seeds:
            if (ds, seed) in done:
                continue
            d = np.load(Path(args.data) / f"{ds}.npz", allow_pickle=False)
            X, y = d["X"].astype(np.float32), d["y"].astype(np.int64)
            Xtr, Xte, ytr, yte = split(X, y, seed)
            rows, normal_test = Xtr[ytr == 0], Xte[yte == 0]
            perm = np.random.default_rng(seed).permutation(len(rows))  # fit_tabular's held-out rows
            n_val = max(1, int(HELD_OUT * len(rows)))
            train, held = rows[perm[n_val:]], rows[perm[:n_val]]
            half = n_val // 2
            A, B = held[:half], held[half : 2 * half]
            ma, mb = _fit(train, held, seed), _fit(train, A, seed)
            sa, sb = _scores(ma, normal_test), _scores(mb, normal_test)
            rec = {
                "dataset": ds,
                "seed": seed,
                "same_model": bool(np.array_equal(sa, sb)),
                "a/all": _rates(_scores(ma, held), sa),
                "a/B": _rates(_scores(ma, B), sa),
                "b/A": _rates(_scores(mb, A), sb),
                "b/B": _rates(_scores(mb, B), sb),
            }
            with jsonl.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(json.dumps(rec), flush=True)


def report(recs: list[dict]) -> list[str]:
    lines = [
        f"{len(recs)} runs. FPR at p <= 0.05 / 0.01 on the test split's normal rows; * above the binomial 95% "
        "interval, † above the Beta-Binomial one (one calibration set). 'same model': a and b scored every "
        "test row identically (early stopping picked the same epoch whichever rows it watched).",
        "",
        "| set | seed | n all / half | same model | " + " | ".join(CONDITIONS) + " |",
        "|---|---:|---:|---|" + "---|" * len(CONDITIONS),
    ]

    def cell(r: dict) -> str:
        return " / ".join(
            f"{r[f'fpr@{a}']:.4f}" + ("*" if r[f"above_b@{a}"] else "") + ("†" if r[f"above_bb@{a}"] else "")
            for a in LEVELS
        )

    for r in recs:
        n = f"{r['a/all']['n_cal']} / {r['b/B']['n_cal']}"
        lines.append(
            f"| {r['dataset']} | {r['seed']} | {n} | {'yes' if r['same_model'] else 'no'} | "
            + " | ".join(cell(r[c]) for c in CONDITIONS)
            + " |"
        )
    lines.append("")
    checks = 2 * len(recs)
    for c in CONDITIONS:
        rs = [r[c] for r in recs]
        means = ", ".join(f"{np.mean([x[f'fpr@{a}'] for x in rs]):.4f} at {a}" for a in LEVELS)
        above_b = sum(x[f"above_b@{a}"] for x in rs for a in LEVELS)
        above_bb = sum(x[f"above_bb@{a}"] for x in rs for a in LEVELS)
        lines.append(
            f"- `{c}`: mean FPR {means}; above the binomial interval {above_b}/{checks}, "
            f"above the Beta-Binomial {above_bb}/{checks}"
        )
    return lines


def main() -> None:
    ap = arguments(__doc__, "aeexport-calsplit", ["44_Wilt", "30_satellite", "22_magic.gamma", "2_annthyroid"])
    title = "Calibration rows watched by early stopping?"
    dispatch(ap.parse_args(), "calsplit.jsonl", run, report, "decisions-calibration-split", title)


if __name__ == "__main__":
    main()
