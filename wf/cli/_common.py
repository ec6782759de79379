"""Pieces the run-related commands share: the ``--db`` option, argument parsing,
running an async main under signal handling, and turning errors into exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import traceback
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from wf._errors import StoreError
from wf.cli import _app
from wf.runtime._engine import DEFAULT_URL
from wf.runtime._limits import NestingError, load_json, local_datetime
from wf.store._sqlite import read_only_problem, sqlite_file, sqlite_problem

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "DbOption",
    "Interrupted",
    "JsonOption",
    "check_writable",
    "cli_errors",
    "database_missing",
    "error_console",
    "fail",
    "format_time",
    "import_from_project",
    "output_console",
    "parse_arg",
    "parse_json",
    "parse_kwargs",
    "report_error",
    "resolve_url",
    "run_async",
]

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="WF_DATABASE_URL",
        help=f"Database URL, e.g. sqlite:///path/to/wf.db. Default: {DEFAULT_URL}.",
        show_default=False,
    ),
]

JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print JSON instead of a table (for scripts)."),
]


class CliError(Exception):
    """A problem to report as one readable message on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Interrupted(Exception):
    """The command was stopped by SIGINT or SIGTERM after shutting down cleanly."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        # The shell convention for "terminated by signal N".
        return 128 + self.signum


def _console(*, stderr: bool, soft_wrap: bool = False) -> Console:
    # Strings are printed as they are, never read as Rich markup ("[/x]" in a run id
    # would raise, "[bold]" in a result would vanish) nor as emoji codes (a hook token
    # "payloads:lock:" would become a padlock): user data is everywhere in wf's output.
    # Styling is applied with rich.text.Text instead.
    return Console(stderr=stderr, soft_wrap=soft_wrap, highlight=False, markup=False, emoji=False)


def error_console() -> Console:
    """The console for messages and progress on stderr; prints strings verbatim."""
    # Created per call: CliRunner swaps sys.stderr for each invocation.
    return _console(stderr=True, soft_wrap=True)


def output_console() -> Console:
    """The console for tables on stdout; prints strings verbatim."""
    console = _console(stderr=False)
    if not console.is_terminal:
        # Piped into grep or a file, there is no screen to fit: never cut ids.
        console.width = max(console.width, 160)
    return console


def fail(command: str, message: str, code: int = EXIT_USAGE, *, detail: str = "") -> NoReturn:
    """Print ``wf COMMAND: message`` (and an optional plain detail block) and exit."""
    console = error_console()
    if detail:
        console.print(Text(detail.rstrip("\n"), style="dim"))
    console.print(Text(f"wf {command}: {message}", style="red"))
    raise typer.Exit(code)


@contextlib.contextmanager
def cli_errors(command: str) -> Iterator[None]:
    """Translate the errors every command can meet into a message and an exit code."""
    try:
        yield
    except (CliError, StoreError, Interrupted, OSError, sqlite3.Error) as exc:
        report_error(command, exc)


def report_error(command: str, exc: Exception) -> NoReturn:
    """``exc`` as one readable line on stderr and the exit code it calls for (2 unless it
    says otherwise); ``wf --debug`` prints its traceback first. Every error a command
    does not handle itself ends here (see ``wf.cli._app``), never as a bare traceback."""
    if _app.debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, CliError):
        fail(command, exc.message, exc.code)
    if isinstance(exc, Interrupted):
        fail(command, f"interrupted ({exc})", exc.exit_code)
    if isinstance(exc, StoreError):
        fail(command, f"cannot use the database: {exc}")
    if isinstance(exc, sqlite3.Error):
        fail(command, sqlite_problem(exc))
    if isinstance(exc, OSError):
        # The environment: a file or directory that cannot be read or written, a full disk.
        where = f": {exc.filename}" if exc.filename is not None else ""
        fail(command, f"{exc.strerror or exc}{where}")
    fail(
        command,
        f"unexpected error: {type(exc).__name__}: {exc} (a bug in wf; `wf --debug"
        f" {command} ...` shows where it happened)",
    )


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main`` to completion; SIGINT/SIGTERM cancel it and raise :class:`Interrupted`.

    Cancelling (instead of letting KeyboardInterrupt fly through whatever code
    happens to run) lets ``async with Engine`` release its leases, so a run
    resumes at once elsewhere. A second signal gets the default behaviour, as
    a way out if shutting down hangs.
    """
    received: list[int] = []

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        installed: list[int] = []

        def on_signal(signum: int) -> None:
            received.append(signum)
            for sig in installed:
                loop.remove_signal_handler(sig)
            installed.clear()
            if task is not None:
                task.cancel()

        for signum in (int(signal.SIGINT), int(signal.SIGTERM)):
            try:
                loop.add_signal_handler(signum, on_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread, or no signal support: plain Ctrl-C still works
            installed.append(signum)
        try:
            return await main()
        except asyncio.CancelledError:
            if received:
                raise Interrupted(received[0]) from None
            raise
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    try:
        return asyncio.run(guarded())
    except KeyboardInterrupt:
        raise Interrupted(signal.SIGINT) from None


def parse_arg(text: str) -> Any:
    """A command-line argument as JSON where it parses (``3``, ``'"x"'``, ``'{"a": 1}'``),
    else the text itself, so ``wf run m:f hello`` passes the string ``"hello"``.
    JSON nested deeper than wf accepts is refused, not passed on as a string."""
    try:
        return load_json(text, "an argument")
    except NestingError as exc:
        raise CliError(str(exc)) from None
    except ValueError:
        return text


def parse_json(text: str, what: str) -> Any:
    """A command-line argument that must be JSON (``what`` names it in the message).

    Unlike :func:`parse_arg` a bare word is refused: a payload typed as ``hello``
    is as likely a shell quoting slip as a string, and silently guessing would
    make ``007`` (an int) and ``'"007"'`` (a string) easy to confuse.
    """
    try:
        return load_json(text, what)
    except NestingError as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:
        if text.startswith("-") and len(text) > 1:
            raise CliError(
                f"no such option: {text} (to pass a string that starts with '-',"
                f" write it as JSON: '{json.dumps(text)}')"
            ) from None
        raise CliError(
            f"{what} is not valid JSON ({exc}): {text!r}; the payload must be JSON,"
            f" e.g. '{json.dumps(text, ensure_ascii=False)}' for a string"
        ) from None


def parse_kwargs(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = load_json(text, "--kwargs", below=1)  # the values sit inside the object
    except NestingError as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:
        raise CliError(f"--kwargs is not valid JSON ({exc}): {text}") from None
    if not isinstance(value, dict):
        raise CliError(f'--kwargs must be a JSON object such as \'{{"label": "x"}}\', not {text}')
    return value


def import_from_project() -> None:
    """Import the user's modules as ``python -m`` would: the current directory first on
    ``sys.path``, through the wf compiler. Every command that runs workflow code, or
    rebuilds the user's types (results, typed hook payloads), calls this first."""
    cwd = os.getcwd()
    if not sys.path or sys.path[0] != cwd:
        sys.path.insert(0, cwd)
    import wf

    wf.install_import_hook()


def check_writable(db: str | None) -> None:
    """Refuse (``CliError``) a database this process cannot write, before a command that
    runs a worker opens it (see ``read_only_problem``)."""
    problem = read_only_problem(resolve_url(db))
    if problem is not None:
        raise CliError(problem)


def resolve_url(db: str | None) -> str:
    """The URL the engine will use for ``--db`` (mirrors ``Engine``'s own fallback)."""
    return db or os.environ.get("WF_DATABASE_URL") or DEFAULT_URL


def database_missing(url: str) -> str | None:
    """The path of a SQLite database file that does not exist yet, else None.

    Read-only commands check this so that looking at runs from the wrong
    directory reports "no database" instead of silently creating an empty one.
    """
    path = sqlite_file(url)
    return None if path is None or os.path.exists(path) else path


def format_time(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    moment = local_datetime(timestamp)
    if moment is None:  # stored before times were checked: shown, never a crash
        return f"{timestamp!r} (epoch seconds, out of the date range)"
    return moment.strftime("%Y-%m-%d %H:%M:%S")
