"""Sections that describe what the bundle records: model card, loss curves, parity, threshold, variant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._context import ReportContext
from ._markup import esc, figure, kv, para, pyplot, table

__all__ = ["model_section", "parity_section", "threshold_section", "training_section", "variant_section"]


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


def _model_rows(m: dict[str, Any], n_params: int | None, how: str, d: int, k: int) -> list[tuple[str, Any]]:
    """The "Model" key-value rows: kind, shapes, parameters, score, scaler and provenance."""
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
    return rows


def _run_info(m: dict[str, Any]) -> str:
    """The "Training data and run" table, or "" when the manifest records neither."""
    ds = m.get("dataset") or {}
    tr = m.get("training") or {}
    if not (ds or tr):
        return ""
    info = [(f"data: {k}", v) for k, v in ds.items()]
    info += [(k, tr[k]) for k in ("epochs_run", "best_epoch", "best_val_loss", "train_seconds", "device") if k in tr]
    tc = tr.get("train_config") or {}
    info += [
        (f"train: {k}", tc[k])
        for k in ("epochs", "batch_size", "lr", "patience", "val_fraction", "seed", "scaler")
        if k in tc
    ]
    if tr.get("model_report"):
        info += [(f"model report: {k}", v) for k, v in tr["model_report"].items()]
    return "<h3>Training data and run</h3>" + kv(info)


def model_section(ctx: ReportContext) -> str:
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
    left = "<h3>Model</h3>" + kv(_model_rows(m, n_params, how, d, k))
    middle = "<h3>Model configuration</h3>" + kv(list(m["model"].get("config", {}).items()))
    middle += "<h3>Files</h3>" + table(["file", "size"], sizes)
    right = _run_info(m)
    return f'<div class="wide">{left}</div><div class="cols"><div>{middle}</div><div>{right}</div></div>'


def _loss_figure(ctx: ReportContext, hist: list[dict[str, Any]]) -> str:
    """The training and validation loss curves of the per-epoch ``hist``, log-scaled when they span > 20x."""
    plt = pyplot()
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
    return figure(ctx, "loss_curves", fig, f"training and validation loss over {len(hist)} epochs")


def training_section(ctx: ReportContext) -> str | None:
    hist = (ctx.manifest.get("training") or {}).get("history") or []
    if not hist:
        return para(
            "This bundle records no per-epoch history (it was exported before aeexport recorded it, or "
            "from a checkpoint without it); re-train and re-export to see the loss curves.",
            "note",
        )
    return _loss_figure(ctx, hist)


def parity_section(ctx: ReportContext) -> str | None:
    par = ctx.manifest.get("parity") or {}
    if par.get("kind") == "decision" or "rows" not in par:
        return para("This bundle is a variant: its parity is decision-level, against its parent (below).", "note")
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
        f"<details><summary>{esc(head)} Show the table.</summary>"
        + table(["check", "batch", "max abs", "max rel", "result"], rows)
        + "</details>"
    )


def threshold_section(ctx: ReportContext) -> str | None:
    t = ctx.manifest["threshold"]
    rows: list[tuple[str, Any]] = [
        ("threshold", t["value"]),
        ("method", t.get("method")),
        ("parameters", t.get("params", {})),
        ("expected false-positive rate", t.get("expected_false_positive_rate")),
        ("calibration rows", t.get("calibration_rows")),
    ]
    rows += [(f"calibration {k}", v) for k, v in (t.get("stats") or {}).items()]
    out = kv(rows)
    if ctx.scores is None:
        return out
    plt = pyplot()
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
    out += para(f"{flagged:.1%} of the {s.size} rows score above the threshold.")
    fig_html = figure(ctx, "score_distribution", fig, "score distribution of the DATA rows with the threshold")
    return f'<div class="cols"><div>{out}</div><div>{fig_html}</div></div>'


def variant_section(ctx: ReportContext) -> str | None:
    v = ctx.manifest.get("variant")
    if not v:
        return None
    report = ctx.manifest.get("parity") or {}
    where = f"stored at export ({(report.get('data') or {}).get('source', 'rows from the scaler statistics')})"
    if ctx.parent is not None and ctx.X is not None:
        from ..variants import verify_variant

        report = verify_variant(ctx.bundle, parent=ctx.parent, X=ctx.X, y=ctx.y, data_source=ctx.data)
        where = f"re-measured on the DATA rows against {ctx.parent}"
    out = kv(
        [
            ("variant kind", v.get("kind")),
            ("description", v.get("description")),
            ("tool", v.get("tool")),
            ("parent bundle id", v.get("parent_bundle_id")),
            ("parent path", v.get("parent_path")),
        ]
    )
    if "checks" not in report:
        return out + para("The manifest holds no decision-level report.", "note")
    rows = [[c["check"], c["value"], c["limit"], "ok" if c["ok"] else "FAIL"] for c in report["checks"]]
    out += para(
        f"Decision-level parity against the parent, {where}: "
        f"{'ok' if report.get('ok') else 'FAIL'} on {report['metrics']['rows']} rows."
    )
    out += table(["check", "value", "limit", "result"], rows)
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
    return out + kv(extra)
