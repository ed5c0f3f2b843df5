"""The ``aeexport`` commands, one module each; :data:`COMMANDS` is the one place they are registered.

A new command is a module here defining one click command (heavy imports inside the
function, so ``aeexport --help`` stays instant) and one entry in :data:`COMMANDS`;
:mod:`aeexport.cli` adds them all to the ``aeexport`` group.
"""

from __future__ import annotations

from .compare_pca import compare_pca_command
from .evaluate import evaluate_command
from .export import export_command
from .inspect import inspect_command
from .optimize import optimize_command
from .package import package_command
from .quantize import quantize_command
from .report import report_command
from .run import run_command
from .slim import slim_command
from .train import train_command
from .verify import verify_command
from .web import web_command

__all__ = ["COMMANDS"]

#: every ``aeexport`` command
COMMANDS = (
    train_command,
    export_command,
    verify_command,
    quantize_command,
    optimize_command,
    inspect_command,
    evaluate_command,
    run_command,
    report_command,
    compare_pca_command,
    slim_command,
    web_command,
    package_command,
)
