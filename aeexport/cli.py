"""``aeexport``: train, export, verify and inspect autoencoder bundles.

The ``aeexport`` group; its commands live in :mod:`aeexport.commands`, one module each,
registered in :data:`aeexport.commands.COMMANDS`. Heavy imports (torch, onnx) happen inside
the commands, so ``aeexport --help`` is instant. ``python -m aeexport`` and
``python -m aeexport.cli`` run the same commands.
"""

from __future__ import annotations

import click

from aeruntime.clibase import AeGroup

from .commands import COMMANDS

__all__ = ["main"]


@click.group(cls=AeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="aeexport")
def main(debug: bool) -> None:
    """Train autoencoders and export them as ONNX bundles for aeruntime and any ONNX runtime."""


for _command in COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
