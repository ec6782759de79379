"""``wf run MODULE:FUNCTION [ARGS...]``: start a workflow run and follow it to its end."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import enum
import importlib
import inspect
import json
import os
import sys
import traceback
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

import wf
from wf._errors import CompileError, StoreError, WorkflowError
from wf._names import lookup, split
from wf.cli._app import app
from wf.cli._common import (
    EXIT_FAILED,
    CliError,
    DbOption,
    Interrupted,
    check_writable,
    cli_errors,
    error_console,
    fail,
    import_from_project,
    parse_arg,
    parse_kwargs,
    run_async,
)
from wf.cli._view import PlainLog, RunView, data_value, error_text
from wf.runtime import _serde
from wf.runtime._kinds import is_compiled_step, is_workflow
from wf.runtime._limits import check_run_id
from wf.runtime._redact import redact_request
from wf.runtime._registry import workflow_id_of
from wf.store._protocol import FINISHED, RunRecord

__all__ = ["import_target", "print_outcome", "run_command", "to_json"]

_POLL = 0.1
_WF_DIR = os.path.dirname(os.path.dirname(os.path.abspath(wf.__file__)))


def _split_target(target: str) -> tuple[str, str]:
    if target.startswith("-"):
        raise CliError(f"no such option: {target}")
    try:
        module, qualname = split(target)
    except ValueError:
        module = qualname = ""
    if not module.strip() or not qualname.strip():
        raise CliError(
            f"expected MODULE:FUNCTION (e.g. orders.flows:process_order), not {target!r}"
        )
    if module.endswith(".py") or "/" in module or os.sep in module:
        raise CliError(_path_message(module, qualname))
    return module, qualname


def _path_message(module: str, qualname: str) -> str:
    """What to say when ``MODULE`` is a file path (``flows.py``, ``pkg/mod.py``, ``../x``)."""
    path = module.replace(os.sep, "/").removesuffix(".py")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not path.startswith("/") and parts and all(part.isidentifier() for part in parts):
        # Below the current directory, the path spells the module name.
        dotted = ".".join(parts)
        return (
            f"{module!r} is a file path; name the module as Python imports it: {dotted}:{qualname}"
        )
    # Outside it (`../x`, `/abs/x.py`) or not made of identifiers, no module name
    # can be derived: turning the path into dots would suggest nonsense like `...x`.
    message = (
        f"{module!r} is a file path; wf run expects a module name, importable from the"
        " current directory or sys.path"
    )
    name = parts[-1] if parts else ""
    if name.isidentifier():
        directory = os.path.dirname(module) or "."
        message += f" (such as {name}: cd {directory} && wf run {name}:{qualname})"
    return message


def _import_failure(module: str, exc: BaseException) -> CliError:
    """The message for a module that exists but raised while being imported."""
    if isinstance(exc, CompileError):
        return CliError(f"cannot compile module {module!r}:\n{exc}")
    if isinstance(exc, SyntaxError):
        text = "".join(traceback.format_exception_only(exc)).rstrip()
        return CliError(f"cannot import module {module!r}:\n{text}")
    summary = traceback.TracebackException.from_exception(exc)
    # Frames of importlib and of wf itself only hide where the user's code failed.
    summary.stack = traceback.StackSummary.from_list(
        [
            frame
            for frame in summary.stack
            if not frame.filename.startswith("<frozen") and not frame.filename.startswith(_WF_DIR)
        ]
    )
    text = "".join(summary.format()).rstrip()
    return CliError(f"importing module {module!r} raised an error:\n{text}")


def import_target(target: str) -> tuple[Any, str]:
    """Import ``MODULE`` of ``MODULE:FUNCTION`` through the wf compiler; return the
    function and its workflow id.

    Raises :class:`CliError` (usage) for every way the spec can be wrong.
    """
    module_name, qualname = _split_target(target)
    import_from_project()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise CliError(
                f"no module named {module_name!r} (searched the current directory {os.getcwd()}"
                " and sys.path)"
            ) from None
        raise _import_failure(module_name, exc) from None
    except Exception as exc:
        raise _import_failure(module_name, exc) from None
    try:
        obj = lookup(module, qualname)
    except AttributeError:
        raise CliError(_missing_function(module, module_name, qualname)) from None
    not_a_workflow = _not_a_workflow(f"{module_name}:{qualname}", obj)
    if not_a_workflow is not None:
        raise CliError(not_a_workflow)
    try:
        return obj, workflow_id_of(obj)
    except WorkflowError as exc:
        raise CliError(str(exc)) from None


def _not_a_workflow(spec: str, obj: Any) -> str | None:
    """Why ``obj`` cannot be run, naming it as the user wrote it (its repr may be just
    ``5``); None when it is marked as a workflow."""
    if is_workflow(obj):
        return None
    hint = 'name an `async def` function whose first statement is "use workflow"'
    if inspect.isclass(obj):
        return f"{spec} is a class, not a workflow: {hint}"
    if not inspect.isfunction(obj):
        return f"{spec} is a value of type {type(obj).__name__}, not a workflow: {hint}"
    if is_compiled_step(obj):
        return (
            f"{spec} is a step, not a workflow: steps run inside a workflow; run one that calls it"
        )
    return (
        f'{spec} is not a workflow: mark it with "use workflow" as the first statement'
        " of an `async def` body"
    )


def _missing_function(module: ModuleType, module_name: str, qualname: str) -> str:
    found = sorted(
        name
        for name, value in vars(module).items()
        if is_workflow(value) and getattr(value, "__module__", None) == module_name
    )
    message = f"module {module_name!r} has no function {qualname!r}"
    if found:
        message += f"; its workflows: {', '.join(found)}"
    return message


def _bind(fn: Any, workflow_id: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    # Checked before the engine opens: an open engine is a worker that may
    # already be claiming other runs by the time start() would complain.
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise CliError(f"wrong arguments for workflow {workflow_id}: {exc}") from None


def _check_args(raw: list[str]) -> list[Any]:
    values = []
    for text in raw:
        value = parse_arg(text)
        # Unknown options reach us as arguments (so that negative numbers work):
        # a non-JSON "-x" is far more likely a mistyped option than a string.
        if isinstance(value, str) and text.startswith("-"):
            raise CliError(
                f"no such option: {text} (to pass a string that starts with '-',"
                f" write it as JSON: '\"{text}\"')"
            )
        values.append(value)
    return values


def to_json(value: Any) -> str:
    """A run result as JSON text; values JSON cannot hold become their closest JSON form."""
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.asdict(value)
        # A webhook request's credential headers are never printed (see _redact).
        return redact_request(fields) if isinstance(value, wf.Request) else fields
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, enum.Enum):
        return value.value
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json")
    return str(value)


async def _follow(
    engine: wf.Engine, run_id: str, workflow_id: str, console: Console, *, quiet: bool
) -> RunRecord:
    """Poll the run's log and show its progress until it ends (``quiet``: only wait)."""
    view = RunView(run_id, workflow_id)
    log = PlainLog(view)
    last = -1
    terminal = console.is_terminal and not quiet
    live = Live(console=console, refresh_per_second=10) if terminal else None
    with live if live is not None else contextlib.nullcontext():
        while True:
            # Status first: a finished run's last events were committed with its
            # status, so the read below cannot miss them.
            try:
                record = await engine.get_run(run_id).describe()
            except wf.RunNotFoundError:
                raise CliError(f"run {run_id} disappeared from {engine.url}", EXIT_FAILED) from None
            if quiet:
                if record.status in FINISHED:
                    return record
                await engine.wait_finished(run_id, _POLL)
                continue
            lines = []
            async for event in engine.get_run(run_id).events(after=last):
                last = event.seq
                lines += view.apply(event)
            if record.status == "failed" and not view.outcome and record.error:
                view.outcome = _error_summary(record)
            lines += view.set_status(record.status)
            if live is not None:
                live.update(view.render(max(5, console.size.height - 4)), refresh=True)
            else:
                for line in log.filter(lines):
                    console.print(line)
            if record.status in FINISHED:
                return record
            await engine.wait_finished(run_id, _POLL)


def _error_summary(record: RunRecord) -> str:
    return error_text(data_value(record.error))


def _error_traceback(record: RunRecord) -> str:
    error = data_value(record.error)
    if isinstance(error, dict):
        return str(error.get("traceback") or "")
    return ""


@app.command(
    "run",
    context_settings={"ignore_unknown_options": True},
)
def run_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:FUNCTION",
            help='The workflow to run: an importable module and a "use workflow" function in it.',
            show_default=False,
        ),
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ARGS",
            help="Positional arguments, each parsed as JSON where it parses"
            " (3, true, '{\"a\": 1}', '\"007\"') and passed as a string otherwise.",
            show_default=False,
        ),
    ] = None,
    kwargs: Annotated[
        str | None,
        typer.Option(
            "--kwargs",
            metavar="JSON",
            help='Keyword arguments as a JSON object, e.g. \'{"label": "x"}\'.',
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="Id of the run. Starting an id that exists resumes or shows that run"
            " instead of starting another.",
            show_default=False,
        ),
    ] = None,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach",
            help="Only enqueue the run and print its id; a `wf worker` executes it.",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Show no progress: only the result on stdout (a failure still goes to stderr).",
        ),
    ] = False,
) -> None:
    """Run a workflow and print its result as JSON on stdout; progress goes to stderr.

    Exit status: 0 when the run completed, 1 when it failed or was cancelled,
    2 for usage errors, 130 when interrupted (the run resumes with the same
    --run-id, or on `wf worker`).
    """
    console = error_console()
    started: list[str] = []

    async def main() -> RunRecord | str:
        async with wf.Engine(db, worker=not detach) as engine:
            try:
                run = await engine.start(fn, *values, run_id=run_id, **keywords)
            except (TypeError, ValueError) as exc:
                raise CliError(str(exc)) from None
            except StoreError:
                raise
            except WorkflowError as exc:
                raise CliError(str(exc)) from None
            started.append(run.id)
            if detach:
                return run.id
            return await _follow(engine, run.id, workflow_id, console, quiet=quiet)

    with cli_errors("run"):
        if run_id is not None:
            try:
                check_run_id(run_id)  # before the engine opens (and maybe creates a database)
            except ValueError as exc:
                raise CliError(f"--run-id: {exc}") from None
        keywords = parse_kwargs(kwargs)
        values = _check_args(args or [])
        fn, workflow_id = import_target(target)
        _bind(fn, workflow_id, values, keywords)
        if not detach:
            check_writable(db)
        try:
            outcome = run_async(main)
        except Interrupted as exc:
            if started:
                console.print(
                    f"run {started[0]} stopped here; it resumes with"
                    f" `wf run {target} --run-id {started[0]}` or on a `wf worker`",
                    markup=False,
                    highlight=False,
                )
            raise exc
    if isinstance(outcome, str):
        console.print(
            f"started run {outcome} of {workflow_id}; a `wf worker` on this database runs it",
            markup=False,
            highlight=False,
        )
        sys.stdout.write(outcome + "\n")
        return
    print_outcome(outcome, "run")


def print_outcome(record: RunRecord, command: str) -> None:
    """A finished run's result as JSON on stdout, or its error on stderr and exit 1."""
    if record.status == "completed":
        try:
            result = _serde.loads(record.result or "null")
        except Exception:
            # The value cannot be rebuilt here (a class moved): show what the log holds.
            result = data_value(record.result)
        sys.stdout.write(to_json(result) + "\n")
        return
    if record.status == "cancelled":
        fail(command, f"run {record.run_id} was cancelled", EXIT_FAILED)
    fail(
        command,
        f"run {record.run_id} failed: {_error_summary(record)}",
        EXIT_FAILED,
        detail=_error_traceback(record),
    )
