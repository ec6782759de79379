"""The Typer application behind the ``wf`` console script."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    name="wf",
    help='Durable workflows for Python: build, run and inspect "use workflow" functions.',
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    # A callback keeps `wf` a command group even while only one command is
    # registered; otherwise Typer would run that command for bare `wf ...`.
    """Durable workflows for Python: build, run and inspect "use workflow" functions."""
