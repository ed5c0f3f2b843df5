"""Sections measured on the DATA rows: detection, latent map, reconstructions, top anomalies, AE vs PCA."""

from __future__ import annotations

import numpy as np

from ._context import GRID_ROWS, LATENT_ROWS, TOP_ANOMALIES, ReportContext
from ._markup import figure, kv, para, pyplot, table

__all__ = ["anomalies_section", "detection_section", "latent_section", "pca_section", "reconstruction_section"]


def detection_section(ctx: ReportContext) -> str | None:
    if ctx.y is None or ctx.scores is None or ctx.y.min() == ctx.y.max():
        return None
    from sklearn.metrics import precision_recall_curve, roc_curve

    from ._evaluate import evaluate_scores

    r = evaluate_scores(ctx.scores, ctx.y, float(ctx.model.threshold))
    c = r["confusion"]
    ctx.headline.update(
        {
            "ROC-AUC": f"{r['roc_auc']:.3f}",
            "recall at threshold": f"{r['recall']:.1%}",
            "false-positive rate": f"{r['false_positive_rate']:.1%}",
        }
    )
    out = kv(
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
    out += "<h3>Confusion counts at the threshold</h3>" + table(
        ["", "flagged (score > threshold)", "not flagged"],
        [["anomaly (label 1)", c["tp"], c["fn"]], ["normal (label 0)", c["fp"], c["tn"]]],
        "grid confusion",
    )
    plt = pyplot()
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
    return out + figure(ctx, "roc_pr", fig, "ROC and precision-recall curves on the labelled DATA rows")


def latent_section(ctx: ReportContext) -> str | None:
    if ctx.X is None or ctx.scores is None:
        return None
    from sklearn.decomposition import PCA

    X, s, y = ctx.X, ctx.scores, ctx.y
    if len(X) > LATENT_ROWS:
        idx = np.sort(np.random.default_rng(0).choice(len(X), LATENT_ROWS, replace=False))
        X, s, y = X[idx], s[idx], None if y is None else y[idx]
    z = ctx.model.encode(X).reshape(len(X), -1)
    if z.shape[1] < 2 or len(z) < 3:
        return para(f"The code has {z.shape[1]} dimension(s); a 2-D map needs at least 2.", "note")
    pca = PCA(n_components=2, random_state=0).fit(z)
    p = pca.transform(z)
    plt = pyplot()
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
    return figure(ctx, "latent_map", fig, f"latent space of {len(z)} rows (PCA of the {z.shape[1]}-d codes), {how}")


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


def reconstruction_section(ctx: ReportContext) -> str | None:
    if ctx.X is None or ctx.image_shape is None:
        return None
    shape = ctx.image_shape
    idx = _grid_rows(ctx)
    X = ctx.X[idx]
    panels: list[tuple[str, np.ndarray]] = [("original", X), ("reconstruction", ctx.model.reconstruct(X))]
    cfg = ctx.manifest["model"].get("config", {})
    if ctx.manifest["model"]["kind"] == "denoising":
        from ..train import corrupt

        lo, hi = float(ctx.X.min()), float(ctx.X.max())
        kind, level = str(cfg.get("noise", "gaussian")), float(cfg.get("noise_level", 0.2))
        if kind == "gaussian":  # training sigma is in units of each feature's scale; here a share of the range
            level = level * float(np.median(ctx.manifest["scaler"]["scale"])) / max(hi - lo, 1e-12)
        noisy = corrupt(X, kind, level, data_range=(lo, hi), seed=0)
        panels += [(f"noisy ({kind})", noisy), ("denoised", ctx.model.denoise(noisy))]
    plt = pyplot()
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
    return figure(
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


def anomalies_section(ctx: ReportContext) -> str | None:
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
    out = para(
        f"The {len(top)} highest-scoring rows and the three features with the largest share of each row's "
        "error (aeruntime Model.explain, scaled space)."
    )
    out += table(["row", "score", "label", "top features (share of the row's error)"], rows)
    if ctx.image_shape is None:
        return out
    plt = pyplot()
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
    return out + figure(ctx, "anomaly_errors", fig, "top anomalies: input, reconstruction and per-pixel error")


def pca_section(ctx: ReportContext) -> str | None:
    if ctx.split is None:
        return None
    from ._compare import compare_pca

    sp = ctx.split
    test = sp.heldout if sp.y_heldout is None else sp.heldout[sp.y_heldout == 0]
    if len(test) < 2:
        return para("Too few held-out normal rows to compare with PCA.", "note")
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
        para(
            f"Reconstruction of {r['test_rows']} held-out normal rows at code size {r['code_size']}: the "
            f"autoencoder against PCA fitted on {r['train_rows']} training rows in the bundle's scaled space. "
            f"{sp.how}."
        )
        + table(["method", "MSE (raw units)", "MSE (scaled)", "explained variance (scaled)"], rows)
        + para(f"AE / PCA scaled MSE = {r['mse_ratio_ae_to_pca']:.3f}: the {r['winner']} reconstructs better.")
    )
