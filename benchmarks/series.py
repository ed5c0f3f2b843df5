"""Series quality study: the shipped series defaults against IsolationForest, PCA and a row model.

On ``../shared/datasets/series`` (README there: ``X_train``, ``X_test``, ``y_test``), every
method scores every test row causally: the score of row t is the score of the window of W
rows ending at t (the last W-1 training rows precede the first test row, so no test row is
warm-up).

The autoencoder candidates are trained, exported and scored by the shipped path, nothing of it
re-implemented here: for each kind in :data:`SHIPPED` (``series-dense``, ``series-tcn``) and seed S,

    aeexport train SERIES.npz --window auto --seed S --quiet --out CKPT [--model series-tcn]
    aeexport export CKPT --out BUNDLE

(run in-process through the ``aeexport`` click group: its defaults, i.e. at most 300 epochs, early
stopping with patience 20 on the validation loss, the split by time with the last 15% of
``X_train``'s steps for validation and calibration, batch 128, the per-column standard scaler inside
the graphs, and the window rule of ``--window auto`` on the training steps), then the bundle
scores the last W-1 training rows followed by the test rows with ``aeruntime.series.score_series``
(what ``aeruntime score`` runs) and the first W-1 (warm-up) scores are dropped.
``series-dense`` is the kind ``--window`` trains without ``--model`` (``aeexport.settings.SERIES_KIND``).

Baselines, on the same windows (the W the shipped run chose), columns standardised on ``X_train``,
fitted on all of ``X_train``'s windows:

- ``iforest``: scikit-learn IsolationForest on the flattened windows (``-decision_function``);
- ``pca``: PCA keeping 90% of the variance of the flattened training windows, squared
  reconstruction error (mean over the window);
- ``row``: a window-free dense autoencoder on single rows (W = 1; D -> 128 -> 32 -> 128 -> D, ReLU,
  a lean loop of :data:`ROW_EPOCHS` epochs on at most :data:`ROW_MAX` evenly spaced rows, not the
  shipped tabular path).

Metrics: TSB-AD's own code (``TSB_AD.evaluation.basic_metrics``: VUS-PR from
``generate_curve(label, score, slidingWindow)`` with the ``opt`` version and 250 thresholds,
``slidingWindow`` = TSB-AD's period rule on column 0 of the whole series, as TSB-AD's
benchmark does, falling back to 125), AUC-PR (average precision) and AUC-ROC.

Cross-check: the series sorted by file name, even positions form the *choose* half, odd
positions the *confirm* half; the shipped kind with the best mean VUS-PR on the choose half
is the default, and its confirm-half mean is reported against IsolationForest, PCA and the row model.

Install TSB-AD without its dependencies (it pins many; the metric needs only numpy, scipy
and scikit-learn): ``pip install --no-deps tsb-ad`` (the ``bench`` extra lists it).
One process per half and seed (``--jsonl`` is resumable: series already in it for the seed are
skipped), then the report from their lines:

    nice -n 15 python benchmarks/series.py --data DIR --half choose --seed 0 --jsonl choose_seed0.jsonl
    nice -n 15 python benchmarks/series.py --report choose_seed0.jsonl confirm_seed0.jsonl ... --record
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, parser, write  # noqa: E402

from aeexport.data import tsbad_period, windows  # noqa: E402
from aeexport.settings import SERIES_KIND  # noqa: E402

DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "series"
#: the autoencoder candidates: series kinds of the model registry, trained by ``aeexport train --window auto``
SHIPPED = ("series-dense", "series-tcn")
#: the row model's lean loop (a baseline): epochs, Adam learning rate, and at most this many training rows
ROW_EPOCHS, ROW_LR, ROW_MAX = 10, 1e-3, 2000


# ---------------------------------------------------------------------------- the shipped path
#: the step of the shipped path running now (a failed run names it)
_STAGE: list[str] = ["baselines"]


def _aeexport(args: list[str]) -> str:
    """Run ``aeexport ARGS`` in this process (the click group the command line runs); its output.
    A failure raises RuntimeError with the command's ``Error:`` line and its verdict (``overall:``)."""
    from aeexport.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main(args, prog_name="aeexport", standalone_mode=False)
    except (Exception, SystemExit) as e:
        said = [x for x in (out.getvalue() + err.getvalue()).splitlines() if x.startswith(("Error:", "overall:"))]
        raise RuntimeError(" ".join(said) or repr(e)) from None
    sys.stderr.write(err.getvalue())
    return out.getvalue()


def shipped(path: Path, kind: str, seed: int, train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, dict]:
    """Per-step test scores (m,) of ``kind`` trained on ``path``'s ``X_train`` by ``aeexport train
    --window auto`` and exported by ``aeexport export``, scored by the bundle on the last W-1 rows of
    ``train`` (n, C) then ``test`` (m, C), raw units; and the run's facts (window, epochs, seconds)."""
    import aeruntime
    from aeruntime.series import score_series

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aeexport-series-bench-") as tmp:
        ckpt, bundle = Path(tmp) / "checkpoint", Path(tmp) / "bundle"
        model_arg = [] if kind == SERIES_KIND else ["--model", kind]  # the default kind: no --model, as a user runs it
        _STAGE.append(f"aeexport train ({kind})")
        _aeexport(
            ["train", str(path), "--window", "auto", "--seed", str(seed), "--quiet", "--out", str(ckpt), *model_arg]
        )
        _STAGE.append(f"aeexport export ({kind})")
        _aeexport(["export", str(ckpt), "--out", str(bundle)])
        cfg = json.loads((ckpt / "config.json").read_text(encoding="utf-8"))
        model = aeruntime.load(bundle, providers="cpu")
        assert model.manifest["model"]["kind"] == kind, model.manifest["model"]["kind"]
        w = int(model.input_shape[0])
        rows = np.concatenate([train[len(train) - (w - 1) :], test]).astype(np.float32)
        scores = score_series(model, rows)[w - 1 :]
    t = cfg["training"]
    info = {
        "window": w,
        "window_rule": cfg["dataset"]["series"]["rule"],
        "epochs_run": t["epochs_run"],
        "best_epoch": t["best_epoch"],
        "epoch_cap": t["epoch_cap"],
        "stopped_at_cap": t["stopped_at_cap"],
        "train_windows": cfg["dataset"]["train_rows"],
        "train_seconds": t["train_seconds"],
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return scores.astype(np.float64), info


# ---------------------------------------------------------------------------- baselines
def test_windows(train: np.ndarray, test: np.ndarray, w: int) -> np.ndarray:
    """(m, w, C): the window ending at each test row (the last w-1 training rows come first)."""
    return windows(np.concatenate([train[len(train) - (w - 1) :] if w > 1 else train[:0], test]), w)


def _flat(win: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(win).reshape(len(win), -1)


def iforest(train_w: np.ndarray, test_w: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.ensemble import IsolationForest

    m = IsolationForest(n_estimators=100, random_state=seed).fit(_flat(train_w))
    return -m.decision_function(_flat(test_w))


def pca(train_w: np.ndarray, test_w: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    m = PCA(n_components=0.9, svd_solver="covariance_eigh").fit(_flat(train_w))
    x = _flat(test_w)
    return np.mean((m.inverse_transform(m.transform(x)) - x) ** 2, axis=1)


def row_model(train_w: np.ndarray, test_w: np.ndarray, seed: int) -> np.ndarray:
    """A dense autoencoder on single rows (train_w, test_w: (n, 1, C)): D -> 128 -> 32 -> 128 -> D."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    train_w = train_w[np.linspace(0, len(train_w) - 1, min(len(train_w), ROW_MAX)).astype(int)]
    d = train_w.shape[2]
    h, k = min(128, max(d, 2)), min(32, max(d // 2, 1))
    model = nn.Sequential(
        nn.Linear(d, h), nn.ReLU(), nn.Linear(h, k), nn.ReLU(), nn.Linear(k, h), nn.ReLU(), nn.Linear(h, d)
    )
    x = torch.from_numpy(_flat(train_w).astype(np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=ROW_LR)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(ROW_EPOCHS):
        for idx in torch.randperm(len(x), generator=gen).split(128):
            loss = torch.mean((model(x[idx]) - x[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        xt = torch.from_numpy(_flat(test_w).astype(np.float32))
        return torch.mean((model(xt) - xt) ** 2, dim=1).numpy()


BASELINES = {"row": row_model, "iforest": iforest, "pca": pca}


# ---------------------------------------------------------------------------- metrics
def metrics(y: np.ndarray, s: np.ndarray, sliding: int) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score
    from TSB_AD.evaluation.basic_metrics import generate_curve

    vus_pr = generate_curve(y.astype(int), s.astype(np.float64), sliding, "opt", 250)[7]
    return {
        "vus_pr": float(vus_pr),
        "auc_pr": float(average_precision_score(y, s)),
        "auc_roc": float(roc_auc_score(y, s)),
    }


# ---------------------------------------------------------------------------- one series
def run_series(path: Path, seed: int) -> dict[str, Any]:
    """Every method on one series (one seed): ``methods`` (figures), ``training`` (the shipped runs' facts)."""
    with np.load(path, allow_pickle=False) as z:
        tr, te, y = (z[k].astype(np.float64) for k in ("X_train", "X_test", "y_test"))
    sliding = tsbad_period(np.concatenate([tr, te])[:, 0], 125)
    out: dict[str, Any] = {"series": path.stem, "seed": seed, "sliding": sliding, "methods": {}, "training": {}}
    for kind in SHIPPED:
        s, info = shipped(path, kind, seed, tr, te)
        assert len(s) == len(y)
        out["methods"][kind] = {**metrics(y, s, sliding), "seconds": info["seconds"]}
        out["training"][kind] = info
    ws = {info["window"] for info in out["training"].values()}
    assert len(ws) == 1, f"the kinds chose different windows {ws}"  # one rule, one series: one W
    out["w_auto"] = w = ws.pop()
    mean, std = tr.mean(0), tr.std(0)
    std[std == 0] = 1.0
    trs, tes = ((a - mean) / std for a in (tr, te))
    for name, fn in BASELINES.items():
        t0 = time.perf_counter()
        ww = 1 if name == "row" else w
        s = fn(windows(trs, ww), test_windows(trs, tes, ww), seed=seed)
        assert len(s) == len(y)
        out["methods"][name] = {**metrics(y, s, sliding), "seconds": round(time.perf_counter() - t0, 2)}
    return out


def unique_runs(rows: list[dict]) -> list[dict]:
    """The first line of each (series, seed): two processes sharing a half may both run the series they meet at."""
    seen: dict[tuple[str, int], dict] = {}
    for r in rows:
        seen.setdefault((r["series"], r["seed"]), r)
    return list(seen.values())


def seed_means(rows: list[dict]) -> list[dict]:
    """One row per series: each metric averaged over the runs (seeds) that scored it; ``runs`` counts them."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["series"], []).append(r)
    out = []
    for _series, rs in sorted(by.items()):
        methods = {
            m: {k: float(np.mean([r["methods"][m][k] for r in rs])) for k in rs[0]["methods"][m]}
            for m in rs[0]["methods"]
        }
        out.append({**rs[0], "methods": methods, "runs": len(rs)})
    return out


def _mean(rows: list[dict], method: str, key: str = "vus_pr") -> float:
    return float(np.mean([r["methods"][method][key] for r in rows]))


def training_lines(runs: list[dict]) -> list[str]:
    """What the shipped training did, per kind, over every run read (series x seeds)."""
    lines = []
    for kind in SHIPPED:
        t = [r["training"][kind] for r in runs]
        ep = [x["epochs_run"] for x in t]
        lines.append(
            f"- `{kind}`: {len(t)} runs; epochs run {min(ep)}..{max(ep)} (median {np.median(ep):.0f}, cap "
            f"{t[0]['epoch_cap']}), stopped by early stopping in {sum(not x['stopped_at_cap'] for x in t)} of {len(t)}; "
            f"training {np.median([x['train_seconds'] for x in t]):.1f} s median, train + export + scoring "
            f"{np.median([x['seconds'] for x in t]):.1f} s median per run."
        )
    return lines


def halves(names: list[str]) -> tuple[list[str], list[str]]:
    """(choose, confirm): the even and the odd positions of the series ``names`` sorted."""
    names = sorted(names)
    return names[0::2], names[1::2]


def _default_line(confirm: list[dict]) -> str:
    """The current default's confirm-half standing, when the choose half picked another kind."""
    d, i, p = (_mean(confirm, m) for m in (SERIES_KIND, "iforest", "pca"))
    return (
        f"The current default {SERIES_KIND} on the confirm half: {d:.3f}, which "
        f"{'beats' if d > i and d > p else 'does NOT beat'} both IsolationForest and PCA."
    )


def report(raw: list[dict], seeds: str = "0", runs: str = "", names: list[str] | None = None) -> list[str]:
    """The record: the choice on the choose half, the confirm-half table, per-series VUS-PR.

    ``names``: every series of the data folder (the halves are their positions); None: the series read."""
    rows = seed_means(raw)
    choose_names, confirm_names = halves(names if names is not None else [r["series"] for r in rows])
    choose = [r for r in rows if r["series"] in choose_names]
    confirm = [r for r in rows if r["series"] in confirm_names]
    methods = [*SHIPPED, *BASELINES]
    ranked = sorted(SHIPPED, key=lambda m: _mean(choose, m), reverse=True)
    best, second = ranked[0], ranked[1]
    per = sorted({r["runs"] for r in rows})
    missing = sorted(set(choose_names + confirm_names) - {r["series"] for r in rows})
    body = [
        f"{len(rows)} series; choose half = even positions by name ({len(choose)} of {len(choose_names)}), "
        f"confirm half = odd ({len(confirm)} of {len(confirm_names)}).",
        *([f"**Not recorded**: {', '.join(missing)}."] if missing else []),
        f"Each figure is the mean over {'/'.join(map(str, per))} run(s) per series (seeds {seeds}); "
        "the choice is made on these means.",
        *(
            [
                f"Fewer runs than {per[-1]} (a seed not recorded): {', '.join(r['series'] for r in rows if r['runs'] < per[-1])}."
            ]
            if len(per) > 1
            else []
        ),
        *([runs] if runs else []),
        "",
        "Training is aeexport's own (`aeexport train SERIES.npz --window auto [--model series-tcn]`, default "
        "settings, then `aeexport export`; the bundle scores the test rows as `aeruntime score` does):",
        *training_lines(raw),
        f"The window W is the one `--window auto` chose for the run; `iforest` and `pca` use the same W; `row` is "
        f"a lean {ROW_EPOCHS}-epoch loop on single rows (not the shipped tabular path). The window rule itself "
        "(`auto` against a fixed 32) is not re-measured here: the earlier study in this file's history chose it "
        "(commit 00711ed, autoencoders trained in that script's own 10-epoch loop).",
        "",
        "| method | choose VUS-PR | confirm VUS-PR | confirm AUC-PR | confirm AUC-ROC | all VUS-PR |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in methods:
        mark = " **(chosen)**" if m == best else ""
        body.append(
            f"| {m}{mark} | {_mean(choose, m):.3f} | {_mean(confirm, m):.3f} | {_mean(confirm, m, 'auc_pr'):.3f} | "
            f"{_mean(confirm, m, 'auc_roc'):.3f} | {_mean(rows, m):.3f} |"
        )
    c = {m: _mean(confirm, m) for m in (best, "iforest", "pca", "row")}
    beats = c[best] > c["iforest"] and c[best] > c["pca"]
    default = "the current default" if best == SERIES_KIND else f"NOT the current default ({SERIES_KIND})"
    body += [
        "",
        f"Chosen on the choose half: **{best}** ({_mean(choose, best):.3f}; {second} {_mean(choose, second):.3f}, "
        f"a margin of {_mean(choose, best) - _mean(choose, second):.4f}), {default}. "
        f"Confirm half, same windows: {', '.join(f'{m} {v:.3f}' for m, v in c.items())}: "
        f"the chosen kind {'beats' if beats else 'does NOT beat'} both IsolationForest and PCA there, "
        f"and it {'beats' if c[best] > c['row'] else 'does NOT beat'} the row model."
        + ("" if best == SERIES_KIND else " " + _default_line(confirm)),
        "",
        "Per series (VUS-PR; W auto = the shipped run's window, sliding = the metric's window; epochs: series-dense, "
        "series-tcn, first seed):",
        "",
        "| series | W auto | sliding | epochs | " + " | ".join(methods) + " |",
        "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in methods) + " |",
    ]
    for r in rows:
        vals = " | ".join(f"{r['methods'][m]['vus_pr']:.3f}" for m in methods)
        ep = "/".join(str(r["training"][k]["epochs_run"]) for k in SHIPPED)
        body.append(f"| {r['series']} | {r['w_auto']} | {r['sliding']} | {ep} | {vals} |")
    return body


def _stream_section() -> str:
    """The stream benchmarks' sections of the recorded results/series.md, to keep on a re-record."""

    path, mark = RESULTS / "series.md", "<!-- bench_series_stream.py -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return mark + text.split(mark, 1)[1] if mark in text else ""


def _done(jsonl: Path | None, seed: int) -> set[str]:
    """The series already in ``jsonl`` for ``seed`` (a resumed run skips them)."""
    if jsonl is None or not jsonl.exists():
        return set()
    lines = [json.loads(x) for x in jsonl.read_text(encoding="utf-8").splitlines() if x.strip()]
    return {r["series"] for r in lines if r.get("seed") == seed}


def main() -> None:
    ap = parser(__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--seed", type=int, default=0, help="runs: the seed; --report: ignored (see --seeds)")
    ap.add_argument("--seeds", default="0", help="--report: the seeds of the runs read, as shown in the report")
    ap.add_argument("--limit", type=int, default=None, help="only the first N series (a trial run)")
    ap.add_argument("--half", choices=["all", "choose", "confirm"], default="all", help="run one half only")
    ap.add_argument("--jsonl", type=Path, default=None, help="append the per-series figures here (resumable)")
    ap.add_argument("--note", action="append", default=[], help="--report: a line to add (what happened in the runs)")
    ap.add_argument(
        "--reverse", action="store_true", help="last series first (a second process on the same half and --jsonl)"
    )
    ap.add_argument(
        "--report", type=Path, nargs="+", default=None, help="write the report from these --jsonl files (no runs)"
    )
    args = ap.parse_args()
    title = "Series quality: causal per-step scores, VUS-PR (TSB-AD)"
    if args.report:
        lines = [json.loads(x) for f in args.report for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
        raw = unique_runs([r for r in lines if "failed" not in r])
        args.note += [
            f"{r['series']}, seed {r['seed']}: {r['during']} failed: {r['failed']}" for r in lines if "failed" in r
        ]
        keep = _stream_section() if args.record else ""
        runs = (
            "The figures come from runs (at most two processes at a time) whose per-series lines this command reads: "
            "`nice -n 15 python benchmarks/series.py --data DIR --half choose --seed S --jsonl FILE` "
            f"and the same with `--half confirm`, for S in {args.seeds} (a second process on a half adds `--reverse` "
            "with the same `--jsonl`)."
        )
        names = sorted(p.stem for p in args.data.glob("*.npz"))
        if not names:
            raise SystemExit(f"no .npz series in {args.data}: the halves are positions among them; pass --data DIR")
        path = write(
            "series", title, report(raw, args.seeds, " ".join([runs, *args.note]), names), args.out, args.record
        )
        if keep:  # the stream benchmarks' sections of the same file stay
            path.write_text(path.read_text(encoding="utf-8").rstrip() + "\n\n" + keep, encoding="utf-8")
        return
    try:
        import TSB_AD.evaluation.basic_metrics  # noqa: F401
    except ImportError:
        raise SystemExit("TSB-AD's metrics are needed: pip install --no-deps tsb-ad") from None
    import torch

    torch.set_num_threads(1)
    files = sorted(args.data.glob("*.npz"))[: args.limit]
    files = {"all": files, "choose": files[0::2], "confirm": files[1::2]}[args.half]
    if not files:
        raise SystemExit(f"no .npz series in {args.data}; pass --data DIR (the shared datasets/series folder)")
    rows = []
    for f in reversed(files) if args.reverse else files:
        if f.stem in _done(args.jsonl, args.seed):  # read again each time: another process may share the file
            continue
        try:
            r = run_series(f, args.seed)
        except (Exception, SystemExit) as e:  # e.g. the export's parity check refusing a bundle: said, not scored
            r = {"series": f.stem, "seed": args.seed, "failed": f"{type(e).__name__}: {e}", "during": _STAGE[-1]}
            print(json.dumps(r), file=sys.stderr, flush=True)
            if args.jsonl:
                with open(args.jsonl, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(r) + "\n")
            continue
        print(json.dumps(r), file=sys.stderr, flush=True)
        rows.append(r)
        if args.jsonl:
            with open(args.jsonl, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(r) + "\n")
    if len(rows) >= 2:
        write("series", title, report(rows, str(args.seed)), args.out, args.record)


if __name__ == "__main__":
    main()
