"""``wf worker``: execute runs from the database until stopped."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

import wf
from wf.cli._app import app
from wf.cli._common import (
    DbOption,
    Interrupted,
    cli_errors,
    error_console,
    import_from_project,
    run_async,
)

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
) -> None:
    """Execute workflow runs from the database until SIGINT or SIGTERM.

    Several workers (processes, or machines with PostgreSQL) can share one
    database; a run whose worker dies is taken over by another. Workflow
    modules are imported from the current directory and sys.path.
    """
    console = error_console()
    import_from_project()

    async def main() -> None:
        async with wf.Engine(db, worker=True, concurrency=concurrency) as engine:
            console.print(
                f"wf worker {engine.worker_id} started: db={engine.url},"
                f" concurrency={concurrency} (Ctrl-C to stop)",
                markup=False,
                highlight=False,
            )
            await asyncio.Event().wait()

    with cli_errors("worker"):
        try:
            run_async(main)
        except Interrupted as exc:
            # Being stopped is how a worker ends; its runs resume on the next worker.
            console.print(f"wf worker stopped ({exc})", markup=False, highlight=False)
