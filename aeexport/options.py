"""Click options shared by the ``aeexport`` commands that read labelled data (torch-free)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["label_options"]

F = TypeVar("F", bound=Callable[..., Any])


def label_options(what: str = "DATA", anomaly: str = "the class treated as anomalies") -> Callable[[F], F]:
    """``--label-column`` and ``--anomaly-class``: the same two options wherever labels are read.

    Parameters
    ----------
    what : str
        How the command names its data in ``--help`` (``"DATA"``, ``"--data"``).
    anomaly : str
        What ``--anomaly-class`` selects for this command.
    """

    def apply(f: F) -> F:
        f = click.option(
            "--anomaly-class",
            type=int,
            default=None,
            help=f"{what} labels with classes: {anomaly} (the others are normal; digits: class 0).",
        )(f)
        return click.option(
            "--label-column",
            default=None,
            help=f"CSV/Parquet {what}: name of the label column (1 = anomaly, 0 = normal; or classes with "
            "--anomaly-class).",
        )(f)

    return apply
