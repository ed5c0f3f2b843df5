"""``aeexport train``: train on a dataset and write a checkpoint."""

from __future__ import annotations

from typing import Any

import click

from ..settings import TrainSettings
from ._common import echo_sample, epoch_cap_note, model_report_text, model_text
from ._options import out_dir_option, train_options
from ._series_options import echo_window


@click.command("train")
@click.argument("data")
@out_dir_option("Checkpoint directory", "a checkpoint")
@train_options
def train_command(data: str, out: str, training: TrainSettings) -> None:
    """Train on DATA ('digits', .npy, .npz, .csv or .parquet) and write a checkpoint (safetensors + JSON).

    With labels (npz 'y' or --label-column, 1 = anomaly; classes with --anomaly-class; digits:
    class 0) only normal rows are trained on, the same rule as `aeexport run`.
    """
    from aeruntime.fs import check_output_dir

    check_output_dir(out, "checkpoint", inputs=[data])  # before any training
    from ..data import training_section
    from ..train import dataset_info, prepare, save_checkpoint, train_split

    p = prepare(data, training, warn=True)  # no test split: every normal row not held out for validation trains
    kind = p.kind or training.kind
    echo_sample(p.ds.sample)
    echo_window(p.series)
    split, cfg = p.split, p.cfg
    result = train_split(split, kind=kind, model_options=p.model_options, config=cfg)  # frees the raw rows
    dataset = dataset_info(p, test_rows=False, percentile=True)  # `aeexport export` calibrates at its percentile
    summary = training_section(result.summary(), p.ds)
    save_checkpoint(out, result.model, holdout=split.val, summary=summary, dataset=dataset)
    _echo_trained(result, cfg, split.n_train, p.anomaly_class, split.test is not None, out)


def _echo_trained(result: Any, cfg: Any, n_train: int, anomaly_class: int | None, held: bool, out: str) -> None:
    held_out = (
        ""
        if anomaly_class is None and not held
        else f" (anomalies held out{f': class {anomaly_class}' if anomaly_class is not None else ''})"
    )
    click.echo(
        f"trained {model_text(result.model.kind, cfg.members)} on {n_train} rows{held_out}: "
        f"{len(result.history)} epochs{'' if cfg.members == 1 else ' (first member)'}, best val loss "
        f"{result.best_val_loss:.5f} at epoch {result.best_epoch} ({result.seconds:.1f}s) -> {out}"
    )
    if result.model_report:
        click.echo("model      " + model_report_text(result.model_report))
    note = epoch_cap_note(cfg.epochs, result.hit_epoch_cap)
    if note:
        click.echo("note       " + note)
