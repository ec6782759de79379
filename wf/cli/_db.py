"""``wf db upgrade|status``: bring a database's schema up to date, and look at it."""

from __future__ import annotations

import typer

from wf.cli._app import Group, app
from wf.cli._common import DbOption, cli_errors, output_console, resolve_url, run_async
from wf.runtime._events import RunStatus
from wf.store._migrations import SCHEMA_VERSION
from wf.store._protocol import display_url, open_store

__all__ = ["db_app"]

db_app = typer.Typer(
    name="db",
    cls=Group,
    help="The database: its schema version and migrations.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade_command(db: DbOption = None) -> None:
    """Apply the migrations the database lacks (opening it does so too, unless
    WF_AUTO_MIGRATE=0). Safe to run from several processes at once."""
    url = resolve_url(db)
    with cli_errors("db upgrade"):
        before, after = run_async(lambda: open_store(url, migrate=True).upgrade())
    shown = display_url(url)
    if before == after:
        message = f"{shown}: schema version {after}, up to date"
    else:
        message = f"{shown}: schema version {before} -> {after}"
    output_console().print(message, markup=False, highlight=False)


@db_app.command("status")
def status_command(db: DbOption = None) -> None:
    """Print the schema version, the URL (password hidden) and how many runs are in each
    status. Changes nothing."""
    url = resolve_url(db)
    with cli_errors("db status"):
        version, counts = run_async(lambda: open_store(url, migrate=False).describe())
    console = output_console()
    print_ = console.print
    print_(f"database: {display_url(url)}", markup=False, highlight=False)
    if version == 0:
        state = "no wf tables yet; a worker or `wf db upgrade` creates them"
    elif version < SCHEMA_VERSION:
        state = f"behind this wf, which needs {SCHEMA_VERSION}; run `wf db upgrade`"
    elif version > SCHEMA_VERSION:
        state = f"newer than this wf, which knows up to {SCHEMA_VERSION}; upgrade wf"
    else:
        state = "up to date"
    print_(f"schema version: {version}, {state}", markup=False, highlight=False)
    for status in RunStatus:
        print_(f"{status.value}: {counts.get(status.value, 0)}", markup=False, highlight=False)
