"""The report page: the section registry in page order, the HTML around it, and writing it to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aeruntime.errors import InvalidInputError

from ._card import model_section, parity_section, threshold_section, training_section, variant_section
from ._context import ReportContext, Section, image_shape_of
from ._markup import esc, para, pyplot
from ._measured import anomalies_section, detection_section, latent_section, pca_section, reconstruction_section

__all__ = ["SECTIONS", "build_report", "write_report"]

#: the report's sections, in page order (add one by appending a Section)
SECTIONS: list[Section] = [
    Section("model", "Model card", model_section),
    Section("training", "Training and validation loss", training_section),
    Section("parity", "Parity (ONNX vs torch)", parity_section),
    Section("threshold", "Threshold and score distribution", threshold_section),
    Section("detection", "Detection on labelled data", detection_section, "DATA with labels of both classes"),
    Section("latent", "Latent space", latent_section, "DATA"),
    Section("reconstructions", "Originals and reconstructions", reconstruction_section, "DATA and an image bundle"),
    Section("anomalies", "What drives the top anomalies", anomalies_section, "DATA"),
    Section("pca", "Autoencoder vs PCA", pca_section, "DATA"),
    Section("variant", "Variant vs parent (decision level)", variant_section, "a variant bundle"),
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
        toc.append(f'<a href="#{esc(sec.key)}">{esc(sec.title)}</a>')
        parts.append(f'<section id="{esc(sec.key)}"><h2>{esc(sec.title)}</h2>{body}</section>')
    if ctx.data is None:
        intro = para(
            "No DATA was given: this report shows what the manifest records. Sections that need rows "
            "(score distribution, detection, latent space, reconstructions, anomalies, PCA) are left out; "
            "run `aeexport report BUNDLE DATA --out report.html` to add them.",
            "note",
        )
    else:
        intro = para(
            f"DATA {ctx.data!r}; rows: {ctx.rows_from}. Scores from aeruntime (the deployed ONNX graphs); "
            "higher = more anomalous, flagged when score > threshold."
        )
    if ctx.skipped:
        intro += para("Left out: " + "; ".join(f"{t} (needs {w})" for t, w in ctx.skipped) + ".", "note")
    created = ctx.manifest.get("created", "")
    tiles = "".join(f"<div><b>{esc(v)}</b><span>{esc(k)}</span></div>" for k, v in ctx.headline.items())
    intro = f'<div class="headline">{tiles}</div>' + intro
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(_title(ctx))}</title>'
        f"<style>{_CSS}</style></head><body><header><h1>{esc(_title(ctx))}</h1>"
        f"<p>bundle {esc(ctx.bundle)} · id {esc(ctx.manifest.get('bundle_id', ''))} · created {esc(created)}</p>"
        f"</header><main><nav>{''.join(toc)}</nav>{intro}{''.join(parts)}</main></body></html>\n"
    )


def _load_rows(
    ctx: ReportContext, data: str, label_column: str | None, anomaly_class: int | None, header: bool | None
) -> None:
    from ..data import binary_labels, is_binary, load_dataset
    from ._compare import bundle_split

    shape = tuple(ctx.model.input_shape)
    split = bundle_split(
        ctx.manifest, data, shape, label_column=label_column, anomaly_class=anomaly_class, header=header
    )
    ctx.split = split
    if split.exact:
        ctx.X, ctx.y, ctx.rows_from = split.heldout, split.y_heldout, split.how
    else:
        ds = load_dataset(data, label_column=label_column, header=header)
        ac = anomaly_class
        if ac is None and (ctx.manifest.get("dataset") or {}).get("source") == ds.name:
            ac = ctx.manifest["dataset"].get("anomaly_class")
        ctx.X = ds.X.reshape(len(ds.X), *shape)
        unlabelled = ds.y is None or (ac is None and not is_binary(ds.y))  # described without labels
        ctx.y = None if unlabelled else binary_labels(ds.y, ac, require_class=False)
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
    header: bool | None = None,
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
    header : a CSV's first line is a header (True), data (False) or decided (None)

    Returns
    -------
    dict with ``out``, ``sections`` (ids written), ``figures`` (names embedded), ``skipped``.
    """
    import aeruntime
    from aeruntime.fs import atomic_write_bytes

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InvalidInputError(f"--out {str(out)!r}: expected a file name ending in .html.")
    pyplot()
    model = aeruntime.load(bundle, providers=providers)
    manifest = model.manifest
    ctx = ReportContext(
        bundle=Path(bundle), model=model, manifest=manifest, data=data, image_shape=image_shape_of(manifest)
    )
    if manifest.get("variant"):
        p = Path(parent) if parent else Path(bundle) / manifest["variant"].get("parent_path", "")
        ctx.parent = p if (p / "manifest.json").is_file() else None
    if data is not None:
        _load_rows(ctx, data, label_column, anomaly_class, header)
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
