"""``aeexport``: train, export, verify and inspect autoencoder bundles.

Thin click commands over the library; heavy imports (torch, onnx) happen inside
the commands so ``aeexport --help`` is instant.
"""

from __future__ import annotations

from typing import Any

import click
from aeruntime.clibase import AeGroup, echo_json

from .calibrate import DEFAULT_PERCENTILE

# Read without importing torch: the registry module imports torch, so the kind
# names are listed here and checked against the registry by a test.
MODEL_KINDS = ["dense", "conv", "sparse", "denoising", "vae", "ensemble"]  # ensemble: issue 11 (quality)


def _train_options(f: Any) -> Any:
    opts = [
        click.option("--model", "kind", type=click.Choice(MODEL_KINDS), default="dense", show_default=True,
                     help="Model kind from the registry."),
        click.option("--epochs", type=click.IntRange(min=1), default=300, show_default=True,
                     help="Upper bound; early stopping usually ends sooner."),
        click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True),
        click.option("--patience", type=click.IntRange(min=1), default=20, show_default=True),
        click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True),
                     default=0.15, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
        click.option("--scaler", type=click.Choice(["standard", "minmax", "robust", "none"]), default="standard",
                     show_default=True, help="minmax scales to [0, 1] and uses a sigmoid output; robust: median / IQR "
                          "(the tabular preset's)."),
        click.option("--latent-dim", type=click.IntRange(min=1), default=None, help="Default: from the input width."),
        click.option("--hidden", default=None, help="Encoder hidden widths, e.g. 32 or 128,64 (decoder mirrors)."),
        click.option("--option", "-o", "model_option", multiple=True, metavar="KEY=VALUE",
                     help="Model option of the kind's config, repeatable; VALUE is JSON or a string, e.g. "
                          "-o penalty=kl -o rho=0.05, -o noise=masking, -o score=neg_elbo, -o channels=[8,16]."),
        click.option("--label-column", default=None, help="CSV: name of a label column (1 = anomaly)."),
        # --- issue 11 (quality): --preset auto is the default; aeexport.tabular decides ---
        click.option("--preset", type=click.Choice(["auto", "default", "tabular", "tabular-v1"]), default="auto",
                     show_default=True,
                     help="auto: 'tabular' for rows of features (.csv/.npy/.npz), 'default' for images or an "
                          "explicit --model. tabular: the tabular anomaly-detection defaults (dense; see "
                          "aeexport.tabular): robust (median/IQR) scaling, hidden [64, 32], latent 8, dropout "
                          "0.2, a loss that leaves each batch's worst 35% of rows out, <= 60 epochs; tabular-v1: "
                          "the preset before (standard scaling, 20% left out). "
                          "Options given explicitly still win."),
        # --- end issue 11 ---
        click.option("--threads", type=click.IntRange(min=0), default=1, show_default=True,
                     help="torch threads while training (0 = torch's default; 1 is fastest for small models)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _configs(kind: str, epochs: int, batch_size: int, lr: float, patience: int, val_fraction: float, seed: int,
             device: str, scaler: str, latent_dim: int | None, hidden: str | None, threads: int,
             quiet: bool, model_option: tuple[str, ...] = ()) -> tuple[Any, dict]:
    from .train import TrainConfig

    options: dict[str, Any] = _parse_model_options(model_option)
    if latent_dim is not None:
        options["latent_dim"] = latent_dim
    if hidden is not None:
        try:
            options["hidden"] = [int(h) for h in hidden.split(",") if h.strip()]
        except ValueError:
            raise click.BadParameter(f"expected comma-separated integers such as 128,64, got {hidden!r}",
                                     param_hint="--hidden") from None
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, val_fraction=val_fraction,
                      seed=seed, device=device, scaler=scaler, progress=not quiet, threads=threads)
    return cfg, options


def _parse_model_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("beta=0.5", "noise=masking")`` -> ``{"beta": 0.5, "noise": "masking"}`` (values parsed as JSON if they can be)."""
    import json

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--option")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def _explicit() -> frozenset[str]:
    """Names of the options the user gave on the command line (not defaults)."""
    ctx = click.get_current_context()
    return frozenset(name for name in ctx.params
                     if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT)


@click.group(cls=AeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="aeexport")
def main(debug: bool) -> None:
    """Train autoencoders and export them as ONNX bundles for aeruntime and any ONNX runtime."""


@main.command()
@click.argument("data")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Checkpoint directory to write.")
@_train_options
def train(data: str, out: str, kind: str, label_column: str | None, preset: str, **kw: Any) -> None:
    """Train on DATA ('digits', .npy, .npz or .csv) and write a checkpoint (safetensors + JSON).

    With labels (npz 'y' or --label-column, 1 = anomaly) only normal rows are used.
    """
    from .checkpoint import save_checkpoint
    from .data import as_model_input, binary_labels, load_dataset, make_split
    from .models import get_spec
    from .train import train_model

    cfg, options = _configs(kind, **kw)
    ds = load_dataset(data, label_column=label_column)
    y = None
    if ds.y is not None and ds.name != "digits":
        y = binary_labels(ds.y)
    X = as_model_input(ds.X, get_spec(kind).input_rank, ds.image_shape)
    split = make_split(X, y, val_fraction=cfg.val_fraction, seed=cfg.seed)
    from .tabular import apply_preset, is_image_data

    cfg, options = apply_preset(preset, kind, cfg, options, len(split.train), int(X[0].size), _explicit(),
                                image=is_image_data(ds))  # issue 11: --preset auto
    result = train_model(split.train, split.val, kind=kind, model_options=options, config=cfg)
    save_checkpoint(out, result.model, holdout=split.val, summary=result.summary(),
                    dataset={"source": ds.name, "rows": len(X)})
    click.echo(f"trained {kind} on {len(split.train)} rows: {len(result.history)} epochs, best val loss "
               f"{result.best_val_loss:.5f} at epoch {result.best_epoch} ({result.seconds:.1f}s) -> {out}")
    if result.model_report:
        click.echo("model      " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                             for k, v in result.model_report.items()))


@main.command()
@click.argument("checkpoint", type=click.Path(file_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Bundle directory to write.")
@click.option("--percentile", type=click.FloatRange(0, 100, min_open=True, max_open=True),
              default=DEFAULT_PERCENTILE, show_default=True,
              help="Threshold = this percentile of held-out normal scores.")
@click.option("--threshold", type=float, default=None, help="A fixed threshold instead of calibrating one.")
@click.option("--score", type=click.Choice(["mse", "mae"]), default="mse", show_default=True,
              help="Score definition: mean squared or mean absolute reconstruction error (scaled space).")
@click.option("--threshold-method", type=click.Choice(["percentile", "contamination", "target_fpr"]),
              default="percentile", show_default=True,
              help="How to calibrate on the held-out normal rows (f1 needs labels: library only).")
@click.option("--threshold-param", type=float, default=None,
              help="The method's parameter: percentile (95), contamination share (0.05) or target FPR (0.05).")
@click.option("--verbose", is_flag=True, help="Show the ONNX exporter's own output.")
@click.option("--json", "as_json", is_flag=True, help="Print the parity report as JSON.")
def export(checkpoint: str, out: str, percentile: float, threshold: float | None, verbose: bool,
           as_json: bool, score: str = "mse", threshold_method: str = "percentile",
           threshold_param: float | None = None) -> None:
    """Export CHECKPOINT as a bundle: encoder/decoder/scorer ONNX, manifest, golden vectors."""
    from .checkpoint import load_checkpoint
    from .export import export_bundle
    from .parity import format_table

    model, config, holdout = load_checkpoint(checkpoint)
    if len(holdout) == 0:
        raise click.UsageError("the checkpoint holds no held-out rows to calibrate the threshold on; re-train it.")
    manifest = export_bundle(model, out, calibration_x=holdout, percentile=percentile, threshold=threshold,
                             training=config.get("training"), dataset=config.get("dataset"), verbose=verbose,
                             score=score, threshold_method=threshold_method, threshold_param=threshold_param)
    if as_json:
        echo_json(manifest["parity"])
    else:
        click.echo(format_table(manifest["parity"]))
        click.echo(f"exported {manifest['model']['kind']} bundle -> {out} "
                   f"(threshold {manifest['threshold']['value']:.6g})")


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option("--data", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Real rows (.npy/.npz/.csv) to test on; default: rows drawn from the scaler statistics.")
@click.option("--atol", type=float, default=None, help="Absolute tolerance (default: the bundle's).")
@click.option("--rtol", type=float, default=None, help="Relative tolerance (default: the bundle's).")
@click.option("--parent", type=click.Path(file_okay=False, exists=True), default=None,
              help="Variant bundles: the fp32 parent (default: the path recorded in the manifest).")
@click.option("--label-column", default=None, help="CSV --data: label column (1 = anomaly) for ROC-AUC.")
@click.option("--anomaly-class", type=int, default=None, help="--data labels: the class treated as anomalies.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(bundle: str, data: str | None, atol: float | None, rtol: float | None, parent: str | None,
           label_column: str | None, anomaly_class: int | None, as_json: bool) -> None:
    """Re-measure BUNDLE's parity (torch vs onnxruntime) and golden vectors; exit 1 on a violation.

    For a variant bundle (int8, fp16, ORT format): decision-level parity against its parent
    at the tolerance stated in its manifest.
    """
    from aeruntime.bundle import read_manifest
    from aeruntime.io import read_table

    from .parity import Tolerance, format_table

    if "variant" in read_manifest(bundle):
        from .decision import format_decision_table
        from .variants import verify_variant

        X, y = _read_labelled(data, label_column, anomaly_class)
        report = verify_variant(bundle, parent=parent, X=X, y=y, data_source=data)
        if as_json:
            echo_json(report)
        else:
            click.echo(format_decision_table(report))
        if not report["ok"]:
            click.echo("Error: the variant breaks its stated decision-level tolerance against its parent.", err=True)
            raise SystemExit(1)
        return

    from .verify import verify_bundle

    X = read_table(data)[0] if data else None
    tol = None
    if atol is not None or rtol is not None:
        tol = Tolerance(atol=1e-5 if atol is None else atol, rtol=1e-4 if rtol is None else rtol)
    report = verify_bundle(bundle, X=X, tol=tol)
    if as_json:
        echo_json(report)
    else:
        click.echo(format_table(report))
    if not report["ok"]:
        click.echo("Error: parity violation: onnxruntime differs from torch beyond the tolerance.", err=True)
        raise SystemExit(1)


def _read_labelled(data: str | None, label_column: str | None, anomaly_class: int | None) -> tuple[Any, Any]:
    """Rows and optional binary labels (1 = anomaly) from --data."""
    if data is None:
        return None, None
    from aeruntime.io import read_table

    from .data import binary_labels

    X, y = read_table(data, label_column=label_column)
    if y is not None:
        y = binary_labels(y, anomaly_class)
    return X, y


def _variant_options(f: Any) -> Any:
    opts = [
        click.option("--out", type=click.Path(file_okay=False), default=None,
                     help="Variant bundle directory (default: BUNDLE-<kind> beside BUNDLE)."),
        click.option("--data", type=click.Path(dir_okay=False, exists=True), default=None,
                     help="Real rows (.npy/.npz/.csv, optional labels) for calibration and the decision-level "
                          "report; default: rows drawn from the bundle's scaler statistics."),
        click.option("--label-column", default=None, help="CSV --data: label column (1 = anomaly)."),
        click.option("--anomaly-class", type=int, default=None, help="--data labels: the class treated as anomalies."),
        click.option("--json", "as_json", is_flag=True, help="Print the decision-level report as JSON."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _make_variant(bundle: str, kind: str, out: str | None, data: str | None, label_column: str | None,
                  anomaly_class: int | None, as_json: bool) -> None:
    from .decision import format_decision_table
    from .variants import default_out, make_variant

    X, y = _read_labelled(data, label_column, anomaly_class)
    m = make_variant(bundle, kind, out, X=X, y=y, data_source=data)
    if as_json:
        echo_json(m["parity"])
    else:
        click.echo(format_decision_table(m["parity"]))
        click.echo(f"wrote {kind} variant -> {out or default_out(bundle, kind)} "
                   f"(threshold {m['threshold']['value']:.6g}, {m['threshold']['method']})")
    if not m["parity"]["ok"]:
        click.echo(f"Error: the {kind} variant misses its decision-level tolerance (written, but verify fails).",
                   err=True)
        raise SystemExit(1)


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option("--int8", "int8", type=click.Choice(["dynamic", "static"]), default=None,
              help="int8 weights; static = QDQ with activation ranges calibrated on rows.")
@click.option("--fp16", is_flag=True, help="float16 weights and arithmetic, float32 inputs/outputs.")
@_variant_options
def quantize(bundle: str, int8: str | None, fp16: bool, **kw: Any) -> None:
    """Write a reduced-precision variant of BUNDLE with its decision-level parity report."""
    if (int8 is None) == (not fp16):
        raise click.UsageError("pass exactly one of --int8 dynamic|static or --fp16.")
    _make_variant(bundle, f"int8-{int8}" if int8 else "fp16", **kw)


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option("--ort-format", is_flag=True, help="onnxruntime's ORT format + required_operators.config.")
@_variant_options
def optimize(bundle: str, ort_format: bool, **kw: Any) -> None:
    """Write BUNDLE in onnxruntime's ORT format (minimal/mobile builds) as a variant bundle."""
    if not ort_format:
        raise click.UsageError("pass --ort-format (the only optimization offered so far).")
    _make_variant(bundle, "ort", **kw)


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def inspect(bundle: str, as_json: bool) -> None:
    """Describe BUNDLE from its manifest (no torch needed)."""
    from aeruntime.bundle import read_manifest

    m = read_manifest(bundle)
    if as_json:
        echo_json(m)
        return
    thr = m["threshold"]
    rows = [
        ("bundle", f"{bundle} (format {m['format_version']}, id {m['bundle_id']})"),
        ("model", f"{m['model']['kind']}  {m['model'].get('config', {})}"),
        ("input", f"{m['input']['name']} (batch, {', '.join(map(str, m['input']['shape']))}) {m['input']['dtype']}"),
        ("latent", f"{m['latent']['name']} (batch, {', '.join(map(str, m['latent']['shape']))})"),
        ("graphs", ", ".join(f"{r}: {g['inputs']} -> {g['outputs']}" for r, g in m["graphs"].items())),
        ("score", f"{m['score']['name']} ({m['score']['direction']})"),
        ("threshold", f"{thr['value']:.6g} ({thr['method']} {thr.get('params', {})})"),
        ("parity", f"{'ok' if m.get('parity', {}).get('ok') else 'FAIL'}, max abs "
                   f"{m.get('parity', {}).get('max_abs', float('nan')):.3e}"),
        ("producer", ", ".join(f"{k} {v}" for k, v in m.get("producer", {}).items())),
    ]
    for k, v in rows:
        click.echo(f"{k:<10} {v}")


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.argument("data", type=click.Path(dir_okay=False, exists=True))
@click.option("--label-column", default=None, help="CSV: name of the label column (1 = anomaly, 0 = normal).")
@click.option("--threshold", type=float, default=None, help="Override the bundle's stored threshold.")
@click.option("--plot", "plot", type=click.Path(dir_okay=False), default=None,
              help="Write a PNG: score histograms (normal vs anomalous, threshold line) and the ROC curve.")
@click.option("--providers", default="cpu", show_default=True, help="aeruntime providers: cpu, cuda or auto.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def evaluate(bundle: str, data: str, label_column: str | None, threshold: float | None, plot: str | None,
             providers: str, as_json: bool) -> None:
    """Score labelled DATA (.npz with X, y or .csv with --label-column) with BUNDLE through aeruntime and
    report ROC-AUC, average precision and precision / recall / F1 at the threshold."""
    from .evaluate import evaluate_bundle, format_report, plot_evaluation

    report, scores, y = evaluate_bundle(bundle, data, label_column=label_column, threshold=threshold,
                                        providers=providers)
    if plot:
        report["plot"] = str(plot_evaluation(scores, y, report["threshold"], plot, title=f"{bundle} on {data}"))
    if as_json:
        echo_json(report)
        return
    click.echo(format_report(report))
    if plot:
        click.echo(f"plot       {plot}")


@main.command()
@click.option("--dataset", default="digits", show_default=True, help="'digits' or a .npy/.npz/.csv file.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Output directory: checkpoint/, bundle/, test_scores.npz, summary.json.")
@click.option("--bundle", "bundle", type=click.Path(file_okay=False), default=None,
              help="Write the bundle here instead of OUT/bundle (e.g. models/digits-dense).")
@click.option("--anomaly-class", type=int, default=None,
              help="Labelled data with classes: the class treated as unseen anomalies (digits default: 0).")
@click.option("--percentile", type=click.FloatRange(0, 100, min_open=True, max_open=True),
              default=DEFAULT_PERCENTILE, show_default=True)
@click.option("--verbose", is_flag=True, help="Show the ONNX exporter's own output.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_train_options
def run(dataset: str, out: str, bundle: str | None, anomaly_class: int | None, percentile: float, verbose: bool, as_json: bool,
        kind: str, label_column: str | None, preset: str, **kw: Any) -> None:
    """The main job: train -> export -> verify -> score held-out data, then a summary."""
    from .pipeline import run_pipeline

    cfg, options = _configs(kind, **kw)
    s = run_pipeline(dataset, out, kind=kind, anomaly_class=anomaly_class, label_column=label_column,
                     model_options=options, train_config=cfg, percentile=percentile, verbose=verbose,
                     bundle=bundle, preset=preset, explicit=_explicit())
    if as_json:
        echo_json(s)
        return
    r = s["rows"]
    click.echo(f"dataset    {s['dataset']}: {r['rows']} rows -> train {r['train_rows']}, val {r['val_rows']}, "
               f"test {r['test_rows']}" + (f" (class {r['anomaly_class']} = anomaly)" if r.get("anomaly_class")
                                           is not None else ""))
    click.echo(f"model      {s['model']}, {s['epochs_run']} epochs (best {s['best_epoch']})")
    if s.get("model_report"):
        click.echo("           " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                             for k, v in s["model_report"].items()))
    click.echo(f"threshold  {s['threshold']:.6g} ({s['threshold_method']})")
    click.echo(f"parity     ok, max abs diff {s['parity_max_abs']:.2e}")
    if "test_anomaly_rate" in s:
        line = f"test       flagged {s['test_anomaly_rate']:.1%}"
        if "roc_auc" in s:
            line += (f" (true anomalies {s['test_true_anomaly_share']:.1%}); ROC-AUC {s['roc_auc']:.3f}, "
                     f"AP {s['average_precision']:.3f}, recall {s['recall']:.1%}, FPR {s['false_positive_rate']:.1%}")
        click.echo(line)
    click.echo(f"time       {s['seconds']:.1f}s -> {s['bundle']}")


if __name__ == "__main__":  # pragma: no cover
    main()
