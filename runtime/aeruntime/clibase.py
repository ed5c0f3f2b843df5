"""Command-line plumbing shared by ``aeruntime`` and ``aeexport`` (a public module: aeexport builds on it).

:class:`AeGroup` gives both command lines one behaviour:

- our typed errors become one line on stderr and the exit code of the contract
  (0 ok, 1 failure, 2 usage error), without a traceback unless ``--debug`` is given;
  an ``OSError`` that no reader or writer translated is mapped the same way
  (:func:`aeruntime.fs.faults.os_fault`: a typed ``FileSystemError`` naming the file, exit 1),
  so only a real bug is reported as one: any other exception is also one line, exit
  code 1, with a hint to rerun with ``--debug``;
- click's usage errors are one line too (``Error: ... (see 'aeexport train --help')``);
- ``--debug`` works before or after the subcommand;
- warnings print as ``Warning: <message>`` on stderr, without a Python source line.

:func:`providers_option` is the one ``--providers`` option (choices and default below),
:func:`json_option` the one ``--json``, and :func:`option_group` the one way to bundle
several options into one decorator.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import click

from .errors import AeError
from .fs.faults import os_fault

__all__ = [
    "DEFAULT_PROVIDERS",
    "PROVIDER_CHOICES",
    "AeGroup",
    "echo_json",
    "error_line",
    "format_warning",
    "header_option",
    "json_option",
    "option_group",
    "providers_option",
]

#: ``--providers`` choices and default, the same for every command that scores
PROVIDER_CHOICES = ("auto", "cpu", "cuda")
DEFAULT_PROVIDERS = "auto"


def providers_option(help: str | None = None) -> Any:
    """The ``--providers`` option of every command that scores: :data:`PROVIDER_CHOICES`, :data:`DEFAULT_PROVIDERS`."""
    return click.option(
        "--providers", type=click.Choice(PROVIDER_CHOICES), default=DEFAULT_PROVIDERS, show_default=True, help=help
    )


def json_option(help: str = "Print JSON for machines.") -> Any:
    """``--json`` (parameter ``as_json``): print the command's result as JSON."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def option_group(*decorators: Any) -> Any:
    """One decorator that applies ``decorators`` (click options, arguments) in order: the first is first in --help."""

    def apply(f: Any) -> Any:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


def format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A ``warnings.showwarning`` that prints ``Warning: <message>`` (one entry, no source line)."""
    text = str(message).strip()
    click.echo(f"Warning: {text}", err=True)


class AeGroup(click.Group):
    """A click group whose commands report errors in one line and accept ``--debug`` anywhere."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # `aeexport train ... --debug` means the same as `aeexport --debug train ...`
        if "--" in args:
            head, tail = args[: args.index("--")], args[args.index("--") :]
        else:
            head, tail = args, []
        if "--debug" in head[1:]:
            head = ["--debug", *[a for a in head if a != "--debug"]]
        return super().parse_args(ctx, head + tail)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("standalone_mode", None)
        debug = "--debug" in (kwargs.get("args") or (args[0] if args else None) or sys.argv[1:])
        try:
            with warnings.catch_warnings():
                if not debug:
                    warnings.showwarning = format_warning
                rv = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            message = " ".join(exc.format_message().split())
            ctx = getattr(exc, "ctx", None)
            hint = (
                f" (see '{ctx.command_path} --help')" if ctx is not None and isinstance(exc, click.UsageError) else ""
            )
            click.echo(f"Error: {message}{hint}", err=True)
            sys.exit(exc.exit_code)
        if isinstance(rv, int):
            sys.exit(rv)
        return rv

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            message, code = error_line(exc)
            click.echo(f"Error: {message}", err=True)
            ctx.exit(code)


def error_line(exc: Exception) -> tuple[str, int]:
    """The one-line message and exit code of an exception that reached the command line.

    Our typed errors as they are; an ``OSError`` (disk full, permission, ...: the
    environment, not a bug) through :func:`aeruntime.fs.faults.os_fault`; ``MemoryError`` as
    a hint; anything else is a bug, said so with a hint to rerun with ``--debug``.
    """
    if isinstance(exc, OSError) and not isinstance(exc, AeError):
        exc = os_fault(exc)
    if isinstance(exc, AeError):
        return str(exc), exc.exit_code
    if isinstance(exc, MemoryError):
        return "out of memory; pass a smaller --batch-size or less data.", 1
    if isinstance(exc, Warning):  # PYTHONWARNINGS=error or -W error turned a warning into an exception
        text = " ".join(str(exc).split())[:300]
        return (
            f"a {type(exc).__name__} was raised as an error because warnings are errors here "
            f"(PYTHONWARNINGS=error or python -W error): {text}. Unset that to see it as a warning.",
            1,
        )
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (
        f"unexpected {type(exc).__name__}: {first} (this is a bug in aeexport/aeruntime; "
        "rerun with --debug for the traceback and report it).",
        1,
    )


def echo_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=_default))


def _default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def threads_option() -> Any:
    """``--threads N``: onnxruntime intra-op threads, at most the CPUs this process may use (a note says so)."""

    def bounded(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
        from .sessions import usable_cpus

        if value is not None and value > usable_cpus():
            click.echo(
                f"note: --threads {value} is more than the {usable_cpus()} CPU(s) this process may use; "
                f"using {usable_cpus()} (more threads than CPUs only slows onnxruntime down).",
                err=True,
            )
            return usable_cpus()
        return value

    return click.option(
        "--threads",
        type=click.IntRange(min=1),
        default=None,
        callback=bounded,
        help="onnxruntime intra-op threads (at most the CPUs this process may use).",
    )


def header_option(what: str = "INPUT") -> Any:
    """``--header/--no-header`` of every command that reads a CSV (default: decided, and the decision printed).

    The value is not handed to the command: for the command's run, CSV reads take it
    as their default and print their one-line header note on stderr
    (:func:`aeruntime.tables.header.announce_to`; the rule is that module's).
    """

    def apply(ctx: click.Context, param: click.Parameter, value: bool | None) -> None:
        from .tables.header import announce_to

        ctx.with_resource(announce_to(value, lambda note: click.echo(note, err=True)))

    return click.option(
        "--header/--no-header",
        "header",
        default=None,
        expose_value=False,
        callback=apply,
        help=f"CSV {what}: the first line is a header / is data. Default: decided (a first line with a field "
        "that is not a number is a header; all numbers is data, unless it is the bundle's feature names or "
        "pandas' 0,1,...,n-1), and the decision is printed on stderr.",
    )
