"""The spark-submit script of ``aeruntime spark score`` (the command itself is :mod:`aeruntime.spark.cli`).

    spark-submit --master yarn --archives env.tar.gz#env \\
        --conf spark.pyspark.python=./env/bin/python \\
        "$(python -m aeruntime.spark_cli --script)" score hdfs:///models/b hdfs:///in --out hdfs:///out

(``python -m aeruntime.spark_cli --script`` prints the path of this file, which
spark-submit takes as its Python application.)
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # run as a script (spark-submit): our io.py/codes.py must not shadow the standard library

import click  # noqa: E402

from aeruntime.spark.cli import main as _main  # noqa: E402
from aeruntime.spark.cli import spark  # noqa: E402

__all__ = ["main", "spark"]


def main() -> None:  # pragma: no cover - the spark-submit entry point
    """``python -m aeruntime.spark_cli score ...`` (or this file under spark-submit); ``--script`` prints its path."""
    if sys.argv[1:] == ["--script"]:
        click.echo(os.path.abspath(__file__))
        return
    _main()


if __name__ == "__main__":  # pragma: no cover
    main()
