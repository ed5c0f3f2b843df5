"""A self-contained HTML report (model card) of a bundle, optionally measured on DATA.

``aeexport report BUNDLE [DATA] --out report.html`` writes one HTML file with every
figure embedded as a base64 PNG, so it opens offline in any browser. Sections come
from :data:`SECTIONS` (a registry, in page order); each builder gets the
:class:`ReportContext` and returns its HTML, or ``None`` when it does not apply
(no DATA, no labels, not an image bundle, not a variant). The page lists what was
left out and why.

Rows are scored with :func:`aeruntime.load` (the deployed ONNX graphs), never
torch, so the report describes what is deployed. Scores: higher = more anomalous;
a row is flagged when ``score > threshold``. Every piece of text from the bundle or
the data passes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.errors import AeError, InvalidInputError

__all__ = ["SECTIONS", "ReportContext", "Section", "build_report", "image_shape_of", "write_report"]

#: rows shown in the image grid, and top anomalies explained
GRID_ROWS = 10
TOP_ANOMALIES = 8
#: rows used for the latent map (a seeded subsample beyond this)
LATENT_ROWS = 5000


@dataclass
class ReportContext:
    bundle: Path  # bundle directory
    model: Any  # aeruntime.Model of the bundle
    manifest: dict[str, Any]  # its manifest
    data: str | None = None  # DATA as given, or None
    X: np.ndarray | None = None  # (n, *input_shape) rows the data sections describe
    y: np.ndarray | None = None  # (n,) 1 = anomaly, 0 = normal; None when unlabelled
    scores: np.ndarray | None = None  # (n,) aeruntime scores of X, higher = more anomalous
    rows_from: str = ""  # one sentence: which rows of DATA X holds
    split: Any = None  # aeexport.compare.RowSplit for the PCA comparison, or None
    parent: Path | None = None  # variant: the parent bundle, when found
    image_shape: tuple[int, ...] | None = None  # (C, H, W) when rows are images
    figures: list[str] = field(default_factory=list)  # names of the figures embedded so far
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (section title, why) left out
    headline: dict[str, str] = field(default_factory=dict)  # key figures shown as tiles at the top


@dataclass(frozen=True)
class Section:
    key: str  # HTML id of the section
    title: str  # heading
    build: Callable[[ReportContext], str | None]  # HTML body, or None when it does not apply
    needs: str = ""  # why it may be left out (shown when it is)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return _e(v)
    if isinstance(v, float):
        return _e(f"{v:.6g}")
    if isinstance(v, (list, tuple)):
        return _e(json.dumps(list(v)) if len(v) <= 12 else json.dumps(list(v[:12]))[:-1] + f", … ({len(v)} values)]")
    if isinstance(v, dict):
        return _e(json.dumps(v, default=str)[:300])
    return _e(v)


def _kv(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _table(header: list[str], rows: list[list[Any]], cls: str = "grid") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise AeError(
            "the report needs matplotlib, which is not installed; install it with "
            "pip install 'aeexport[report]' (or pip install matplotlib)."
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(ctx: ReportContext, name: str, fig: Any, caption: str) -> str:
    """Embed a matplotlib figure as a base64 PNG ``<figure data-figure=name>``; closes the figure."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    ctx.figures.append(name)
    b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'<figure data-figure="{_e(name)}"><img alt="{_e(caption)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _p(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{_e(text)}</p>' if cls else f"<p>{_e(text)}</p>"


def image_shape_of(manifest: dict[str, Any]) -> tuple[int, ...] | None:
    """``(C, H, W)`` when the bundle's rows are images: an input of rank 3, or 64 flat features of digits."""
    shape = tuple(manifest["input"]["shape"])
    if len(shape) == 3:
        return shape
    source = str((manifest.get("dataset") or {}).get("source", ""))
    if shape == (64,) and source == "digits":
        return (1, 8, 8)
    return None


def _parameter_count(bundle: Path, manifest: dict[str, Any]) -> tuple[int | None, str]:
    w = bundle / str(manifest.get("weights") or "weights.safetensors")
    if manifest.get("weights") and w.is_file():
        from safetensors.numpy import load_file

        tensors = load_file(str(w))
        # learned parameters live in submodules ("encoder.0.weight"); top-level tensors are buffers (scaler)
        return sum(int(v.size) for k, v in tensors.items() if "." in k), "weights.safetensors"
    try:
        import onnx
        from onnx import numpy_helper

        total = 0
        for g in manifest["graphs"].values():
            if g.get("file", "").endswith(".onnx") and "scorer" not in g["file"]:
                proto = onnx.load(str(bundle / g["file"]))
                total += sum(int(numpy_helper.to_array(t).size) for t in proto.graph.initializer)
        return total, "ONNX initializers of encoder and decoder (includes scaler constants)"
    except Exception:  # noqa: BLE001 - the count is informative only
        return None, "unknown"


# ---------------------------------------------------------------- sections


def _model_section(ctx: ReportContext) -> str:
    m = ctx.manifest
    n_params, how = _parameter_count(ctx.bundle, m)
    sizes = [
        [name, f"{p.stat().st_size / 1024:.1f} KiB"]
        for name in sorted(m.get("files", {}))
        if "/" not in name and (p := ctx.bundle / name).is_file()
    ]
    d = int(np.prod(m["input"]["shape"]))
    k = int(np.prod(m["latent"]["shape"]))
    ctx.headline.update(
        {
            "kind": m["model"]["kind"],
            "features → code": f"{d} → {k}",
            "parameters": f"{n_params:,}" if n_params is not None else "?",
            "threshold": f"{m['threshold']['value']:.4g}",
        }
    )
    rows: list[tuple[str, Any]] = [
        ("kind", m["model"]["kind"]),
        ("input", f"{m['input']['shape']} {m['input'].get('dtype', 'float32')} ({d} values per row)"),
        ("latent code", f"{m['latent']['shape']} ({k} values per row; compression {d / k:.1f}x at equal precision)"),
        ("parameters", f"{n_params:,} ({how})" if n_params is not None else "unknown"),
        ("score", f"{m['score'].get('name')}: {m['score'].get('definition', '')} (higher = more anomalous)"),
        ("scaler", m.get("scaler", {}).get("kind")),
        ("bundle id", m.get("bundle_id")),
        ("created", m.get("created")),
        ("format version", m.get("format_version")),
        ("producer", ", ".join(f"{a} {b}" for a, b in (m.get("producer") or {}).items())),
    ]
    names = m["input"].get("feature_names")
    if names:
        rows.insert(2, ("feature names", names))
    left = "<h3>Model</h3>" + _kv(rows)
    middle = "<h3>Model configuration</h3>" + _kv(list(m["model"].get("config", {}).items()))
    middle += "<h3>Files</h3>" + _table(["file", "size"], sizes)
    ds = m.get("dataset") or {}
    tr = m.get("training") or {}
    right = ""
    if ds or tr:
        info = [(f"data: {k}", v) for k, v in ds.items()]
        info += [
            (k, tr[k]) for k in ("epochs_run", "best_epoch", "best_val_loss", "train_seconds", "device") if k in tr
        ]
        tc = tr.get("train_config") or {}
        info += [
            (f"train: {k}", tc[k])
            for k in ("epochs", "batch_size", "lr", "patience", "val_fraction", "seed", "scaler")
            if k in tc
        ]
        if tr.get("model_report"):
            info += [(f"model report: {k}", v) for k, v in tr["model_report"].items()]
        right = "<h3>Training data and run</h3>" + _kv(info)
    html_ = f'<div class="wide">{left}</div><div class="cols"><div>{middle}</div><div>{right}</div></div>'
    return html_


def _training_section(ctx: ReportContext) -> str | None:
    hist = (ctx.manifest.get("training") or {}).get("history") or []
    if not hist:
        return _p(
            "This bundle records no per-epoch history (it was exported before aeexport recorded it, or "
            "from a checkpoint without it); re-train and re-export to see the loss curves.",
            "note",
        )
    plt = _plt()
    ep = [h["epoch"] for h in hist]
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.plot(ep, [h["train_loss"] for h in hist], label="training loss", color="tab:blue")
    if all("val_loss" in h for h in hist):
        ax.plot(ep, [h["val_loss"] for h in hist], label="validation loss (mean score)", color="tab:orange")
    best = (ctx.manifest.get("training") or {}).get("best_epoch")
    if best:
        ax.axvline(best, color="grey", linestyle=":", label=f"best epoch {best}")
    losses = [h["train_loss"] for h in hist] + [h.get("val_loss", h["train_loss"]) for h in hist]
    if min(losses) > 0 and max(losses) / min(losses) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _figure(ctx, "loss_curves", fig, f"training and validation loss over {len(hist)} epochs")


def _parity_section(ctx: ReportContext) -> str | None:
    par = ctx.manifest.get("parity") or {}
    if par.get("kind") == "decision" or "rows" not in par:
        return _p("This bundle is a variant: its parity is decision-level, against its parent (below).", "note")
    tol = par.get("tolerance", {})
    rows = [
        [r["check"], r["batch"], f"{r['max_abs']:.3e}", f"{r['max_rel']:.3e}", "ok" if r["ok"] else "FAIL"]
        for r in par["rows"]
    ]
    head = (
        f"onnxruntime vs torch at export, atol {tol.get('atol')}, rtol {tol.get('rtol')}: "
        f"{'all ' + str(len(rows)) + ' checks pass' if par.get('ok') else 'VIOLATION'} "
        f"(max abs {par.get('max_abs', 0):.3e})."
    )
    return (
        f"<details><summary>{_e(head)} Show the table.</summary>"
        + _table(["check", "batch", "max abs", "max rel", "result"], rows)
        + "</details>"
    )


def _threshold_section(ctx: ReportContext) -> str | None:
    t = ctx.manifest["threshold"]
    rows: list[tuple[str, Any]] = [
        ("threshold", t["value"]),
        ("method", t.get("method")),
        ("parameters", t.get("params", {})),
        ("expected false-positive rate", t.get("expected_false_positive_rate")),
        ("calibration rows", t.get("calibration_rows")),
    ]
    rows += [(f"calibration {k}", v) for k, v in (t.get("stats") or {}).items()]
    out = _kv(rows)
    if ctx.scores is None:
        return out
    plt = _plt()
    s = ctx.scores.astype(np.float64)
    thr = float(ctx.model.threshold)
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    lo, hi = float(min(s.min(), thr)), float(max(s.max(), thr))
    log = lo > 0 and hi / lo > 100
    bins = np.logspace(np.log10(lo), np.log10(hi), 50) if log else np.linspace(lo, hi, 50)
    if ctx.y is not None:
        for lab, name, color in ((0, "normal", "tab:blue"), (1, "anomalous", "tab:red")):
            sel = s[ctx.y == lab]
            ax.hist(sel, bins=bins, alpha=0.6, density=True, color=color, label=f"{name} (n={sel.size})")
    else:
        ax.hist(s, bins=bins, alpha=0.7, color="tab:blue", label=f"rows (n={s.size})")
    ax.axvline(thr, color="black", linestyle="--", label=f"threshold {thr:.4g}")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    flagged = float((s > thr).mean())
    out += _p(f"{flagged:.1%} of the {s.size} rows score above the threshold.")
    fig_html = _figure(ctx, "score_distribution", fig, "score distribution of the DATA rows with the threshold")
    return f'<div class="cols"><div>{out}</div><div>{fig_html}</div></div>'


def _detection_section(ctx: ReportContext) -> str | None:
    if ctx.y is None or ctx.scores is None or ctx.y.min() == ctx.y.max():
        return None
    from sklearn.metrics import precision_recall_curve, roc_curve

    from .evaluate import evaluate_scores

    r = evaluate_scores(ctx.scores, ctx.y, float(ctx.model.threshold))
    c = r["confusion"]
    ctx.headline.update(
        {
            "ROC-AUC": f"{r['roc_auc']:.3f}",
            "recall at threshold": f"{r['recall']:.1%}",
            "false-positive rate": f"{r['false_positive_rate']:.1%}",
        }
    )
    out = _kv(
        [
            ("rows", f"{r['rows']} ({r['anomalies']} anomalies, {r['anomaly_share']:.1%})"),
            ("ROC-AUC", r["roc_auc"]),
            ("average precision", r["average_precision"]),
            ("precision at threshold", r["precision"]),
            ("recall at threshold", r["recall"]),
            ("F1 at threshold", r["f1"]),
            ("false-positive rate", r["false_positive_rate"]),
        ]
    )
    out += "<h3>Confusion counts at the threshold</h3>" + _table(
        ["", "flagged (score > threshold)", "not flagged"],
        [["anomaly (label 1)", c["tp"], c["fn"]], ["normal (label 0)", c["fp"], c["tn"]]],
        "grid confusion",
    )
    plt = _plt()
    s, y = ctx.scores.astype(np.float64), ctx.y
    fpr, tpr, _ = roc_curve(y, s)
    prec, rec, _ = precision_recall_curve(y, s)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    a1.plot(fpr, tpr, color="tab:red", label=f"ROC (AUC {r['roc_auc']:.3f})")
    a1.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    a1.scatter([r["false_positive_rate"]], [r["recall"]], color="black", zorder=3, label="at the threshold")
    a1.set_xlabel("false-positive rate")
    a1.set_ylabel("true-positive rate")
    a1.set_title("ROC curve")
    a1.legend(fontsize=8, loc="lower right")
    a2.plot(rec, prec, color="tab:purple", label=f"PR (AP {r['average_precision']:.3f})")
    a2.axhline(r["anomaly_share"], color="grey", linestyle=":", label="chance")
    a2.scatter([r["recall"]], [r["precision"]], color="black", zorder=3, label="at the threshold")
    a2.set_xlabel("recall")
    a2.set_ylabel("precision")
    a2.set_title("precision-recall curve")
    a2.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return out + _figure(ctx, "roc_pr", fig, "ROC and precision-recall curves on the labelled DATA rows")


def _latent_section(ctx: ReportContext) -> str | None:
    if ctx.X is None or ctx.scores is None:
        return None
    from sklearn.decomposition import PCA

    X, s, y = ctx.X, ctx.scores, ctx.y
    if len(X) > LATENT_ROWS:
        idx = np.sort(np.random.default_rng(0).choice(len(X), LATENT_ROWS, replace=False))
        X, s, y = X[idx], s[idx], None if y is None else y[idx]
    z = ctx.model.encode(X).reshape(len(X), -1)
    if z.shape[1] < 2 or len(z) < 3:
        return _p(f"The code has {z.shape[1]} dimension(s); a 2-D map needs at least 2.", "note")
    pca = PCA(n_components=2, random_state=0).fit(z)
    p = pca.transform(z)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    if y is not None:
        for lab, name, color in ((0, "normal", "tab:blue"), (1, "anomaly", "tab:red")):
            sel = y == lab
            ax.scatter(p[sel, 0], p[sel, 1], s=8, alpha=0.6, color=color, label=f"{name} (n={int(sel.sum())})")
        ax.legend(fontsize=8)
        how = "coloured by label"
    else:
        sc = ax.scatter(p[:, 0], p[:, 1], s=8, c=s, cmap="viridis", alpha=0.8)
        fig.colorbar(sc, ax=ax, label="anomaly score")
        how = "coloured by anomaly score"
    ev = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC 1 ({ev[0]:.0%} of code variance)")
    ax.set_ylabel(f"PC 2 ({ev[1]:.0%})")
    ax.set_title("latent codes, first two principal components")
    return _figure(ctx, "latent_map", fig, f"latent space of {len(z)} rows (PCA of the {z.shape[1]}-d codes), {how}")


def _show(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(img, dtype=np.float64).reshape(shape)
    return a.transpose(1, 2, 0) if shape[0] == 3 else a[0]


def _grid_rows(ctx: ReportContext) -> np.ndarray:
    """Indices of up to GRID_ROWS rows to show: normal and anomalous rows alternating when labelled."""
    n = len(ctx.X)  # type: ignore[arg-type]
    if ctx.y is None:
        return np.arange(min(GRID_ROWS, n))
    a = np.flatnonzero(ctx.y == 0)[: GRID_ROWS // 2]
    b = np.flatnonzero(ctx.y == 1)[: GRID_ROWS - len(a)]
    return np.concatenate([a, b])


def _reconstruction_section(ctx: ReportContext) -> str | None:
    if ctx.X is None or ctx.image_shape is None:
        return None
    shape = ctx.image_shape
    idx = _grid_rows(ctx)
    X = ctx.X[idx]
    panels: list[tuple[str, np.ndarray]] = [("original", X), ("reconstruction", ctx.model.reconstruct(X))]
    cfg = ctx.manifest["model"].get("config", {})
    if ctx.manifest["model"]["kind"] == "denoising":
        from .noise import corrupt

        lo, hi = float(ctx.X.min()), float(ctx.X.max())
        kind, level = str(cfg.get("noise", "gaussian")), float(cfg.get("noise_level", 0.2))
        if kind == "gaussian":  # training sigma is in units of each feature's scale; here a share of the range
            level = level * float(np.median(ctx.manifest["scaler"]["scale"])) / max(hi - lo, 1e-12)
        noisy = corrupt(X, kind, level, data_range=(lo, hi), seed=0)
        panels += [(f"noisy ({kind})", noisy), ("denoised", ctx.model.denoise(noisy))]
    plt = _plt()
    vmin, vmax = float(ctx.X.min()), float(ctx.X.max())
    fig, axes = plt.subplots(len(panels), len(idx), figsize=(1.1 * len(idx), 1.2 * len(panels)), squeeze=False)
    s = ctx.model.score(X)
    for r, (name, imgs) in enumerate(panels):
        for c in range(len(idx)):
            ax = axes[r][c]
            ax.imshow(_show(imgs[c], shape), cmap="gray_r" if shape[0] != 3 else None, vmin=vmin, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
            if r == 0:
                lab = "" if ctx.y is None else ("anomaly " if ctx.y[idx[c]] == 1 else "normal ")
                ax.set_title(f"{lab}{s[c]:.2f}", fontsize=7)
    return _figure(
        ctx,
        "reconstructions",
        fig,
        "originals (top, titled with label and score) and their "
        "reconstructions" + (", then noisy inputs and the model's denoised output" if len(panels) > 2 else ""),
    )


def _feature_label(j: int, names: list[str] | None, shape: tuple[int, ...], image: tuple[int, ...] | None) -> str:
    if names:
        return names[j]
    if image is not None:
        c, rem = divmod(j, image[1] * image[2])
        r, col = divmod(rem, image[2])
        return f"pixel (row {r}, col {col})" + (f" ch {c}" if image[0] > 1 else "")
    return f"feature {j}"


def _anomalies_section(ctx: ReportContext) -> str | None:
    if ctx.X is None or ctx.scores is None:
        return None
    top = np.argsort(-ctx.scores, kind="stable")[:TOP_ANOMALIES]
    ex = ctx.model.explain(ctx.X[top], top_k=3)
    names = ctx.manifest["input"].get("feature_names")
    shape = tuple(ctx.manifest["input"]["shape"])
    rows = []
    for i, row in enumerate(top):
        feats = "; ".join(
            f"{_feature_label(int(j), names, shape, ctx.image_shape)} ({sh:.0%})"
            for j, sh in zip(ex.indices[i], ex.shares[i])
        )
        label = "" if ctx.y is None else ("anomaly" if ctx.y[row] == 1 else "normal")
        rows.append([int(row), f"{ctx.scores[row]:.4g}", label, feats])
    out = _p(
        f"The {len(top)} highest-scoring rows and the three features with the largest share of each row's "
        "error (aeruntime Model.explain, scaled space)."
    )
    out += _table(["row", "score", "label", "top features (share of the row's error)"], rows)
    if ctx.image_shape is None:
        return out
    plt = _plt()
    errs = ctx.model.feature_errors(ctx.X[top])
    rec = ctx.model.reconstruct(ctx.X[top])
    fig, axes = plt.subplots(3, len(top), figsize=(1.1 * len(top), 3.6), squeeze=False)
    vmin, vmax = float(ctx.X.min()), float(ctx.X.max())
    for c in range(len(top)):
        for r, (img, kw) in enumerate(
            (
                (ctx.X[top[c]], {"cmap": "gray_r", "vmin": vmin, "vmax": vmax}),
                (rec[c], {"cmap": "gray_r", "vmin": vmin, "vmax": vmax}),
                (errs[c], {"cmap": "magma"}),
            )
        ):
            a = _show(img, ctx.image_shape)
            axes[r][c].imshow(a if a.ndim == 2 else a.mean(axis=2), **kw)
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
        axes[0][c].set_title(f"row {int(top[c])}", fontsize=7)
    for r, name in enumerate(("input", "reconstruction", "error")):
        axes[r][0].set_ylabel(name, fontsize=8)
    return out + _figure(ctx, "anomaly_errors", fig, "top anomalies: input, reconstruction and per-pixel error")


def _pca_section(ctx: ReportContext) -> str | None:
    if ctx.split is None:
        return None
    from .compare import compare_pca

    sp = ctx.split
    test = sp.heldout if sp.y_heldout is None else sp.heldout[sp.y_heldout == 0]
    if len(test) < 2:
        return _p("Too few held-out normal rows to compare with PCA.", "note")
    r = compare_pca(ctx.model, sp.train, test)
    ctx.headline["AE / PCA error"] = f"{r['mse_ratio_ae_to_pca']:.2f}"
    rows = [
        [
            name if name == "autoencoder" else f"PCA, {r['pca_components']} components",
            r[name]["mse_raw"],
            r[name]["mse_scaled"],
            r[name]["explained_variance"],
        ]
        for name in ("autoencoder", "pca")
    ]
    return (
        _p(
            f"Reconstruction of {r['test_rows']} held-out normal rows at code size {r['code_size']}: the "
            f"autoencoder against PCA fitted on {r['train_rows']} training rows in the bundle's scaled space. "
            f"{sp.how}."
        )
        + _table(["method", "MSE (raw units)", "MSE (scaled)", "explained variance (scaled)"], rows)
        + _p(f"AE / PCA scaled MSE = {r['mse_ratio_ae_to_pca']:.3f}: the {r['winner']} reconstructs better.")
    )


def _variant_section(ctx: ReportContext) -> str | None:
    v = ctx.manifest.get("variant")
    if not v:
        return None
    report = ctx.manifest.get("parity") or {}
    where = f"stored at export ({(report.get('data') or {}).get('source', 'rows from the scaler statistics')})"
    if ctx.parent is not None and ctx.X is not None:
        from .variants import verify_variant

        report = verify_variant(ctx.bundle, parent=ctx.parent, X=ctx.X, y=ctx.y, data_source=ctx.data)
        where = f"re-measured on the DATA rows against {ctx.parent}"
    out = _kv(
        [
            ("variant kind", v.get("kind")),
            ("description", v.get("description")),
            ("tool", v.get("tool")),
            ("parent bundle id", v.get("parent_bundle_id")),
            ("parent path", v.get("parent_path")),
        ]
    )
    if "checks" not in report:
        return out + _p("The manifest holds no decision-level report.", "note")
    rows = [[c["check"], c["value"], c["limit"], "ok" if c["ok"] else "FAIL"] for c in report["checks"]]
    out += _p(
        f"Decision-level parity against the parent, {where}: "
        f"{'ok' if report.get('ok') else 'FAIL'} on {report['metrics']['rows']} rows."
    )
    out += _table(["check", "value", "limit", "result"], rows)
    extra = [
        (k, report["metrics"][k])
        for k in (
            "score_rel_err_max",
            "label_agreement_at_parent_threshold",
            "flagged_parent",
            "flagged_variant",
            "roc_auc_parent",
            "roc_auc_variant",
        )
        if k in report["metrics"]
    ]
    return out + _kv(extra)


#: the report's sections, in page order (add one by appending a Section)
SECTIONS: list[Section] = [
    Section("model", "Model card", _model_section),
    Section("training", "Training and validation loss", _training_section),
    Section("parity", "Parity (ONNX vs torch)", _parity_section),
    Section("threshold", "Threshold and score distribution", _threshold_section),
    Section("detection", "Detection on labelled data", _detection_section, "DATA with labels of both classes"),
    Section("latent", "Latent space", _latent_section, "DATA"),
    Section("reconstructions", "Originals and reconstructions", _reconstruction_section, "DATA and an image bundle"),
    Section("anomalies", "What drives the top anomalies", _anomalies_section, "DATA"),
    Section("pca", "Autoencoder vs PCA", _pca_section, "DATA"),
    Section("variant", "Variant vs parent (decision level)", _variant_section, "a variant bundle"),
]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c8cdd8;font-size:13px}main{max-width:1100px;margin:0 auto;padding:12px 24px}
section{background:#fff;border:1px solid #dde1e8;border-radius:8px;margin:16px 0;padding:8px 20px 16px}
h2{font-size:18px;border-bottom:1px solid #eceff3;padding-bottom:6px}h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}th,td{padding:3px 10px;text-align:left;
vertical-align:top;border-bottom:1px solid #eceff3}table.kv th{color:#5b6477;font-weight:600;white-space:nowrap}
table.grid thead th{background:#f0f2f5}figure{margin:10px 0}figure img{max-width:100%;height:auto}
figcaption{font-size:12px;color:#5b6477}.note{color:#5b6477;font-style:italic}
nav{font-size:13px;margin:10px 0}nav a{margin-right:12px;color:#2457c5}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:0 24px}
details summary{cursor:pointer;font-size:14px;margin:8px 0}
.headline{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}.headline div{background:#fff;border:1px solid #dde1e8;
border-radius:8px;padding:8px 14px}.headline b{display:block;font-size:18px}.headline span{font-size:12px;color:#5b6477}
"""


def _title(ctx: ReportContext) -> str:
    b = ctx.bundle.resolve()
    name = f"{b.parent.name}/{b.name}" if b.name == "bundle" else b.name
    return f"{ctx.manifest['model']['kind']} autoencoder · {name}"


def build_report(ctx: ReportContext) -> str:
    """The report page as one HTML string (figures embedded)."""
    parts, toc = [], []
    for sec in SECTIONS:
        body = sec.build(ctx)
        if body is None:
            ctx.skipped.append((sec.title, sec.needs or "does not apply"))
            continue
        toc.append(f'<a href="#{_e(sec.key)}">{_e(sec.title)}</a>')
        parts.append(f'<section id="{_e(sec.key)}"><h2>{_e(sec.title)}</h2>{body}</section>')
    if ctx.data is None:
        intro = _p(
            "No DATA was given: this report shows what the manifest records. Sections that need rows "
            "(score distribution, detection, latent space, reconstructions, anomalies, PCA) are left out; "
            "run `aeexport report BUNDLE DATA --out report.html` to add them.",
            "note",
        )
    else:
        intro = _p(
            f"DATA {ctx.data!r}; rows: {ctx.rows_from}. Scores from aeruntime (the deployed ONNX graphs); "
            "higher = more anomalous, flagged when score > threshold."
        )
    if ctx.skipped:
        intro += _p("Left out: " + "; ".join(f"{t} (needs {w})" for t, w in ctx.skipped) + ".", "note")
    created = ctx.manifest.get("created", "")
    tiles = "".join(f"<div><b>{_e(v)}</b><span>{_e(k)}</span></div>" for k, v in ctx.headline.items())
    intro = f'<div class="headline">{tiles}</div>' + intro
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(_title(ctx))}</title>'
        f"<style>{_CSS}</style></head><body><header><h1>{_e(_title(ctx))}</h1>"
        f"<p>bundle {_e(ctx.bundle)} · id {_e(ctx.manifest.get('bundle_id', ''))} · created {_e(created)}</p>"
        f"</header><main><nav>{''.join(toc)}</nav>{intro}{''.join(parts)}</main></body></html>\n"
    )


def _load_rows(ctx: ReportContext, data: str, label_column: str | None, anomaly_class: int | None) -> None:
    from .compare import _binary, bundle_split
    from .data import load_dataset

    shape = tuple(ctx.model.input_shape)
    split = bundle_split(ctx.manifest, data, shape, label_column=label_column, anomaly_class=anomaly_class)
    ctx.split = split
    if split.exact:
        ctx.X, ctx.y, ctx.rows_from = split.heldout, split.y_heldout, split.how
    else:
        ds = load_dataset(data, label_column=label_column)
        ac = anomaly_class
        if ac is None and (ctx.manifest.get("dataset") or {}).get("source") == ds.name:
            ac = ctx.manifest["dataset"].get("anomaly_class")
        ctx.X = ds.X.reshape(len(ds.X), *shape)
        ctx.y = _binary(ds.y, ac)
        ctx.rows_from = f"all {len(ds.X)} rows" + ("" if ctx.y is not None else " (no 0/1 labels)")
    ctx.scores = ctx.model.score(ctx.X)


def write_report(
    bundle: str | Path,
    out: str | Path,
    data: str | None = None,
    *,
    label_column: str | None = None,
    anomaly_class: int | None = None,
    parent: str | Path | None = None,
    providers: Any = "cpu",
) -> dict[str, Any]:
    """Write the HTML report of ``bundle`` (measured on ``data`` when given) to ``out`` atomically.

    Parameters
    ----------
    bundle : path of a bundle directory
    out : path of the ``.html`` file to write
    data : ``"digits"`` or a ``.npy``/``.npz``/``.csv`` file, optional
        Rows to describe. When it is the data the bundle was trained on (digits) the
        bundle's own held-out split is reproduced; otherwise all rows are used.
    label_column, anomaly_class :
        Labels of DATA (1 = anomaly), as for ``aeexport evaluate``.
    parent : variant bundles: the fp32 parent (default: the path in the manifest)

    Returns
    -------
    dict with ``out``, ``sections`` (ids written), ``figures`` (names embedded), ``skipped``.
    """
    import aeruntime
    from aeruntime.format import atomic_write_bytes

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InvalidInputError(f"--out {str(out)!r}: expected a file name ending in .html.")
    _plt()
    model = aeruntime.load(bundle, providers=providers)
    manifest = model.manifest
    ctx = ReportContext(
        bundle=Path(bundle), model=model, manifest=manifest, data=data, image_shape=image_shape_of(manifest)
    )
    if manifest.get("variant"):
        p = Path(parent) if parent else Path(bundle) / manifest["variant"].get("parent_path", "")
        ctx.parent = p if (p / "manifest.json").is_file() else None
    if data is not None:
        _load_rows(ctx, data, label_column, anomaly_class)
    page = build_report(ctx)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, page.encode("utf-8"))
    return {
        "out": str(out),
        "bytes": len(page.encode("utf-8")),
        "sections": [s.key for s in SECTIONS if s.title not in {t for t, _ in ctx.skipped}],
        "figures": list(ctx.figures),
        "skipped": [{"section": t, "needs": w} for t, w in ctx.skipped],
    }
