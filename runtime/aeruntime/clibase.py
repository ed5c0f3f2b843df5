"""Command-line plumbing shared by ``aeruntime`` and ``aeexport``.

:class:`AeGroup` turns our typed errors into one line on stderr and the exit
code of the contract (0 ok, 1 failure, 2 usage error), without a traceback
unless ``--debug`` is given. Any other exception (a bug) is also reported as one
line, exit code 1, with a hint to rerun with ``--debug`` for the traceback.
"""

from __future__ import annotations

import json

from typing import Any

import click

from .errors import AeError

__all__ = ["AeGroup", "echo_json"]


class AeGroup(click.Group):
    """A click group whose commands report :class:`AeError` without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AeError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except MemoryError:
            if ctx.params.get("debug"):
                raise
            click.echo("Error: out of memory; pass a smaller --batch-size or less data.", err=True)
            ctx.exit(1)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug, not a user mistake: still one line unless --debug
            if ctx.params.get("debug"):
                raise
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {first} (this is a bug in aeexport/aeruntime; "
                "rerun with --debug for the traceback and report it).",
                err=True,
            )
            ctx.exit(1)


def echo_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=_default))


def _default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)



