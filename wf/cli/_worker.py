"""``wf worker``: execute runs from the database until stopped."""

from __future__ import annotations

from typing import Annotated

import typer

import wf
from wf.cli._app import app
from wf.cli._common import (
    CliError,
    DbOption,
    Interrupted,
    check_writable,
    cli_errors,
    error_console,
    import_from_project,
    run_async,
)
from wf.runtime._duration import to_seconds

#: The shortest lease a worker may take: renewed every third of it, a shorter one
#: would expire on an ordinary pause of the process (a GC, a busy disk).
MIN_LEASE = 2.0

__all__ = ["worker_command"]


@app.command("worker")
def worker_command(
    db: DbOption = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            help="Most runs this worker holds in memory at once.",
        ),
    ] = 1000,
    lease: Annotated[
        str,
        typer.Option(
            "--lease",
            metavar="DURATION",
            help="How long a run stays with this worker after its last heartbeat: if the"
            " worker dies on another host, others take its runs over after this long"
            " (at least 2s; a dead worker on the same host is noticed at once).",
        ),
    ] = "15s",
) -> None:
    """Execute workflow runs from the database until SIGINT or SIGTERM.

    Several workers (processes, or machines with PostgreSQL) can share one
    database; a run whose worker dies is taken over by another. Workflow
    modules are imported from the current directory and sys.path; a run
    whose module or version this worker lacks is left for a worker that has it.
    The worker stops (exit 2) if its database file is removed or replaced.
    """
    console = error_console()
    import_from_project()

    async def main() -> None:
        async with wf.Engine(db, worker=True, concurrency=concurrency, lease=seconds) as engine:
            console.print(
                f"wf worker {engine.worker_id} started: db={engine.url},"
                f" concurrency={concurrency} (Ctrl-C to stop)",
                markup=False,
                highlight=False,
            )
            await engine.wait_stopped()

    with cli_errors("worker"):
        try:
            seconds = to_seconds(lease)
        except (TypeError, ValueError) as exc:
            raise CliError(f"--lease: {exc}") from None
        if seconds < MIN_LEASE:
            raise CliError(f"--lease must be at least 2s, not {lease}")
        check_writable(db)
        try:
            run_async(main)
        except Interrupted as exc:
            # Being stopped is how a worker ends; its runs resume on the next worker.
            console.print(f"wf worker stopped ({exc})", markup=False, highlight=False)
