"""Click options of the ``aeexport`` commands, each declared once (torch-free).

- :data:`providers_option`: aeruntime's one ``--providers`` (``aeruntime.clibase``);
- :func:`label_options`: ``--label-column``, ``--anomaly-class`` and ``--header/--no-header``
  (``aeruntime.clibase``'s) wherever labels are read;
- :func:`threshold_options`: the threshold options, handed to the command as one
  :class:`aeexport.settings.ThresholdSpec` (``threshold_spec``);
- :func:`train_options`: the training options, derived from the :class:`aeexport.settings.TrainConfig`
  fields' :func:`aeexport.settings.flag` metadata and handed to the command as one
  :class:`aeexport.settings.TrainSettings` (``training``);
- :func:`variant_options`: the options of ``quantize`` and ``optimize``;
- :func:`verbose_option`; :func:`json_option` and :func:`option_group` (``aeruntime.clibase``'s).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from aeruntime.clibase import header_option, json_option, option_group
from aeruntime.clibase import providers_option as _runtime_providers_option
from aeruntime.fs import DIR_RULE

from ..export import CALIBRATORS
from ..settings import DEFAULT_PERCENTILE, IMAGE_PERCENTILE, MODEL_KINDS, PRESETS, TrainConfig, TrainSettings
from ._series_options import SERIES_OPTIONS, series_settings

__all__ = [
    "explicit_params",
    "json_option",
    "plot_option",
    "label_options",
    "option_group",
    "out_dir_option",
    "providers_option",
    "threshold_options",
    "train_options",
    "variant_options",
    "verbose_option",
]

F = TypeVar("F", bound=Callable[..., Any])

#: threshold methods that need labelled calibration rows (library only, not offered on the command line)
_LABELLED_METHODS = frozenset({"f1"})

#: ``--providers`` of every aeexport command that scores through aeruntime
providers_option = _runtime_providers_option("aeruntime providers (the same default as `aeruntime score`).")


def out_dir_option(what: str, holds: str) -> Callable[[F], F]:
    """The required ``--out DIR`` of a command that writes a folder, with the one overwrite rule in its help."""
    return click.option(
        "--out", required=True, type=click.Path(file_okay=False), help=f"{what}: {DIR_RULE.format(holds)}."
    )


def verbose_option(f: F) -> F:
    """``--verbose``: the ONNX exporter's own output."""
    return click.option("--verbose", is_flag=True, help="Show the ONNX exporter's own output.")(f)


def plot_option(help: str) -> Callable[[F], F]:
    """``--plot PATH``: where to write the PNG of the score histograms and the ROC curve."""
    return click.option("--plot", "plot", type=click.Path(dir_okay=False), default=None, help=help)


def label_options(what: str = "DATA", anomaly: str = "the class treated as anomalies") -> Callable[[F], F]:
    """``--label-column`` and ``--anomaly-class``: the same two options wherever labels are read.

    Parameters
    ----------
    what : str
        How the command names its data in ``--help`` (``"DATA"``, ``"--data"``).
    anomaly : str
        What ``--anomaly-class`` selects for this command.
    """
    return option_group(
        click.option(
            "--label-column",
            default=None,
            help=f"CSV/Parquet {what}: name of the label column (1 = anomaly, 0 = normal; or classes with "
            "--anomaly-class).",
        ),
        click.option(
            "--anomaly-class",
            type=int,
            default=None,
            help=f"{what} labels with classes: {anomaly} (the others are normal; digits: class 0).",
        ),
        _header_option(what),
    )


def _header_option(what: str) -> Callable[[F], F]:
    """The runtime's ``--header/--no-header`` (its help, and its note on stderr saying how the first line
    was read), with the value handed to the command as ``header``: it reaches the CSV reader through the
    calls (``load_dataset(header=...)``, ``read_table(header=...)``), not through a context variable."""
    runtime = header_option(what)(lambda: None).__click_params__[0]  # type: ignore[attr-defined]

    def keep(ctx: click.Context, param: click.Parameter, value: bool | None) -> bool | None:
        runtime.callback(ctx, param, value)  # where the runtime prints its header note
        return value

    return click.option("--header/--no-header", "header", default=None, callback=keep, help=runtime.help)


def explicit_params() -> frozenset[str]:
    """Names of the options the user gave on the command line (not defaults)."""
    ctx = click.get_current_context()
    return frozenset(
        name for name in ctx.params if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    )


# ---------------------------------------------------------------------- threshold
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
    from ..export import SCORE_DEFINITIONS

    return list(SCORE_DEFINITIONS)


def _threshold_spec(
    percentile: float | None, threshold: float | None, threshold_method: str, threshold_param: float | None, score: str
) -> Any:
    """The options as one ThresholdSpec; contradictory options are a usage error (exit 2)."""
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
    from ..settings import ThresholdSpec

    # param None: the method's default (percentile 95), or the percentile of the preset (`aeexport run`)
    param = percentile if percentile is not None else threshold_param
    return ThresholdSpec(method=threshold_method, param=param, value=threshold, score=score)


def threshold_options(f: F) -> F:
    """``--percentile``, ``--threshold``, ``--score``, ``--threshold-method``, ``--threshold-param``.

    The command receives them as one keyword ``threshold_spec`` (a ThresholdSpec).
    """

    @functools.wraps(f)
    def command(*args: Any, percentile: Any, threshold: Any, score: Any, threshold_method: Any, **kw: Any) -> Any:
        spec = _threshold_spec(percentile, threshold, threshold_method, kw.pop("threshold_param"), score)
        return f(*args, threshold_spec=spec, **kw)

    methods = [m for m in CALIBRATORS if m not in _LABELLED_METHODS]
    return option_group(
        click.option(
            "--percentile",
            type=click.FloatRange(0, 100, min_open=True, max_open=True),
            default=None,
            help=f"Threshold = this percentile of held-out normal scores [default: {DEFAULT_PERCENTILE:g}; "
            f"the image preset's: {IMAGE_PERCENTILE:g}]; the same as --threshold-method percentile "
            "--threshold-param P.",
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
    )(command)


# ---------------------------------------------------------------------- training
def _flag_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(TrainConfig) if "flag" in f.metadata]


def _dest(f: dataclasses.Field) -> str:
    """The click parameter name of a TrainConfig field's option: the field's, or the negating flag's."""
    spec = f.metadata["flag"]
    return spec["decls"][0].lstrip("-").replace("-", "_") if spec["negate"] else f.name


def _field_option(f: dataclasses.Field) -> Any:
    """The click option of one TrainConfig field, from its :func:`aeexport.settings.flag` metadata."""
    spec = f.metadata["flag"]
    decls = spec["decls"] or (f"--{f.name.replace('_', '-')}",)
    if spec["negate"]:
        return click.option(*decls, _dest(f), is_flag=True, help=spec["help"])
    if spec["choices"] is not None:
        kind: Any = click.Choice(spec["choices"])
    elif spec["low"] is None and spec["high"] is None:
        kind = type(f.default)
    else:
        bounded = click.IntRange if isinstance(f.default, int) else click.FloatRange
        kind = bounded(spec["low"], spec["high"], min_open=spec["exclusive"], max_open=spec["exclusive"])
    return click.option(*decls, f.name, type=kind, default=f.default, show_default=True, help=spec["help"])


def _model_options() -> list[tuple[str, Any]]:
    """The options that are no TrainConfig field: model kind, model options, labels, preset."""
    return [
        (
            "latent_dim",
            click.option(
                "--latent-dim", type=click.IntRange(min=1), default=None, help="Default: from the input width."
            ),
        ),
        (
            "hidden",
            click.option("--hidden", default=None, help="Encoder hidden widths, e.g. 32 or 128,64 (decoder mirrors)."),
        ),
        (
            "model_option",
            click.option(
                "--option",
                "-o",
                "model_option",
                multiple=True,
                metavar="KEY=VALUE",
                help="Model option of the kind's config, repeatable; VALUE is JSON or a string, e.g. "
                "-o penalty=kl -o rho=0.05, -o noise=masking, -o score=neg_elbo, -o channels=[8,16].",
            ),
        ),
        ("anomaly_class", label_options("DATA", "the class held out of training as the anomaly")),
        (
            "preset",
            click.option(
                "--preset",
                type=click.Choice(PRESETS),
                default="auto",
                show_default=True,
                help="auto: 'tabular' for rows of features (.csv/.npy/.npz/.parquet), 'image' for images, "
                "'default' with an explicit --model. image: dense, min-max scaling, hidden [n/2], latent n/8, "
                "lr 3e-3 with the plateau schedule, 30% of the normal rows held out, threshold at percentile 96 "
                "(see aeexport.settings.image_config). tabular: the tabular anomaly-detection defaults (dense; see "
                "aeexport.settings.tabular_config): robust (median/IQR; std on dispersed features) scaling, hidden [128, 64], "
                "latent 8, dropout 0.2, a loss that leaves each batch's worst 35% of rows out, <= 60 "
                "epochs; tabular-v3: the same with hidden [64, 32]; tabular-v2: tabular-v3 with median/IQR "
                "on every feature; tabular-v1: the preset before issue 11 (standard scaling, [64, 32], 20% left out). "
                "Options given explicitly still win.",
            ),
        ),
    ]


def _training_option_list() -> list[Any]:
    """Every training option in --help order: fields in order, then the model options, then each ``after`` field."""
    kind = click.option(
        "--model",
        "kind",
        type=click.Choice(MODEL_KINDS),
        default="dense",
        show_default=True,
        help="Model kind from the registry.",
    )
    fields = _flag_fields()
    placed = [("kind", kind)] + [(f.name, _field_option(f)) for f in fields if not f.metadata["flag"]["after"]]
    placed += _model_options()
    pending = [f for f in fields if f.metadata["flag"]["after"]]
    for _ in range(len(pending)):  # an ``after`` may name another field placed by ``after``
        for f in list(pending):
            names = [name for name, _ in placed]
            if f.metadata["flag"]["after"] in names:
                placed.insert(names.index(f.metadata["flag"]["after"]) + 1, (f.name, _field_option(f)))
                pending.remove(f)
    if pending:
        raise RuntimeError(f"TrainConfig flags follow unknown options: {[f.name for f in pending]}")
    return [option for _, option in placed]


def _parse_model_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("beta=0.5", "noise=masking")`` -> ``{"beta": 0.5, "noise": "masking"}`` (values parsed as JSON if they can be)."""
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


def _train_config(kw: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any]]:
    """The TrainConfig and model options of the training options' values (removed from ``kw``)."""
    options = _parse_model_options(kw.pop("model_option"))
    latent_dim, hidden = kw.pop("latent_dim"), kw.pop("hidden")
    if latent_dim is not None:
        options["latent_dim"] = latent_dim
    if hidden is not None:
        try:
            options["hidden"] = [int(h) for h in hidden.split(",") if h.strip()]
        except ValueError:
            raise click.BadParameter(
                f"expected comma-separated integers such as 128,64, got {hidden!r}", param_hint="--hidden"
            ) from None
    values = {}
    for f in _flag_fields():
        value = kw.pop(_dest(f))
        values[f.name] = not value if f.metadata["flag"]["negate"] else value
    return TrainConfig(**values), options


def train_options(f: F) -> F:
    """The training options of ``aeexport train|run``: model kind, TrainConfig flags, model options, labels, preset.

    The command receives them as one keyword ``training`` (a :class:`aeexport.settings.TrainSettings`).
    """

    @functools.wraps(f)
    def command(
        *args: Any, kind: str, preset: str, label_column: Any, anomaly_class: Any, header: Any, **kw: Any
    ) -> Any:
        series = series_settings(kw, explicit_params())
        config, model_options = _train_config(kw)
        training = TrainSettings(
            kind=kind,
            config=config,
            model_options=model_options,
            preset=preset,
            explicit=explicit_params(),
            label_column=label_column,
            anomaly_class=anomaly_class,
            header=header,
            series=series,
        )
        return f(*args, training=training, **kw)

    return option_group(*_training_option_list(), *SERIES_OPTIONS)(command)


def variant_options(f: F) -> F:
    """``--out``, ``--data``, the label options and ``--json`` of ``aeexport quantize|optimize``."""
    return option_group(
        click.option(
            "--out",
            type=click.Path(file_okay=False),
            default=None,
            help=f"Variant bundle directory (default: BUNDLE-<kind> beside BUNDLE): {DIR_RULE.format('a bundle')}.",
        ),
        click.option(
            "--data",
            type=click.Path(dir_okay=False, exists=True),
            default=None,
            help="Real rows (.npy/.npz/.csv, optional labels) for calibration and the decision-level "
            "report; default: rows drawn from the bundle's scaler statistics.",
        ),
        label_options("--data"),
        json_option("Print the decision-level report as JSON."),
    )(f)


def _check_target(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from ..export import check_target

    check_target(value)  # InvalidInputError (exit 2) for a release the compatibility table lacks
    return value


def target_onnxruntime_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--target-onnxruntime 1.16``: lower the graphs' opset / IR version so that release loads them."""
    return click.option(
        "--target-onnxruntime",
        "target_onnxruntime",
        metavar="RELEASE",
        default=None,
        callback=_check_target,
        help="Oldest onnxruntime the bundle must load in (e.g. 1.16): exports with its opset and IR version.",
    )(f)
