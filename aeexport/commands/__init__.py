"""The ``aeexport`` commands, one module each; :data:`COMMANDS` is the one place they are registered.

A new command is a module here defining one click command (heavy imports inside the
function, so ``aeexport --help`` stays instant) and one entry in :data:`COMMANDS`;
:mod:`aeexport.cli` adds them all to the ``aeexport`` group.
"""

from __future__ import annotations

from ._compare_pca import compare_pca_command
from ._evaluate import evaluate_command
from ._export import export_command
from ._inspect import inspect_command
from ._optimize import optimize_command
from ._package import package_command
from ._quantize import quantize_command
from ._report import report_command
from ._run import run_command
from ._slim import slim_command
from ._train import train_command
from ._verify import verify_command
from ._web import web_command

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
