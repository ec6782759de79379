"""``wf hooks resume`` and ``wf send``: deliver a JSON payload to a waiting run.

Both only write to the database (``Engine(worker=False)``): the worker that
holds, or next claims, the run delivers the payload.
"""

from __future__ import annotations

from typing import Annotated

import typer

import wf
from wf._errors import HookNotFoundError, RunNotFoundError, StoreError, WorkflowError
from wf.cli._app import Group, app
from wf.cli._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    CliError,
    DbOption,
    cli_errors,
    database_missing,
    error_console,
    import_from_project,
    parse_json,
    resolve_url,
    run_async,
)

__all__ = ["hooks_app", "resume_command", "send_command"]

hooks_app = typer.Typer(
    name="hooks",
    cls=Group,
    help="Deliver payloads to hooks that runs wait on.",
    no_args_is_help=True,
)
app.add_typer(hooks_app, name="hooks")

# Payloads are JSON, and JSON may start with '-' (-5): let such arguments through.
_PAYLOAD_SETTINGS = {"ignore_unknown_options": True}

PayloadArgument = Annotated[
    str,
    typer.Argument(
        metavar="JSON",
        help="The payload, as JSON: 42, true, '{\"ok\": true}', '\"text\"' for a string.",
        show_default=False,
    ),
]


def _check_database(url: str, missing_what: str) -> None:
    missing = database_missing(url)
    if missing:
        raise CliError(f"{missing_what}: database {missing} does not exist", EXIT_FAILED)


@hooks_app.command("resume", context_settings=_PAYLOAD_SETTINGS)
def resume_command(
    token: Annotated[
        str,
        typer.Argument(metavar="TOKEN", help="The hook's token.", show_default=False),
    ],
    payload: PayloadArgument,
    db: DbOption = None,
) -> None:
    """Deliver a JSON payload to the run holding hook TOKEN; print that run's id.

    Exit status: 0 delivered (queued durably for the run), 1 when no live run
    holds the token (never created, or released when its run ended), 2 for
    usage errors such as a payload that is not JSON, one a typed hook refuses,
    or a webhook's token (its requests come over HTTP).
    """

    async def main() -> str:
        async with wf.Engine(db, worker=False) as engine:
            try:
                return await engine.resume_hook(token, value)
            except StoreError:
                raise
            except HookNotFoundError as exc:
                raise CliError(str(exc), EXIT_FAILED) from None
            except ValueError as exc:  # refused by a typed hook, or a webhook's token
                raise CliError(str(exc), EXIT_USAGE) from None
            except WorkflowError as exc:  # a typed hook whose payload type cannot be imported
                raise CliError(f"{exc} (run wf from your project's directory)") from None

    with cli_errors("hooks resume"):
        value = parse_json(payload, "the payload")
        import_from_project()  # a typed hook checks its payload against the user's class
        _check_database(resolve_url(db), f"no live run holds hook token {token!r}")
        run_id = run_async(main)
    error_console().print(
        f"delivered to hook {token!r} of run {run_id}", markup=False, highlight=False
    )
    typer.echo(run_id)


@app.command("send", context_settings=_PAYLOAD_SETTINGS)
def send_command(
    run_id: Annotated[
        str,
        typer.Argument(metavar="RUN_ID", help="The run to send to.", show_default=False),
    ],
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="The message name the run waits on with wf.receive(NAME).",
            show_default=False,
        ),
    ],
    payload: PayloadArgument,
    db: DbOption = None,
) -> None:
    """Send message NAME with a JSON payload to a run (taken by wf.receive(NAME)).

    The message waits in the run until it receives it. Exit status: 0 queued,
    1 when there is no such run or it already ended, 2 for usage errors such
    as a payload that is not JSON.
    """

    async def main() -> None:
        async with wf.Engine(db, worker=False) as engine:
            try:
                await engine.send(run_id, name, value)
            except StoreError:
                raise
            except ValueError as exc:  # an empty message name
                raise CliError(str(exc)) from None
            except (RunNotFoundError, WorkflowError) as exc:
                raise CliError(str(exc), EXIT_FAILED) from None

    with cli_errors("send"):
        value = parse_json(payload, "the payload")
        _check_database(resolve_url(db), f"no run with id {run_id!r}")
        run_async(main)
    error_console().print(f"sent {name!r} to run {run_id}", markup=False, highlight=False)
