"""Series quality study: which window rule and autoencoder become the series defaults.

On ``../shared/datasets/series`` (README there: ``X_train``, ``X_test``, ``y_test``), every
method scores every test row causally: the score of row t is the score of the window of W
rows ending at t (the last W-1 training rows precede the first test row, so no test row is
warm-up). Columns are standardised on ``X_train``. Methods, on the same windows:

- ``iforest``: scikit-learn IsolationForest on the flattened windows (``-decision_function``);
- ``pca``: PCA keeping 90% of the variance of the flattened training windows, squared
  reconstruction error (mean over the window);
- ``row``: a window-free dense autoencoder on single rows (the tabular path, W = 1);
- autoencoder candidates (torch, CPU, short training), score = mean squared reconstruction
  error over the window (standardised units):
  ``dense``: over the flattened window, D -> 128 -> 32 -> 128 -> D (ReLU);
  ``tcn``: a temporal-convolution AE, Conv1d(C, 32, 5, stride 2) -> Conv1d(32, 8, 5, stride 2)
  -> two ConvTranspose1d back to (W, C), cropped to W.

Window rules: ``32`` (fixed) and ``auto``: TSB-AD's ``find_length_rank(rank=1)`` on column 0 of
``X_train`` (the highest local maximum of the autocorrelation at lags 3..400, lag = index + 3),
re-implemented in numpy in ``aeexport.data`` (``--window auto`` is this rule) because TSB-AD's module imports statsmodels; the period is
clipped to [8, 64] (64 bounds the flattened width W * C on a CPU), and without a local maximum
in lags 3..300 it falls back to 32 (TSB-AD falls back to 125). Since issue 33 the rule is
``aeexport.data.choose_window`` (what ``--window auto`` runs), which also falls back when the peak is
inside white noise's band (autocorrelation <= 4/sqrt(n)); on these series that changes only smap_A-6
(W 29 -> 32) against the recorded study below.

Training windows: stride 1, at most 2,000 per series (evenly spaced) to bound the CPU time.

Metrics: TSB-AD's own code (``TSB_AD.evaluation.basic_metrics``: VUS-PR from
``generate_curve(label, score, slidingWindow)`` with the ``opt`` version and 250 thresholds,
``slidingWindow`` = the same period rule on column 0 of the whole series, as TSB-AD's
benchmark does, falling back to 125), AUC-PR (average precision) and AUC-ROC.

Cross-check: the series sorted by file name, even positions form the *choose* half, odd
positions the *confirm* half; the AE candidate with the best mean VUS-PR on the choose half
is the default, and its confirm-half mean is reported against IsolationForest and PCA.

Install TSB-AD without its dependencies (it pins many; the metric needs only numpy, scipy
and scikit-learn): ``pip install --no-deps tsb-ad`` (the ``bench`` extra lists it).

    nice -n 15 python benchmarks/series.py --record
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, parser, write  # noqa: E402

from aeexport.data import FIXED_W, choose_window, tsbad_period, windows  # noqa: E402

DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "series"
#: at most this many training windows per series (evenly spaced): CPU is scarce
MAX_TRAIN_WINDOWS = 2000
AE_CANDIDATES = ("dense-32", "dense-auto", "tcn-32", "tcn-auto")


# ---------------------------------------------------------------------------- windows and periods
# the window rule is aeexport's own (aeexport.data: acf, tsbad_period, choose_window, windows)
def auto_window(train: np.ndarray) -> int:
    """The ``auto`` rule: TSB-AD's period of column 0 of the training rows (lags 3..300), clipped to
    [W_MIN, W_MAX]; FIXED_W when the autocorrelation has no local maximum there."""
    return choose_window("auto", train).window


def test_windows(train: np.ndarray, test: np.ndarray, w: int) -> np.ndarray:
    """(m, w, C): the window ending at each test row (the last w-1 training rows come first)."""
    return windows(np.concatenate([train[len(train) - (w - 1) :] if w > 1 else train[:0], test]), w)


# ---------------------------------------------------------------------------- methods
def _flat(win: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(win).reshape(len(win), -1)


def iforest(train_w: np.ndarray, test_w: np.ndarray, seed: int, **_: object) -> np.ndarray:
    from sklearn.ensemble import IsolationForest

    m = IsolationForest(n_estimators=100, random_state=seed).fit(_flat(train_w))
    return -m.decision_function(_flat(test_w))


def pca(train_w: np.ndarray, test_w: np.ndarray, seed: int, **_: object) -> np.ndarray:
    from sklearn.decomposition import PCA

    m = PCA(n_components=0.9, svd_solver="covariance_eigh").fit(_flat(train_w))
    x = _flat(test_w)
    return np.mean((m.inverse_transform(m.transform(x)) - x) ** 2, axis=1)


def _dense_net(w: int, c: int):
    import torch.nn as nn

    d = w * c
    h, k = min(128, max(d, 2)), min(32, max(d // 2, 1))
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(d, h),
        nn.ReLU(),
        nn.Linear(h, k),
        nn.ReLU(),
        nn.Linear(k, h),
        nn.ReLU(),
        nn.Linear(h, d),
    )


def _tcn_net(w: int, c: int):
    import torch.nn as nn

    class TCN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Sequential(
                nn.Conv1d(c, 32, 5, stride=2, padding=2), nn.ReLU(), nn.Conv1d(32, 8, 5, stride=2, padding=2), nn.ReLU()
            )
            self.dec = nn.Sequential(
                nn.ConvTranspose1d(8, 32, 4, stride=2, padding=1),
                nn.ReLU(),
                nn.ConvTranspose1d(32, c, 4, stride=2, padding=1),
            )

        def forward(self, x):  # (b, W, C) -> (b, W, C)
            y = self.dec(self.enc(x.transpose(1, 2)))[:, :, : x.shape[1]]
            return y.transpose(1, 2)

    return TCN()


NETS: dict[str, Callable] = {"dense": _dense_net, "tcn": _tcn_net}


def autoencoder(
    train_w: np.ndarray, test_w: np.ndarray, seed: int, net: str, epochs: int, lr: float, **_: object
) -> np.ndarray:
    import torch

    torch.manual_seed(seed)
    w, c = train_w.shape[1:]
    model = NETS[net](w, c)
    x = torch.from_numpy(np.ascontiguousarray(train_w, dtype=np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(128):
            xb = x[idx]
            out = model(xb).reshape(xb.shape)
            loss = torch.mean((out - xb) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    scores = []
    with torch.no_grad():
        for i in range(0, len(test_w), 4096):
            xb = torch.from_numpy(np.ascontiguousarray(test_w[i : i + 4096], dtype=np.float32))
            scores.append(torch.mean((model(xb).reshape(xb.shape) - xb) ** 2, dim=(1, 2)).numpy())
    return np.concatenate(scores)


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
def run_series(path: Path, epochs: int, lr: float, seed: int) -> dict[str, object]:
    with np.load(path, allow_pickle=False) as z:
        tr, te, y = (z[k].astype(np.float64) for k in ("X_train", "X_test", "y_test"))
    mean, std = tr.mean(0), tr.std(0)
    std[std == 0] = 1.0
    tr, te = ((a - mean) / std for a in (tr, te))
    w_auto = auto_window(tr)
    sliding = tsbad_period(np.concatenate([tr, te])[:, 0], 125)
    out: dict[str, object] = {"series": path.stem, "w_auto": w_auto, "sliding": sliding, "methods": {}}
    plans: list[tuple[str, int, Callable, dict]] = [("row", 1, autoencoder, {"net": "dense"})]
    for rule, w in (("32", FIXED_W), ("auto", w_auto)):
        plans += [(f"iforest-{rule}", w, iforest, {}), (f"pca-{rule}", w, pca, {})]
        plans += [(f"{net}-{rule}", w, autoencoder, {"net": net}) for net in NETS]
    for name, w, fn, kw in plans:
        t0 = time.perf_counter()
        train_w = windows(tr, w)
        train_w = train_w[np.linspace(0, len(train_w) - 1, min(len(train_w), MAX_TRAIN_WINDOWS)).astype(int)]
        s = fn(train_w, test_windows(tr, te, w), seed=seed, epochs=epochs, lr=lr, **kw)
        assert len(s) == len(y)
        out["methods"][name] = {**metrics(y, s, sliding), "seconds": round(time.perf_counter() - t0, 2)}
    return out


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


def report(rows: list[dict], epochs: int, lr: float, seed: object = 0, runs: str = "") -> list[str]:
    rows = sorted(rows, key=lambda r: r["series"])
    choose, confirm = rows[0::2], rows[1::2]
    methods = list(rows[0]["methods"])
    best, second = sorted(AE_CANDIDATES, key=lambda m: _mean(choose, m), reverse=True)[:2]
    body = [
        f"{len(rows)} series; choose half = even positions by name ({len(choose)}), confirm half = odd ({len(confirm)}).",
        f"Autoencoders: {epochs} epochs, Adam lr {lr}, batch 128, CPU. Score = mean squared error over the window.",
        f"Each figure is the mean over {rows[0].get('runs', 1)} run(s) per series (seeds {seed}); "
        "the choice is made on these means.",
        *([runs] if runs else []),
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
    rule = best.split("-")[1]
    c = {m: _mean(confirm, m) for m in (best, f"iforest-{rule}", f"pca-{rule}")}
    verdict = [f"{m} {v:.3f}" for m, v in c.items()]
    beats = c[best] > c[f"iforest-{rule}"] and c[best] > c[f"pca-{rule}"]
    body += [
        "",
        f"Chosen on the choose half: **{best}** ({_mean(choose, best):.3f}; runner-up {second} "
        f"{_mean(choose, second):.3f}, a margin of {_mean(choose, best) - _mean(choose, second):.4f}). "
        f"Confirm half, same windows: {', '.join(verdict)}: "
        f"the default {'beats' if beats else 'does NOT beat'} both IsolationForest and PCA there.",
        "",
        "Per series (VUS-PR; W auto / metric window):",
        "",
        "| series | W auto | sliding | " + " | ".join(methods) + " |",
        "| --- | ---: | ---: | " + " | ".join("---:" for _ in methods) + " |",
    ]
    for r in rows:
        vals = " | ".join(f"{r['methods'][m]['vus_pr']:.3f}" for m in methods)
        body.append(f"| {r['series']} | {r['w_auto']} | {r['sliding']} | {vals} |")
    return body


def _stream_section() -> str:
    """The stream benchmark's section of the recorded results/series.md, to keep on a re-record."""

    path, mark = RESULTS / "series.md", "<!-- bench_series_stream.py -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return mark + text.split(mark, 1)[1] if mark in text else ""


def main() -> None:
    ap = parser(__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0, help="runs: the seed; --report: ignored (see --seeds)")
    ap.add_argument("--seeds", default="0", help="--report: the seeds of the runs read, as shown in the report")
    ap.add_argument("--limit", type=int, default=None, help="only the first N series (a trial run)")
    ap.add_argument("--half", choices=["all", "choose", "confirm"], default="all", help="run one half only")
    ap.add_argument("--jsonl", type=Path, default=None, help="also append the per-series figures here")
    ap.add_argument(
        "--report", type=Path, nargs="+", default=None, help="write the report from these --jsonl files (no runs)"
    )
    args = ap.parse_args()
    if args.report:
        runs_read = [[json.loads(x) for x in f.read_text().splitlines() if x.strip()] for f in args.report]
        rows = seed_means([r for run in runs_read for r in run])
        title = "Series quality: causal per-step scores, VUS-PR (TSB-AD)"
        keep = _stream_section() if args.record else ""
        runs = (
            "The figures come from runs (one per half and seed, the halves in parallel) whose per-series lines this command reads: "
            "`nice -n 15 python benchmarks/series.py --data DIR --half choose --seed S --jsonl choose.jsonl` "
            f"and the same with `--half confirm`, for S in {args.seeds}."
        )
        path = write("series", title, report(rows, args.epochs, args.lr, args.seeds, runs), args.out, args.record)
        if keep:  # bench_series_stream.py's section of the same file stays
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
    for f in files:
        r = run_series(f, args.epochs, args.lr, args.seed)
        print(json.dumps(r), file=sys.stderr, flush=True)
        rows.append(r)
        if args.jsonl:
            with open(args.jsonl, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(r) + "\n")
    write(
        "series",
        "Series quality: causal per-step scores, VUS-PR (TSB-AD)",
        report(rows, args.epochs, args.lr, args.seed),
        args.out,
        args.record,
    )


if __name__ == "__main__":
    main()
