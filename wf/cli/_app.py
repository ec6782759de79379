"""The Typer application behind the ``wf`` console script."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

__all__ = ["Group", "app", "debug"]

#: ``wf --debug``: an error shows its traceback as well as its one line. Set for each
#: invocation by the callback below; read by ``wf.cli._common.report_error``.
debug = False


class Group(TyperGroup):
    """A command group that lets no error of its commands escape as a traceback: what a
    command did not handle becomes one line and exit 2 (``report_error``)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if type(exc).__module__.partition(".")[0] in ("click", "typer"):
                raise  # usage errors and exits: typer prints them and sets the status
            # Imported here: `wf --help` and `wf build` must not load the runtime.
            from wf.cli._common import report_error

            names = (ctx.info_name if ctx.parent is not None else None, ctx.invoked_subcommand)
            report_error(" ".join(name for name in names if name), exc)


app = typer.Typer(
    name="wf",
    cls=Group,
    help='Durable workflows for Python: build, run and inspect "use workflow" functions.',
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    show_traceback: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an error, print its traceback as well as the one-line message.",
        ),
    ] = False,
) -> None:
    # A callback keeps `wf` a command group even while only one command is
    # registered; otherwise Typer would run that command for bare `wf ...`.
    """Durable workflows for Python: build, run and inspect "use workflow" functions."""
    global debug
    debug = show_traceback
