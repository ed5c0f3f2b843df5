"""``aeexport``: train, export, verify and inspect autoencoder bundles.

Thin click commands over the library; heavy imports (torch, onnx) happen inside
the commands so ``aeexport --help`` is instant.
"""

from __future__ import annotations

from typing import Any

import click

from aeruntime.clibase import DEFAULT_PROVIDERS, PROVIDER_CHOICES, AeGroup, echo_json

from .calibrate import CALIBRATORS, DEFAULT_PERCENTILE
from .config import DEVICES, MODEL_KINDS, PRESETS, SCALERS, default
from .options import label_options


def _stack(f: Any, options: list[Any]) -> Any:
    """Apply click option decorators in list order (the first is the first in --help)."""
    for opt in reversed(options):
        f = opt(f)
    return f


#: threshold methods that need labelled calibration rows (library only, not offered on the command line)
_LABELLED_METHODS = frozenset({"f1"})


class _LazyChoice(click.Choice):
    """A ``click.Choice`` whose choices come from a registry read on first use (it may import torch)."""

    def __init__(self, load: Any) -> None:
        self._load = load
        super().__init__([])

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        return tuple(self._load())

    @choices.setter
    def choices(self, value: Any) -> None:
        pass


def _score_names() -> list[str]:
    from .export import SCORE_DEFINITIONS

    return list(SCORE_DEFINITIONS)


def _train_options(f: Any) -> Any:
    opts = [
        click.option(
            "--model",
            "kind",
            type=click.Choice(MODEL_KINDS),
            default="dense",
            show_default=True,
            help="Model kind from the registry.",
        ),
        click.option(
            "--epochs",
            type=click.IntRange(min=1),
            default=default("epochs"),
            show_default=True,
            help="Upper bound; early stopping usually ends sooner.",
        ),
        click.option("--batch-size", type=click.IntRange(min=1), default=default("batch_size"), show_default=True),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=default("lr"), show_default=True),
        click.option("--patience", type=click.IntRange(min=1), default=default("patience"), show_default=True),
        click.option(
            "--val-fraction",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=default("val_fraction"),
            show_default=True,
            help="Share of (normal) rows held out for early stopping and the threshold.",
        ),
        click.option("--seed", type=int, default=default("seed"), show_default=True),
        click.option(
            "--members",
            type=click.IntRange(min=1),
            default=default("members"),
            show_default=True,
            help="Dense models trained with seeds seed, seed+1, ... and scored by the mean of their scores, "
            "in one ensemble graph (more accurate, slower to train and score).",
        ),
        click.option("--device", type=click.Choice(DEVICES), default=default("device"), show_default=True),
        click.option(
            "--scaler",
            type=click.Choice(list(SCALERS)),
            default=default("scaler"),
            show_default=True,
            help="minmax scales to [0, 1] and uses a sigmoid output; robust: median / IQR (the tabular preset's).",
        ),
        click.option("--latent-dim", type=click.IntRange(min=1), default=None, help="Default: from the input width."),
        click.option("--hidden", default=None, help="Encoder hidden widths, e.g. 32 or 128,64 (decoder mirrors)."),
        click.option(
            "--option",
            "-o",
            "model_option",
            multiple=True,
            metavar="KEY=VALUE",
            help="Model option of the kind's config, repeatable; VALUE is JSON or a string, e.g. "
            "-o penalty=kl -o rho=0.05, -o noise=masking, -o score=neg_elbo, -o channels=[8,16].",
        ),
        label_options("DATA", "the class held out of training as the anomaly"),
        click.option(
            "--preset",
            type=click.Choice(PRESETS),
            default="auto",
            show_default=True,
            help="auto: 'tabular' for rows of features (.csv/.npy/.npz/.parquet), 'default' for images or "
            "an explicit --model. tabular: the tabular anomaly-detection defaults (dense; see "
            "aeexport.tabular): robust (median/IQR; std on dispersed features) scaling, hidden [128, 64], "
            "latent 8, dropout 0.2, a loss that leaves each batch's worst 35% of rows out, <= 60 "
            "epochs; tabular-v3: the same with hidden [64, 32]; tabular-v2: tabular-v3 with median/IQR "
            "on every feature; tabular-v1: the preset before issue 11 (standard scaling, [64, 32], 20% left out). "
            "Options given explicitly still win.",
        ),
        click.option(
            "--threads",
            type=click.IntRange(min=0),
            default=default("threads"),
            show_default=True,
            help="torch threads while training (0 = torch's default; 1 is fastest for small models).",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ]
    return _stack(f, opts)


def _configs(
    kind: str,
    epochs: int,
    batch_size: int,
    lr: float,
    patience: int,
    val_fraction: float,
    seed: int,
    members: int,
    device: str,
    scaler: str,
    latent_dim: int | None,
    hidden: str | None,
    threads: int,
    quiet: bool,
    model_option: tuple[str, ...] = (),
) -> tuple[Any, dict]:
    from .train import TrainConfig

    options: dict[str, Any] = _parse_model_options(model_option)
    if latent_dim is not None:
        options["latent_dim"] = latent_dim
    if hidden is not None:
        try:
            options["hidden"] = [int(h) for h in hidden.split(",") if h.strip()]
        except ValueError:
            raise click.BadParameter(
                f"expected comma-separated integers such as 128,64, got {hidden!r}", param_hint="--hidden"
            ) from None
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        patience=patience,
        val_fraction=val_fraction,
        seed=seed,
        members=members,
        device=device,
        scaler=scaler,
        progress=not quiet,
        threads=threads,
    )
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
    return frozenset(
        name for name in ctx.params if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    )


@click.group(cls=AeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="aeexport")
def main(debug: bool) -> None:
    """Train autoencoders and export them as ONNX bundles for aeruntime and any ONNX runtime."""


def _threshold_options(f: Any) -> Any:
    methods = [m for m in CALIBRATORS if m not in _LABELLED_METHODS]
    opts = [
        click.option(
            "--percentile",
            type=click.FloatRange(0, 100, min_open=True, max_open=True),
            default=None,
            help=f"Threshold = this percentile of held-out normal scores [default: {DEFAULT_PERCENTILE:g}]; "
            "the same as --threshold-method percentile --threshold-param P.",
        ),
        click.option("--threshold", type=float, default=None, help="A fixed threshold instead of calibrating one."),
        click.option(
            "--score",
            type=_LazyChoice(_score_names),
            default="mse",
            show_default=True,
            help="Score definition: mean squared or mean absolute reconstruction error (scaled space).",
        ),
        click.option(
            "--threshold-method",
            type=click.Choice(methods),
            default="percentile",
            show_default=True,
            help="How to calibrate on the held-out normal rows (f1 needs labels: library only).",
        ),
        click.option(
            "--threshold-param",
            type=float,
            default=None,
            help="The method's parameter: percentile (95), contamination share (0.05) or target FPR (0.05).",
        ),
    ]
    return _stack(f, opts)


def _threshold_kwargs(
    percentile: float | None, threshold: float | None, threshold_method: str, threshold_param: float | None, score: str
) -> dict[str, Any]:
    """export_bundle's threshold arguments; contradictory options are a usage error (exit 2)."""
    if percentile is not None and threshold_param is not None:
        raise click.UsageError(
            "--percentile and --threshold-param both set the threshold's parameter; pass one "
            "(--percentile P is --threshold-method percentile --threshold-param P)."
        )
    if percentile is not None and threshold_method != "percentile":
        raise click.UsageError(
            f"--percentile applies to --threshold-method percentile, not {threshold_method}; "
            "pass --threshold-param for that method's parameter."
        )
    if threshold is not None and (
        percentile is not None or threshold_param is not None or threshold_method != "percentile"
    ):
        raise click.UsageError(
            "--threshold fixes the threshold, so it cannot be calibrated as well; drop "
            "--percentile / --threshold-method / --threshold-param, or drop --threshold."
        )
    return {
        "percentile": DEFAULT_PERCENTILE if percentile is None else percentile,
        "threshold": threshold,
        "threshold_method": threshold_method,
        "threshold_param": threshold_param,
        "score": score,
    }


def _threshold_text(section: dict[str, Any]) -> str:
    from .evaluate import describe_threshold

    return f"{section['value']:.6g} ({describe_threshold(section.get('method'), section.get('params'))})"


def _epoch_cap_note(cap: int, stopped_at_cap: bool) -> str | None:
    if not stopped_at_cap:
        return None
    return (
        f"training stopped at the epoch cap (--epochs {cap}) with the validation loss still improving; "
        "a larger --epochs may give a better model."
    )


def _model_text(kind: str, members: int) -> str:
    """'dense', or 'ensemble of 3 dense members' when ``members`` > 1."""
    return kind if members == 1 else f"{kind} of {members} dense members"


def _model_report_text(report: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items())


@main.command()
@click.argument("data")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Checkpoint directory to write.")
@_train_options
def train(
    data: str, out: str, kind: str, label_column: str | None, anomaly_class: int | None, preset: str, **kw: Any
) -> None:
    """Train on DATA ('digits', .npy, .npz, .csv or .parquet) and write a checkpoint (safetensors + JSON).

    With labels (npz 'y' or --label-column, 1 = anomaly; classes with --anomaly-class; digits:
    class 0) only normal rows are trained on, the same rule as `aeexport run`.
    """
    from .checkpoint import save_checkpoint
    from .data import anomaly_labels, as_model_input, load_dataset, make_split, warn_if_few_calibration_rows
    from .models import get_spec
    from .tabular import apply_preset, is_image_data
    from .train import train_model

    cfg, options = _configs(kind, **kw)
    ds = load_dataset(data, label_column=label_column)
    y, anomaly_class = anomaly_labels(ds, anomaly_class)
    X = as_model_input(ds.X, get_spec(kind).input_rank, ds.image_shape)
    split = make_split(X, y, val_fraction=cfg.val_fraction, seed=cfg.seed)
    cfg, options = apply_preset(
        preset, kind, cfg, options, len(split.train), int(X[0].size), _explicit(), image=is_image_data(ds)
    )
    warn_if_few_calibration_rows(len(split.val))
    result = train_model(split.train, split.val, kind=kind, model_options=options, config=cfg)
    dataset: dict[str, Any] = {
        "source": ds.name,
        "rows": len(X),
        "anomaly_class": anomaly_class,
        "train_rows": len(split.train),
        "val_rows": len(split.val),
    }
    if ds.feature_names:
        dataset["feature_names"] = list(ds.feature_names)
    save_checkpoint(out, result.model, holdout=split.val, summary=result.summary(), dataset=dataset)
    held_out = (
        ""
        if anomaly_class is None and y is None
        else f" (anomalies held out{f': class {anomaly_class}' if anomaly_class is not None else ''})"
    )
    click.echo(
        f"trained {_model_text(result.model.kind, cfg.members)} on {len(split.train)} rows{held_out}: "
        f"{len(result.history)} epochs{'' if cfg.members == 1 else ' (first member)'}, best val loss "
        f"{result.best_val_loss:.5f} at epoch {result.best_epoch} ({result.seconds:.1f}s) -> {out}"
    )
    if result.model_report:
        click.echo("model      " + _model_report_text(result.model_report))
    note = _epoch_cap_note(cfg.epochs, result.hit_epoch_cap)
    if note:
        click.echo("note       " + note)


@main.command()
@click.argument("checkpoint", type=click.Path(file_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Bundle directory to write.")
@_threshold_options
@click.option("--verbose", is_flag=True, help="Show the ONNX exporter's own output.")
@click.option("--json", "as_json", is_flag=True, help="Print the parity report as JSON.")
# --- format: slim export (aeexport/slim.py) ---
@click.option("--slim", is_flag=True, help="Runtime-only bundle: no weights.safetensors, no golden vectors.")
# --- end format ---
def export(
    checkpoint: str,
    out: str,
    percentile: float | None,
    threshold: float | None,
    verbose: bool,
    as_json: bool,
    score: str = "mse",
    threshold_method: str = "percentile",
    threshold_param: float | None = None,
    slim: bool = False,
) -> None:
    """Export CHECKPOINT as a bundle: encoder/decoder/scorer ONNX, manifest, golden vectors."""
    thr_kw = _threshold_kwargs(percentile, threshold, threshold_method, threshold_param, score)
    from .checkpoint import load_checkpoint
    from .data import warn_if_few_calibration_rows
    from .export import export_bundle
    from .parity import format_table

    model, config, holdout = load_checkpoint(checkpoint)
    if len(holdout) == 0:
        raise click.UsageError("the checkpoint holds no held-out rows to calibrate the threshold on; re-train it.")
    if threshold is None:
        warn_if_few_calibration_rows(len(holdout))
    dataset = config.get("dataset") or {}
    names = {"feature_names": dataset["feature_names"]} if dataset.get("feature_names") else {}
    manifest = export_bundle(
        model,
        out,
        calibration_x=holdout,
        training=config.get("training"),
        dataset=dataset,
        verbose=verbose,
        **thr_kw,
        **names,
        slim=slim,
    )
    if as_json:
        echo_json(manifest["parity"])
    else:
        click.echo(format_table(manifest["parity"]))
        click.echo(
            f"exported {manifest['model']['kind']} bundle -> {out} (threshold {_threshold_text(manifest['threshold'])})"
        )


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--data",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Real rows (.npy/.npz/.csv) to test on; default: rows drawn from the scaler statistics.",
)
@click.option("--atol", type=float, default=None, help="Absolute tolerance (default: the bundle's).")
@click.option("--rtol", type=float, default=None, help="Relative tolerance (default: the bundle's).")
@click.option(
    "--parent",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Variant bundles: the fp32 parent (default: the path recorded in the manifest).",
)
@label_options("--data")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(
    bundle: str,
    data: str | None,
    atol: float | None,
    rtol: float | None,
    parent: str | None,
    label_column: str | None,
    anomaly_class: int | None,
    as_json: bool,
) -> None:
    """Re-measure BUNDLE's parity (torch vs onnxruntime) and golden vectors; exit 1 on a violation.

    For a variant bundle (int8, fp16, ORT format): decision-level parity against its parent
    at the tolerance stated in its manifest.
    """
    from aeruntime.format import read_manifest

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

    X, _ = _read_labelled(data, label_column, anomaly_class)  # the label column is dropped, not scored
    tol = None
    if atol is not None or rtol is not None:
        tol = Tolerance(**{k: v for k, v in (("atol", atol), ("rtol", rtol)) if v is not None})
    report = verify_bundle(bundle, X=X, tol=tol)
    if as_json:
        echo_json(report)
    else:
        click.echo(format_table(report))
    # --- format: slim bundles (no weights): say that torch parity needs the full bundle ---
    if report.get("torch_parity") == "skipped":
        click.echo(f"Note: {report['note']}.", err=True)
    # --- end format ---
    if not report["ok"]:
        click.echo("Error: parity violation: onnxruntime differs from torch beyond the tolerance.", err=True)
        raise SystemExit(1)


def _read_labelled(data: str | None, label_column: str | None, anomaly_class: int | None) -> tuple[Any, Any]:
    """Rows and optional binary labels (1 = anomaly) from --data."""
    if data is None:
        return None, None
    from aeruntime.io import read_table

    from .data import binary_labels, check_label_column

    check_label_column(data, label_column)
    X, y = read_table(data, label_column=label_column)
    if y is not None:
        y = binary_labels(y, anomaly_class)
    return X, y


def _variant_options(f: Any) -> Any:
    opts = [
        click.option(
            "--out",
            type=click.Path(file_okay=False),
            default=None,
            help="Variant bundle directory (default: BUNDLE-<kind> beside BUNDLE).",
        ),
        click.option(
            "--data",
            type=click.Path(dir_okay=False, exists=True),
            default=None,
            help="Real rows (.npy/.npz/.csv, optional labels) for calibration and the decision-level "
            "report; default: rows drawn from the bundle's scaler statistics.",
        ),
        label_options("--data"),
        click.option("--json", "as_json", is_flag=True, help="Print the decision-level report as JSON."),
    ]
    return _stack(f, opts)


def _make_variant(
    bundle: str,
    kind: str,
    out: str | None,
    data: str | None,
    label_column: str | None,
    anomaly_class: int | None,
    as_json: bool,
) -> None:
    from .decision import format_decision_table
    from .variants import default_out, make_variant

    X, y = _read_labelled(data, label_column, anomaly_class)
    m = make_variant(bundle, kind, out, X=X, y=y, data_source=data)
    if as_json:
        echo_json(m["parity"])
    else:
        click.echo(format_decision_table(m["parity"]))
        click.echo(
            f"wrote {kind} variant -> {out or default_out(bundle, kind)} "
            f"(threshold {m['threshold']['value']:.6g}, {m['threshold']['method']})"
        )
    if not m["parity"]["ok"]:
        click.echo(
            f"Error: the {kind} variant misses its decision-level tolerance (written, but verify fails).", err=True
        )
        raise SystemExit(1)


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--int8",
    "int8",
    type=click.Choice(["dynamic", "static"]),
    default=None,
    help="int8 weights; static = QDQ with activation ranges calibrated on rows.",
)
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
    """Describe BUNDLE from its manifest (no torch needed); exit 1 when a listed file is missing.

    Inspect does not hash the files; `aeexport verify` and `aeruntime.load` do.
    """
    from pathlib import Path

    from aeruntime.errors import IntegrityError
    from aeruntime.format import read_manifest

    m = read_manifest(bundle)
    missing = sorted(name for name in m.get("files", {}) if not (Path(bundle) / name).is_file())
    if as_json:
        echo_json(m)
    else:
        for k, v in _inspect_rows(bundle, m):
            click.echo(f"{k:<10} {v}")
    if missing:
        raise IntegrityError(
            f"bundle not valid: {bundle} lacks {len(missing)} file(s) its manifest lists: "
            f"{', '.join(missing)}; re-export it or restore the files."
        )


def _inspect_rows(bundle: str, m: dict[str, Any]) -> list[tuple[str, str]]:
    """The manifest as (label, text) lines, without Python reprs."""
    cfg = m["model"].get("config", {})
    parity = m.get("parity", {})
    rows = [("bundle", f"{bundle} (format {m['format_version']}, id {m['bundle_id']})")]
    if "variant" in m:
        v = m["variant"]
        parent = f"{v.get('parent_path', '?')} (id {v.get('parent_bundle_id', '?')})"
        rows.append(("variant", f"{v.get('kind')} of {parent}: {v.get('description', '')}"))
    rows += [
        ("model", m["model"]["kind"] + (f": {_kv_text(cfg)}" if cfg else "")),
        ("input", f"{m['input']['name']} (batch, {', '.join(map(str, m['input']['shape']))}) {m['input']['dtype']}"),
    ]
    names = m["input"].get("feature_names")
    if names:
        shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
        rows.append(("features", shown))
    rows.append(("latent", f"{m['latent']['name']} (batch, {', '.join(map(str, m['latent']['shape']))})"))
    for role, g in m["graphs"].items():
        files = f"{role}: {g.get('file', role + '.onnx')}, {', '.join(g['inputs'])} -> {', '.join(g['outputs'])}"
        rows.append(("graph", files))
    rows += [
        ("score", f"{m['score']['name']} ({m['score']['direction'].replace('_', ' ')})"),
        ("threshold", _threshold_text(m["threshold"])),
        (
            "parity",
            (
                f"{'ok' if parity.get('ok') else 'FAIL'} (export time), max abs diff "
                f"{parity.get('max_abs', float('nan')):.3e}"
            ),
        ),
        ("producer", ", ".join(f"{k} {v}" for k, v in m.get("producer", {}).items())),
    ]
    return rows


def _kv_text(d: dict[str, Any]) -> str:
    """``{"hidden": [128, 64], "latent_dim": 16}`` -> ``hidden 128x64, latent_dim 16``."""

    def value(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            return "x".join(map(str, v)) if v else "none"
        if isinstance(v, dict):
            return "(" + _kv_text(v) + ")"
        return f"{v:g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k} {value(v)}" for k, v in d.items())


@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.argument("data", type=click.Path(dir_okay=False, exists=True))
@label_options("DATA")
@click.option("--threshold", type=float, default=None, help="Override the bundle's stored threshold.")
@click.option(
    "--plot",
    "plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a PNG: score histograms (normal vs anomalous, threshold line) and the ROC curve.",
)
@click.option(
    "--providers",
    type=click.Choice(PROVIDER_CHOICES),
    default=DEFAULT_PROVIDERS,
    show_default=True,
    help="aeruntime providers (the same default as `aeruntime score`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def evaluate(
    bundle: str,
    data: str,
    label_column: str | None,
    anomaly_class: int | None,
    threshold: float | None,
    plot: str | None,
    providers: str,
    as_json: bool,
) -> None:
    """Score labelled DATA (.npz with X, y or .csv with --label-column) with BUNDLE through aeruntime and
    report ROC-AUC, average precision and precision / recall / F1 at the threshold."""
    from .evaluate import evaluate_bundle, format_report, plot_evaluation

    report, scores, y = evaluate_bundle(
        bundle, data, label_column=label_column, threshold=threshold, providers=providers, anomaly_class=anomaly_class
    )
    if plot:
        report["plot"] = str(plot_evaluation(scores, y, report["threshold"], plot, title=f"{bundle} on {data}"))
    if as_json:
        echo_json(report)
        return
    click.echo(format_report(report))
    if plot:
        click.echo(f"plot       {plot}")


@main.command()
@click.argument("data", required=False, default=None)
@click.option("--dataset", default=None, hidden=True, help="Deprecated: pass DATA as the first argument.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output directory: checkpoint/, bundle/, test_scores.npz, summary.json.",
)
@click.option(
    "--bundle",
    "bundle",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the bundle here instead of OUT/bundle (e.g. models/digits-dense).",
)
@_threshold_options
@click.option(
    "--plot",
    "plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a PNG of the test split: score histograms with the threshold, and the ROC curve.",
)
@click.option("--verbose", is_flag=True, help="Show the ONNX exporter's own output.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_train_options
def run(
    data: str | None,
    dataset: str | None,
    out: str,
    bundle: str | None,
    percentile: float | None,
    threshold: float | None,
    score: str,
    threshold_method: str,
    threshold_param: float | None,
    plot: str | None,
    verbose: bool,
    as_json: bool,
    kind: str,
    label_column: str | None,
    anomaly_class: int | None,
    preset: str,
    **kw: Any,
) -> None:
    """The main job on DATA ('digits' by default, or a .npy/.npz/.csv/.parquet file): train -> export ->
    verify -> score the held-out test split, then a summary."""
    import warnings

    if dataset is not None:
        if data is not None:
            raise click.UsageError("pass the data once: as DATA (the first argument), not also as --dataset.")
        warnings.warn(
            f"--dataset is deprecated; pass the data as the first argument: aeexport run {dataset} ...",
            FutureWarning,
            stacklevel=1,
        )
        data = dataset
    thr_kw = _threshold_kwargs(percentile, threshold, threshold_method, threshold_param, score)
    from .pipeline import run_pipeline

    cfg, options = _configs(kind, **kw)
    s = run_pipeline(
        data or "digits",
        out,
        kind=kind,
        anomaly_class=anomaly_class,
        label_column=label_column,
        model_options=options,
        train_config=cfg,
        verbose=verbose,
        bundle=bundle,
        preset=preset,
        explicit=_explicit(),
        plot=plot,
        **thr_kw,
    )
    if as_json:
        echo_json(s)
        return
    for k, v in _run_rows(s):
        click.echo(f"{k:<10} {v}")


def _run_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """The run summary as (label, text) lines."""
    from .evaluate import describe_threshold

    r = s["rows"]
    rows = [
        (
            "dataset",
            f"{s['dataset']}: {r['rows']} rows -> train {r['train_rows']}, val {r['val_rows']}, "
            f"test {r['test_rows']}"
            + (f" (class {r['anomaly_class']} = anomaly)" if r.get("anomaly_class") is not None else ""),
        )
    ]
    k = s.get("members", 1)
    first = "" if k == 1 else ", first member"
    rows.append(("model", f"{_model_text(s['model'], k)}, {s['epochs_run']} epochs (best {s['best_epoch']}{first})"))
    note = _epoch_cap_note(s.get("epoch_cap", 0), s.get("stopped_at_cap", False))
    if note:
        rows.append(("note", note))
    if s.get("model_report"):
        rows.append(("", _model_report_text(s["model_report"])))
    how = describe_threshold(s["threshold_method"], s["threshold_params"])
    rows.append(("threshold", f"{s['threshold']:.6g} ({how}, score {s['score']})"))
    rows.append(("parity", f"ok, max abs diff {s['parity_max_abs']:.2e}"))
    if "test_anomaly_rate" in s:
        line = f"flagged {s['test_anomaly_rate']:.1%}"
        if "roc_auc" in s:
            line += (
                f" (true anomalies {s['test_true_anomaly_share']:.1%}); ROC-AUC {s['roc_auc']:.3f}, "
                f"AP {s['average_precision']:.3f}, recall {s['recall']:.1%}, FPR {s['false_positive_rate']:.1%}"
            )
        rows.append(("test", line))
    hint = s.get("threshold_hint")
    if hint:
        rows.append(
            (
                "hint",
                (
                    f"on the test split, threshold {hint['threshold']:.6g} gives recall {hint['recall']:.1%} "
                    f"at FPR {hint['false_positive_rate']:.1%} (the stored one: recall {s['recall']:.1%} at "
                    f"FPR {s['false_positive_rate']:.1%}); to use it: aeruntime score --threshold "
                    f"{hint['threshold']:.6g}, or re-export with --threshold-method target_fpr "
                    f"--threshold-param {max(hint['false_positive_rate'], 0.001):.3g}"
                ),
            )
        )
    if s.get("plot"):
        rows.append(("plot", s["plot"]))
    rows.append(("time", f"{s['seconds']:.1f}s -> {s['bundle']}"))
    return rows


# --- report helper (issue 13): `aeexport report`, `aeexport compare-pca` -------------------------------
# The commands live in aeexport/report.py and aeexport/compare.py; their heavy imports (matplotlib,
# sklearn, onnxruntime) happen only when a command runs.
def _register_report_commands() -> None:
    from .compare import _cli as _compare_cli
    from .report import _cli as _report_cli

    main.add_command(_report_cli())
    main.add_command(_compare_cli())


_register_report_commands()
# --- end report helper ------------------------------------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    main()


# --- format: `aeexport slim` (aeexport/slim.py) ---
@main.command()
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Slim bundle directory.")
@click.option("--keep-golden", is_flag=True, help="Keep the golden vectors (test_data/).")
@click.option("--json", "as_json", is_flag=True, help="Print the slim bundle's manifest as JSON.")
def slim(bundle: str, out: str, keep_golden: bool, as_json: bool) -> None:
    """Write a runtime-only copy of BUNDLE (no weights.safetensors; golden vectors optional)."""
    from .slim import slim_bundle

    m = slim_bundle(bundle, out, keep_golden=keep_golden)
    if as_json:
        echo_json(m)
    else:
        click.echo(f"wrote slim bundle -> {out} ({len(m['files'])} files; left out: {', '.join(m['omitted'])})")


# --- end format ---
