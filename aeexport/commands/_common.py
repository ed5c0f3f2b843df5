"""Helpers shared by several ``aeexport`` commands: labelled --data, variant writing, summary lines (torch-free)."""

from __future__ import annotations

from typing import Any

import click

from aeruntime.clibase import echo_json

__all__ = [
    "echo_result",
    "echo_rows",
    "epoch_cap_note",
    "model_report_text",
    "model_text",
    "read_labelled",
    "threshold_text",
    "write_variant",
]


def echo_result(as_json: bool, data: Any, *lines: str) -> None:
    """``data`` as JSON with ``--json``, else the ``lines`` of text."""
    if as_json:
        echo_json(data)
        return
    for line in lines:
        click.echo(line)


def echo_sample(sample: dict[str, Any] | None) -> None:
    """``sample    sampled N of M rows (seed S[, stratified by label])`` when ``--max-rows`` sampled the rows."""
    if sample:
        how = ", stratified by label" if sample["stratified"] else ""
        click.echo(
            f"{'sample':<10} sampled {sample['rows_kept']} of {sample['rows_seen']} rows (seed {sample['seed']}{how})"
        )


def echo_rows(rows: list[tuple[str, str]]) -> None:
    """Print (label, text) lines with the labels in one column."""
    for k, v in rows:
        click.echo(f"{k:<10} {v}")


def threshold_text(section: dict[str, Any]) -> str:
    """``0.123 (95th percentile of ...)``: a manifest's threshold section in words."""
    from ..report import describe_threshold

    return f"{section['value']:.6g} ({describe_threshold(section.get('method'), section.get('params'))})"


def epoch_cap_note(cap: int, stopped_at_cap: bool) -> str | None:
    """The note when training stopped at ``--epochs`` with the validation loss still improving."""
    if not stopped_at_cap:
        return None
    return (
        f"training stopped at the epoch cap (--epochs {cap}) with the validation loss still improving; "
        "a larger --epochs may give a better model."
    )


def model_text(kind: str, members: int) -> str:
    """'dense', or 'ensemble of 3 dense members' when ``members`` > 1."""
    return kind if members == 1 else f"{kind} of {members} dense members"


def model_report_text(report: dict[str, Any]) -> str:
    """A model kind's report (e.g. a VAE's KL) as ``name value`` pairs."""
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items())


def read_labelled(
    data: str | None, label_column: str | None, anomaly_class: int | None, header: bool | None = None
) -> tuple[Any, Any]:
    """Rows and optional binary labels (1 = anomaly) from --data."""
    if data is None:
        return None, None
    from aeruntime.tables import read_table

    from ..data import binary_labels, check_label_column

    check_label_column(data, label_column)
    X, y = read_table(data, label_column=label_column, header=header)
    if y is not None:
        y = binary_labels(y, anomaly_class)
    return X, y


def write_variant(
    bundle: str,
    kind: str,
    out: str | None,
    data: str | None,
    as_json: bool,
    target_onnxruntime: str | None = None,
    **labels: Any,
) -> None:
    """Write the ``kind`` variant of ``bundle`` and print its decision-level report; exit 1 when it misses.

    ``labels``: the label options of ``--data`` (``label_column``, ``anomaly_class``, ``header``)."""
    from aeruntime.fs import check_output_dir

    from ..variants import default_out, format_decision_table, make_variant

    check_output_dir(out or default_out(bundle, kind), "bundle", inputs=[bundle, data])  # before any work

    X, y = read_labelled(data, **labels)
    m = make_variant(bundle, kind, out, X=X, y=y, data_source=data, target_onnxruntime=target_onnxruntime)
    echo_result(
        as_json,
        m["parity"],
        format_decision_table(m["parity"]),
        f"wrote {kind} variant -> {out or default_out(bundle, kind)} "
        f"(threshold {m['threshold']['value']:.6g}, {m['threshold']['method']})",
    )
    if not m["parity"]["ok"]:
        click.echo(
            f"Error: the {kind} variant misses its decision-level tolerance (written, but verify fails).", err=True
        )
        raise SystemExit(1)
