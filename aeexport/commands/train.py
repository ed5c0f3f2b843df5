"""``aeexport train``: train on a dataset and write a checkpoint."""

from __future__ import annotations

from typing import Any

import click

from ..options import TrainSettings, out_dir_option, train_options
from .common import echo_sample, epoch_cap_note, model_report_text, model_text


@click.command("train")
@click.argument("data")
@out_dir_option("Checkpoint directory", "a checkpoint")
@train_options
def train_command(data: str, out: str, training: TrainSettings) -> None:
    """Train on DATA ('digits', .npy, .npz, .csv or .parquet) and write a checkpoint (safetensors + JSON).

    With labels (npz 'y' or --label-column, 1 = anomaly; classes with --anomaly-class; digits:
    class 0) only normal rows are trained on, the same rule as `aeexport run`.
    """
    from aeruntime.format import check_output_dir

    check_output_dir(out, "checkpoint", inputs=[data])  # before any training
    from ..checkpoint import save_checkpoint
    from ..data import (
        anomaly_labels,
        as_model_input,
        load_dataset,
        make_split,
        training_section,
        warn_if_few_calibration_rows,
    )
    from ..models import get_spec
    from ..presets import preset_percentile, split_config
    from ..tabular import apply_preset, is_image_data
    from ..train import train_model

    t, kind = training, training.kind
    ds = load_dataset(data, label_column=t.label_column, max_rows=t.config.max_rows, seed=t.config.seed)
    echo_sample(ds.sample)
    y, anomaly_class = anomaly_labels(ds, t.anomaly_class)
    X = as_model_input(ds.X, get_spec(kind).input_rank, ds.image_shape)
    image = is_image_data(ds)
    config = split_config(t.preset, t.config, t.explicit, image=image)  # the preset's val_fraction sets the split
    split = make_split(X, y, val_fraction=config.val_fraction, seed=config.seed)
    cfg, options = apply_preset(
        t.preset, kind, config, t.model_options, split.n_train, int(X[0].size), t.explicit, image=image
    )
    warn_if_few_calibration_rows(len(split.val))
    result = train_model(split.X, split.val, kind=kind, model_options=options, config=cfg, rows=split.train_rows)
    dataset: dict[str, Any] = {
        "source": ds.name,
        "rows": len(X),
        "anomaly_class": anomaly_class,
        "train_rows": split.n_train,
        "val_rows": len(split.val),
    }
    if ds.feature_names:
        dataset["feature_names"] = list(ds.feature_names)
    percentile = preset_percentile(t.preset, t.explicit, image=image)
    if percentile is not None:  # `aeexport export` calibrates at the preset's percentile, as `run` does
        dataset["threshold_percentile"] = percentile
    if ds.sample:
        dataset["sample"] = ds.sample
    summary = training_section(result.summary(), ds)
    save_checkpoint(out, result.model, holdout=split.val, summary=summary, dataset=dataset)
    _echo_trained(result, cfg, split.n_train, anomaly_class, y, out)


def _echo_trained(result: Any, cfg: Any, n_train: int, anomaly_class: int | None, y: Any, out: str) -> None:
    held_out = (
        ""
        if anomaly_class is None and y is None
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
