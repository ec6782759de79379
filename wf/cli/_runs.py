"""``wf runs list|show|cancel|result``: look at runs and their event logs, cancel a run,
print (or wait for) a run's result."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import time
from typing import Annotated, Any

import typer
from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

import wf
from wf._errors import RunNotFoundError, StoreError, WorkflowError
from wf.cli._app import Group, app
from wf.cli._common import (
    EXIT_FAILED,
    CliError,
    DbOption,
    JsonOption,
    cli_errors,
    database_missing,
    error_console,
    format_time,
    import_from_project,
    output_console,
    resolve_url,
    run_async,
)
from wf.cli._run import print_outcome
from wf.cli._view import (
    TRACEBACK_WIDTH,
    clip,
    clip_start,
    data_value,
    error_text,
    format_duration,
    summarize,
    value_text,
)
from wf.runtime._events import Event, RunStatus
from wf.runtime._views import events_json, run_json
from wf.store._protocol import FINISHED, RunRecord

__all__ = ["EXIT_NOT_FINISHED", "Status", "run_json", "runs_app"]

#: ``wf runs result --no-wait`` on a run that has not ended yet.
EXIT_NOT_FINISHED = 3

#: How many events ``wf runs show`` lists without --limit: the latest ones.
SHOWN_EVENTS = 100
#: How much of a run's result the header of ``wf runs show`` prints.
RESULT_WIDTH = 200

runs_app = typer.Typer(
    name="runs",
    cls=Group,
    help="Inspect workflow runs.",
    no_args_is_help=True,
)
app.add_typer(runs_app, name="runs")


#: The statuses ``--status`` accepts: the runtime's own enum.
Status = RunStatus


_STATUS_STYLES = {
    "pending": "dim",
    "running": "cyan",
    "sleeping": "blue",
    "waiting": "magenta",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "yellow",
}


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, default=str, ensure_ascii=False, indent=2) + "\n")


def _status_text(status: str) -> Text:
    return Text(status, style=_STATUS_STYLES.get(status, ""))


@runs_app.command("list")
def list_command(
    db: DbOption = None,
    status: Annotated[
        Status | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="Only runs in this state: " + ", ".join(s.value for s in Status) + ".",
            show_default=False,
        ),
    ] = None,
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow",
            help="Only runs of this workflow: its id (module:function) or function name.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most runs to show.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""

    async def main() -> list[RunRecord]:
        async with wf.Engine(db, worker=False) as engine:
            return await engine.list_runs(
                status=None if status is None else status.value, workflow=workflow, limit=limit
            )

    with cli_errors("runs list"):
        missing = database_missing(resolve_url(db))
        records = [] if missing else run_async(main)
    if as_json:
        _print_json([run_json(record) for record in records])
        return
    if not records:
        where = f" (database {missing} does not exist yet)" if missing else ""
        error_console().print(f"no runs{where}", markup=False, highlight=False)
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    # Ids fold rather than get cut: a run id is made to be copied.
    table.add_column("RUN ID", overflow="fold", min_width=12)
    table.add_column("WORKFLOW", overflow="fold", min_width=12)
    table.add_column("STATUS", no_wrap=True, min_width=9)
    table.add_column("CREATED", no_wrap=True)
    table.add_column("UPDATED", no_wrap=True)
    for record in records:
        table.add_row(
            record.run_id,
            record.workflow_id,
            _status_text(record.status),
            format_time(record.created_at),
            format_time(record.updated_at),
        )
    output_console().print(table)


@runs_app.command("show")
def show_command(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN_ID", help="The run's id.", show_default=False)
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            metavar="N",
            min=0,
            help=f"Show the last N events (0: all). Default: {SHOWN_EVENTS}, or all with --json.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show a run: its state, result or error, and its event timeline.

    Long values are cut in the table; --json prints every value whole, and
    `wf runs result` prints the result.
    """

    async def main() -> tuple[RunRecord, list[Event]]:
        async with wf.Engine(db, worker=False) as engine:
            run = engine.get_run(run_id)
            try:
                record = await run.describe()
            except wf.RunNotFoundError:
                raise CliError(f"no run with id {run_id!r} in {engine.url}", EXIT_FAILED) from None
            return record, [event async for event in run.events()]

    with cli_errors("runs show"):
        url = resolve_url(db)
        missing = database_missing(url)
        if missing:
            raise CliError(
                f"no run with id {run_id!r}: database {missing} does not exist", EXIT_FAILED
            )
        record, events = run_async(main)
    if limit is None:
        limit = 0 if as_json else SHOWN_EVENTS
    shown = events[-limit:] if limit else events
    if as_json:
        _print_json({"run": run_json(record, full=True), "events": events_json(shown)})
        return
    console = output_console()
    header, cut = _header(record, events)
    console.print(header)
    if record.status == "failed":
        error = data_value(record.error)
        if isinstance(error, dict) and error.get("traceback"):
            text = clip_start(str(error["traceback"]).rstrip(), TRACEBACK_WIDTH)
            cut = cut or text.startswith("…")
            console.print(Text(text, style="dim"), soft_wrap=True)
    if len(shown) < len(events):
        console.print(
            Text(
                f"… {len(events) - len(shown):,} earlier events not shown (the last {len(shown):,}"
                f" of {len(events):,}; --limit N shows more, --limit 0 all of them)",
                style="dim",
            ),
            soft_wrap=True,
        )
    summaries = [summarize(event) for event in shown]
    console.print(_timeline(shown, summaries, events[0].at if events else 0.0), soft_wrap=True)
    if cut or any("…" in summary for summary in summaries):
        run = shlex.quote(record.run_id)
        console.print(
            Text(
                f"Values with … are cut: `wf runs show {run} --json` prints every value whole"
                f" (`wf runs result {run}`: the result).",
                style="dim",
            ),
            soft_wrap=True,
        )


def _header(record: RunRecord, events: list[Event]) -> tuple[Table, bool]:
    """The run's fields, and whether a value among them was cut."""
    cut = False
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("run", record.run_id)
    grid.add_row("workflow", record.workflow_id)
    grid.add_row("status", _status_text(record.status))
    grid.add_row("created", format_time(record.created_at))
    took = format_duration(record.updated_at - record.created_at)
    grid.add_row("updated", f"{format_time(record.updated_at)} ({took} after creation)")
    if events:
        given = summarize(events[0])
        cut = "…" in given
        grid.add_row("input", given)
    if record.wake_at is not None and record.status in ("sleeping", "pending"):
        grid.add_row("wakes", format_time(record.wake_at))
    if record.attempt > 1:
        grid.add_row("attempt", str(record.attempt))
    if record.status == "completed":
        result = value_text(data_value(record.result))
        cut = cut or len(result) > RESULT_WIDTH
        grid.add_row("result", clip(result, RESULT_WIDTH))
    elif record.status == "failed":
        grid.add_row("error", Text(error_text(data_value(record.error)), style="red"))
    elif record.error is not None:
        # A run not ended yet: why the last worker that claimed it left it.
        note = data_value(record.error)
        grid.add_row("note", str(note.get("message")) if isinstance(note, dict) else str(note))
    if record.status == "pending" and record.lease_owner is not None:
        grid.add_row(
            "worker",
            f"{record.lease_owner} (lease expired: it stopped or stalled;"
            " the run waits for a worker to take it over)",
        )
    return grid, cut


#: Columns of the timeline: title, and whether the column is right-aligned.
_TIMELINE = (
    ("SEQ", True),
    ("+MS", True),
    ("KIND", False),
    ("NAME", False),
    ("CID", True),
    ("DATA", False),
)


def _offset(seconds: float) -> str:
    ms = seconds * 1000
    # A time stored out of range (1e300, inf) must not make the column 300 digits wide.
    return f"{ms:.0f}" if abs(ms) < 1e12 else f"{ms:.3g}"


def _timeline(events: list[Event], summaries: list[str], start: float) -> Text:
    """The events as a table of plain lines.

    Laid out by hand rather than with a rich Table: that measured and wrapped every
    cell, 0.4 ms per event (2 s for a 5,000-event run). Lines are not wrapped to the
    screen; values in them are already cut short.
    """
    rows = [
        (
            str(event.seq),
            _offset(event.at - start),
            event.kind,
            event.name or "",
            "" if event.cid is None else str(event.cid),
            summary,
        )
        for event, summary in zip(events, summaries, strict=True)
    ]
    titles = [title for title, _right in _TIMELINE]
    widths = [
        max([cell_len(title), *(cell_len(row[i]) for row in rows)])
        for i, title in enumerate(titles)
    ]

    def line(cells: tuple[str, ...] | list[str]) -> str:
        parts = []
        for (_title, right), width, cell in zip(_TIMELINE, widths, cells, strict=True):
            pad = " " * (width - cell_len(cell))
            parts.append(pad + cell if right else cell + pad)
        return "   ".join(parts).rstrip()

    text = Text()
    text.append(line(titles), style="bold")
    text.append("\n" + "─" * (sum(widths) + 3 * (len(widths) - 1)))
    for row in rows:
        text.append("\n" + line(row))
    return text


def _no_run(run_id: str, url: str) -> CliError:
    missing = database_missing(url)
    where = f": database {missing} does not exist" if missing else f" in {url}"
    return CliError(f"no run with id {run_id!r}{where}", EXIT_FAILED)


RunIdArgument = Annotated[
    str, typer.Argument(metavar="RUN_ID", help="The run's id.", show_default=False)
]


@runs_app.command("cancel")
def cancel_command(run_id: RunIdArgument, db: DbOption = None) -> None:
    """Ask a run to stop.

    The workflow sees asyncio.CancelledError at its next durable await (its
    try/finally compensation still runs as steps), then ends as cancelled.
    Exit status: 0 requested, 1 when there is no such run or it already ended.
    """

    async def main() -> str:
        async with wf.Engine(db, worker=False) as engine:
            run = engine.get_run(run_id)
            try:
                status = await run.status()
                await run.cancel()
            except StoreError:
                raise
            except RunNotFoundError:
                raise _no_run(run_id, engine.url) from None
            except WorkflowError as exc:  # it ended in the meantime
                raise CliError(str(exc), EXIT_FAILED) from None
            return status

    with cli_errors("runs cancel"):
        url = resolve_url(db)
        if database_missing(url):
            raise _no_run(run_id, url)
        status = run_async(main)
    error_console().print(
        f"cancellation requested for run {run_id} (was {status});"
        " it stops at its next durable await",
        markup=False,
        highlight=False,
    )


@runs_app.command("retry")
def retry_command(run_id: RunIdArgument, db: DbOption = None) -> None:
    """Run a failed run again from its log with the current code.

    The way out after fixing a bug in a step or a NondeterminismError: the
    steps whose failure ended the run run again, everything before stays as
    recorded, and a worker (`wf worker`, `wf run`) picks the run up.
    Exit status: 0 retried, 1 when there is no such run or it has not failed.
    """

    async def main() -> None:
        async with wf.Engine(db, worker=False) as engine:
            try:
                await engine.get_run(run_id).retry()
            except StoreError:
                raise
            except RunNotFoundError:
                raise _no_run(run_id, engine.url) from None
            except WorkflowError as exc:
                raise CliError(str(exc), EXIT_FAILED) from None

    with cli_errors("runs retry"):
        url = resolve_url(db)
        if database_missing(url):
            raise _no_run(run_id, url)
        run_async(main)
    error_console().print(
        f"run {run_id} will run again from its log", markup=False, highlight=False
    )


@runs_app.command("result")
def result_command(
    run_id: RunIdArgument,
    db: DbOption = None,
    wait: Annotated[
        bool | None,
        typer.Option(
            "--wait/--no-wait",
            help="Wait for the run to end (a worker must be executing it)."
            " Default: --no-wait, or --wait when --timeout is given.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            min=0,
            help="Wait at most this long (implies --wait).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print a finished run's result as JSON on stdout (as `wf run` does).

    Exit status: 0 completed; 1 failed (the error goes to stderr), cancelled,
    no such run, or --timeout passed first; 3 not finished yet (--no-wait, the
    default: the run's status goes to stderr); 2 for usage errors.
    """
    if timeout is not None and wait is False:
        with cli_errors("runs result"):
            raise CliError("--timeout waits for the run; it cannot be used with --no-wait")
    waiting = bool(wait) or timeout is not None

    async def main() -> RunRecord:
        async with wf.Engine(db, worker=False) as engine:
            deadline = None if timeout is None else time.monotonic() + timeout
            poll = 0.05
            while True:
                try:
                    record = await engine.get_run(run_id).describe()
                except wf.RunNotFoundError:
                    raise _no_run(run_id, engine.url) from None
                if record.status in FINISHED or not waiting:
                    return record
                pause = poll
                poll = min(poll * 1.5, 1.0)
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise CliError(
                            f"run {run_id} did not finish within {timeout:g} s"
                            f" (it is {record.status})",
                            EXIT_FAILED,
                        )
                    pause = min(pause, remaining)
                await asyncio.sleep(pause)

    with cli_errors("runs result"):
        url = resolve_url(db)
        if database_missing(url):
            raise _no_run(run_id, url)
        record = run_async(main)
    if record.status not in FINISHED:
        error_console().print(
            f"run {run_id} has not finished: it is {record.status} (use --wait to wait for it)",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(EXIT_NOT_FINISHED)
    import_from_project()
    print_outcome(record, "runs result")
