"""The spark-submit script of ``aeruntime spark score`` (the command itself is :mod:`aeruntime.spark.cli`).

    spark-submit --master yarn --archives env.tar.gz#env \\
        --conf spark.pyspark.python=./env/bin/python \\
        "$(python -m aeruntime.spark.submit --script)" score hdfs:///models/b hdfs:///in --out hdfs:///out

(``python -m aeruntime.spark.submit --script`` prints the path of this file, which
spark-submit takes as its Python application.) Run as a script, its folder comes first on
``sys.path``: no module of ``aeruntime.spark`` (nor of the package) is named like a
standard-library module, which ``tests/aeruntime/test_layering.py`` keeps true.
"""

from __future__ import annotations

import os
import sys

import click

from aeruntime.spark.cli import main as _main
from aeruntime.spark.cli import spark

__all__ = ["main", "spark"]


def main() -> None:  # pragma: no cover - the spark-submit entry point
    """``python -m aeruntime.spark.submit score ...`` (or this file under spark-submit); ``--script`` prints its path."""
    if sys.argv[1:] == ["--script"]:
        click.echo(os.path.abspath(__file__))
        return
    _main()


if __name__ == "__main__":  # pragma: no cover
    main()
