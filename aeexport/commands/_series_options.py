"""The series options of ``aeexport train|run``: ``--window W|auto``, ``--stride``, ``--time-column``,
``--alarm K/N``, ``--hold-off`` -> a :class:`aeexport.settings.SeriesSettings` (None without ``--window``)."""

from __future__ import annotations

from typing import Any

import click

from ..settings import SeriesSettings

__all__ = ["SERIES_OPTIONS", "echo_window", "series_settings"]

SERIES_PARAMS = ("window", "stride", "time_column", "alarm", "hold_off")


def _window(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    try:
        w = int(value)
    except ValueError:
        w = 0
    if w < 1:
        raise click.BadParameter(f"expected 'auto' or an integer >= 1, got {value!r}", param_hint="--window")
    return w


def _alarm(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    k, sep, n = value.partition("/")
    try:
        kn = (int(k), int(n))
    except ValueError:
        kn = (0, 0)
    if not sep or not 1 <= kn[0] <= kn[1]:
        raise click.BadParameter(f"expected K/N with 1 <= K <= N (e.g. 3/5), got {value!r}", param_hint="--alarm")
    return kn


SERIES_OPTIONS = [
    click.option(
        "--window",
        default=None,
        callback=_window,
        metavar="W|auto",
        help="Series: DATA's rows are time steps in file order, scored by windows of W steps (auto: the "
        "period of column 0's autocorrelation in [8, 64], 32 when none). The last --val-fraction of the "
        "steps calibrates the threshold; no window crosses it. With --label-column (per-step 0/1), windows holding "
        "a step labelled 1 are left out of training and calibration; run reports evaluate's figures on its test part. "
        "Model: series-tcn unless --model series-dense.",
    ),
    click.option(
        "--stride", type=click.IntRange(min=1), default=1, show_default=True, help="Series: training window stride."
    ),
    click.option(
        "--time-column",
        default=None,
        metavar="NAME",
        help="Series: a numeric column of strictly increasing time stamps (checked; not a feature).",
    ),
    click.option(
        "--alarm",
        default="1/1",
        show_default=True,
        callback=_alarm,
        metavar="K/N",
        help="Series: raise an alarm when K of the last N steps are above the threshold.",
    ),
    click.option(
        "--hold-off",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Series: steps without a new alarm after one.",
    ),
]


def series_settings(kw: dict[str, Any], explicit: frozenset[str]) -> SeriesSettings | None:
    """The series settings of the options (removed from ``kw``); None without ``--window``."""
    window, stride, time_column, alarm, hold_off = (kw.pop(k) for k in SERIES_PARAMS)
    if window is None:
        given = sorted(f"--{k.replace('_', '-')}" for k in SERIES_PARAMS[1:] if k in explicit)
        if given:
            raise click.UsageError(f"{', '.join(given)} apply to series: add --window W or --window auto.")
        return None
    return SeriesSettings(window=window, stride=stride, time_column=time_column, alarm=alarm, hold_off=hold_off)


def echo_window(series: dict[str, Any] | None) -> None:
    """``window    24 (period 24 of column 0's autocorrelation), stride 1; held out from row 1700``, and with
    per-step labels the windows left out of training and calibration."""
    if series:
        click.echo(
            f"{'window':<10} {series['window']} ({series['reason']}), stride {series['stride']}; "
            f"validation from row {series['validation_starts_at_row']}"
            + (f", test from row {series['test_starts_at_row']}" if series.get("test_starts_at_row") else "")
        )
        labels = series.get("labels")
        if labels:
            dropped = labels["dropped_windows"]
            click.echo(
                f"{'labels':<10} {labels['anomalous_steps']} anomalous steps; windows holding one left out: "
                f"{dropped['train_windows']} of training, {dropped['val_windows']} of validation/calibration"
            )
