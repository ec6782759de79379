"""Shared by the ``wf run`` / ``wf worker`` / ``wf runs`` tests: a throwaway project
directory holding a workflow module, a database URL, and ways to run the CLI on it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

import wf
from wf.cli import _register, app
from wf.runtime._events import Event
from wf.store._protocol import RunRecord

# Placeholders are filled per test; LOG is where steps append one line per execution.
FLOWS = """\
import asyncio
import wf

LOG = {log!r}


def note(line: str) -> None:
    with open(LOG, "a") as file:
        file.write(line + "\\n")


async def double(x: int) -> int:
    "use step"
    note(f"double {{x}}")
    return x * 2


async def record(name: str) -> str:
    "use step"
    note(name)
    return name


async def pipeline(n: int, label: str = "x") -> dict:
    "use workflow"
    a = await double(n)
    await wf.sleep("10ms")
    return {{"label": label, "value": a}}


async def echo(a, b, c, d, e) -> list:
    "use workflow"
    await record("echo")
    return [a, b, c, d, e]


async def broken(n: int) -> int:
    "use workflow"
    await double(n)
    await wf.sleep("10ms")
    raise ValueError(f"bad input {{n}}")


async def broken_at_once(n: int) -> int:
    "use workflow"
    raise ValueError(f"bad input {{n}}")


async def resumable(pause: str) -> list:
    "use workflow"
    first = await record("first")
    await wf.sleep(pause)
    second = await record("second")
    return [first, second]


async def sleepy() -> str:
    "use workflow"
    await wf.sleep("1h")
    return "woke"


def plain_function() -> int:
    return 1
"""


@dataclass
class Project:
    """A directory with one workflow module ``module`` and a database ``db`` in it."""

    path: Path
    module: str
    db: str
    log: Path

    def target(self, function: str) -> str:
        return f"{self.module}:{function}"

    @property
    def on_sqlite(self) -> bool:
        return self.db.startswith("sqlite")

    def database_made(self) -> bool:
        """Whether wf made its database yet (a SQLite file; a PostgreSQL server's
        database exists from the start)."""
        return not self.on_sqlite or (self.path / "wf.db").exists()

    def executions(self) -> list[str]:
        """Lines the steps wrote, one per execution."""
        if not self.log.exists():
            return []
        return self.log.read_text().splitlines()

    def write_module(self, name: str, source: str) -> str:
        (self.path / f"{name}.py").write_text(source)
        return name


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    _register()
    return CliRunner().invoke(app, list(args), env=env)


def wf_process(project: Project, *args: str) -> subprocess.Popen[str]:
    """``python -m wf.cli ARGS`` in the project directory."""
    env = {k: v for k, v in os.environ.items() if k != "WF_DATABASE_URL"}
    return subprocess.Popen(
        [sys.executable, "-m", "wf.cli", *args],
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def serve_process(project: Project, *args: str, port: int = 0) -> tuple[subprocess.Popen[str], str]:
    """``wf serve ARGS`` on the project's database; the process and the URL it serves."""
    proc, line = serve_banner(project, *args, port=port)
    return proc, line.split()[4]


def serve_banner(project: Project, *args: str, port: int = 0) -> tuple[subprocess.Popen[str], str]:
    """``wf serve ARGS`` on the project's database; the process and the line it printed
    once listening."""
    proc = wf_process(project, "serve", *args, "--db", project.db, "--port", str(port))
    line = proc.stderr.readline() if proc.stderr is not None else ""
    if not line.startswith("wf serve: listening on "):
        proc.kill()
        _out, err = proc.communicate()
        raise AssertionError(f"wf serve did not start: {line}{err}")
    return proc, line


def with_engine(db: str, use: Callable[[wf.Engine], Any]) -> Any:
    """Run ``await use(engine)`` on an engine that only observes (no worker)."""

    async def main() -> Any:
        async with wf.Engine(db, worker=False) as engine:
            return await use(engine)

    return asyncio.run(main())


def events_of(db: str, run_id: str) -> list[Event]:
    return list(with_engine(db, lambda engine: engine.store.load_events(run_id)))


def record_of(db: str, run_id: str) -> RunRecord | None:
    found: RunRecord | None = with_engine(
        db, lambda engine: engine.store.get_run(run_id, now=engine.clock.now())
    )
    return found


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def json_out(result: Result) -> Any:
    return json.loads(result.stdout)
