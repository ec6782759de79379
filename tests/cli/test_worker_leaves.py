"""``wf worker`` processes that cannot run a run leave it to one that can, status says
what is true after a worker dies, and a worker stops when its database file goes away.

Every test runs real ``wf worker`` processes on one SQLite file.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from wfcli_support import Project, events_of, invoke, record_of, wait_until, with_engine

from wf.runtime._events import STEP_COMPLETED

# One workflow in a module of its own; {version} and {log} are filled per directory.
VERSIONED = """\
import wf

LOG = {log!r}


async def stamp(label: str) -> str:
    "use step"
    with open(LOG, "a") as file:
        file.write(label + "\\n")
    return label


@wf.options(version={version!r})
async def flow() -> str:
    "use workflow"
    return await stamp({version!r})
"""

# A run that blocks in its second step the first time it runs (so a worker can be
# killed while it holds the run), and finishes when a later worker runs that step again.
BLOCKING = """\
import asyncio
import os

import wf

MARK = {mark!r}


async def first() -> str:
    "use step"
    return "first"


async def second() -> str:
    "use step"
    if not os.path.exists(MARK):
        open(MARK, "w").close()
        await asyncio.sleep(3600)
    return "second"


async def flow() -> list:
    "use workflow"
    return [await first(), await second()]
"""


def _wf(cwd: Path, *args: str) -> subprocess.Popen[str]:
    """``python -m wf.cli ARGS`` started in ``cwd`` (which decides what it can import)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WF_DATABASE_URL", "PYTHONPATH")}
    return subprocess.Popen(
        [sys.executable, "-m", "wf.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _done(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return _done(proc)


def _start_detached(cwd: Path, db: str, target: str, run_id: str, *args: str) -> None:
    out, err = _done(_wf(cwd, "run", target, *args, "--detach", "--run-id", run_id, "--db", db))
    assert out.strip() == run_id, err


def _result(db: str, run_id: str) -> Any:
    return with_engine(db, lambda engine: engine.get_run(run_id).result(timeout=60))


def _show(db: str, run_id: str) -> tuple[str, dict[str, Any]]:
    text = invoke("runs", "show", run_id, "--db", db)
    assert text.exit_code == 0, text.stderr
    shown = invoke("runs", "show", run_id, "--db", db, "--json")
    assert shown.exit_code == 0, shown.stderr
    return text.stdout, json.loads(shown.stdout)["run"]


def _listed(db: str, status: str) -> list[str]:
    result = invoke("runs", "list", "--db", db, "--status", status, "--json")
    assert result.exit_code == 0, result.stderr
    return [run["run_id"] for run in json.loads(result.stdout)]


def _module_dir(project: Project, name: str, module: str, source: str) -> Path:
    directory = project.path / name
    directory.mkdir()
    (directory / f"{module}.py").write_text(source)
    return directory


def test_a_worker_of_another_version_leaves_the_run_once_and_the_right_worker_runs_it(
    project: Project,
) -> None:
    module = f"wfextra_{project.module}"
    log = project.path / "stamps.log"
    v1 = _module_dir(project, "v1", module, VERSIONED.format(log=str(log), version="v1"))
    v2 = _module_dir(project, "v2", module, VERSIONED.format(log=str(log), version="v2"))
    _start_detached(v1, project.db, f"{module}:flow", "old")

    wrong = _wf(v2, "worker", "--db", project.db)
    right: subprocess.Popen[str] | None = None
    try:
        # The v2 worker claims the v1 run, leaves it, and says why on the run.
        wait_until(
            lambda: (r := record_of(project.db, "old")) is not None and r.error is not None,
            what="the v2 worker to leave the run",
        )
        text, shown = _show(project.db, "old")
        assert shown["status"] == "pending"
        assert "needs version 'v1'" in text
        assert "has version 'v2'" in text
        assert "old" in _listed(project.db, "pending")
        # The v1 worker gets it at once: the v2 worker does not claim it again meanwhile.
        right = _wf(v1, "worker", "--db", project.db)
        assert _result(project.db, "old") == "v1"
    finally:
        _out, wrong_err = _stop(wrong)
        if right is not None:
            _stop(right)
    assert log.read_text().splitlines() == ["v1"]
    left = [line for line in wrong_err.splitlines() if "run old left for a worker" in line]
    assert len(left) == 1, wrong_err
    text, shown = _show(project.db, "old")
    assert shown["status"] == "completed"
    assert shown["error"] is None  # the note went when a worker took the run


def test_a_worker_that_cannot_import_the_module_leaves_the_run_for_one_that_can(
    project: Project,
) -> None:
    _start_detached(project.path, project.db, project.target("pipeline"), "p1", "21")
    elsewhere = project.path / "elsewhere"
    elsewhere.mkdir()

    lost = _wf(elsewhere, "worker", "--db", project.db)
    try:
        wait_until(
            lambda: (r := record_of(project.db, "p1")) is not None and r.error is not None,
            what="the worker started elsewhere to leave the run",
        )
        text, shown = _show(project.db, "p1")
        assert shown["status"] == "pending"
        assert f"cannot import module {project.module!r}" in text
        assert "ModuleNotFoundError" in text
        assert project.executions() == []
        # A worker started in the project directory completes it.
        found = _wf(project.path, "worker", "--db", project.db)
        try:
            assert _result(project.db, "p1") == {"label": "x", "value": 42}
        finally:
            _stop(found)
    finally:
        _out, err = _stop(lost)
    assert lost.returncode == 0, err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "run p1 left for a worker" in line]) == 1
    assert project.executions() == ["double 21"]


def test_status_and_updated_tell_the_truth_while_running_and_after_a_sigkill(
    project: Project,
) -> None:
    module = project.write_module(
        f"wfextra_{project.module}", BLOCKING.format(mark=str(project.path / "blocked"))
    )
    _start_detached(project.path, project.db, f"{module}:flow", "b1")
    worker = _wf(project.path, "worker", "--db", project.db, "--lease", "2s")
    try:
        wait_until(lambda: (project.path / "blocked").exists(), what="the second step")
        record = record_of(project.db, "b1")
        assert record is not None and record.status == "running"
        # The first step's result was committed: `updated` moved with it.
        done = [e for e in events_of(project.db, "b1") if e.kind == STEP_COMPLETED]
        assert len(done) == 1
        assert record.updated_at >= done[0].at
        worker.send_signal(signal.SIGKILL)
        _done(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    killed_at = time.time()
    # Nobody renews the lease now: once it expires the run no longer reads as running.
    wait_until(
        lambda: (r := record_of(project.db, "b1")) is not None and r.status == "pending",
        what="the run to read as pending",
    )
    assert time.time() - killed_at < 30
    text, shown = _show(project.db, "b1")
    assert shown["status"] == "pending"
    assert "lease expired" in text
    assert "b1" in _listed(project.db, "pending")
    assert "b1" not in _listed(project.db, "running")
    # Another worker takes it over and finishes it.
    rescuer = _wf(project.path, "worker", "--db", project.db)
    try:
        assert _result(project.db, "b1") == ["first", "second"]
    finally:
        _stop(rescuer)


def _started(proc: subprocess.Popen[str]) -> None:
    line = proc.stderr.readline() if proc.stderr is not None else ""
    if "started" not in line:
        proc.kill()
        _out, err = proc.communicate()
        raise AssertionError(f"wf worker did not start: {line}{err}")


@pytest.mark.sqlite_only
def test_a_worker_whose_database_file_is_removed_stops_with_one_line(project: Project) -> None:
    path = project.path / "wf.db"
    worker = _wf(project.path, "worker", "--db", project.db)
    _started(worker)
    path.unlink()
    out, err = _done(worker, timeout=30)
    assert worker.returncode == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("wf worker: ")
    assert f"{path} was removed" in lines[0]


@pytest.mark.sqlite_only
def test_a_worker_whose_database_file_is_replaced_stops_with_one_line(project: Project) -> None:
    path = project.path / "wf.db"
    other = project.path / "other.db"
    with_engine(f"sqlite:///{other}", lambda engine: engine.list_runs())
    worker = _wf(project.path, "worker", "--db", project.db)
    _started(worker)
    os.replace(other, path)
    _out, err = _done(worker, timeout=30)
    assert worker.returncode == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"{path} was replaced" in lines[0]
    # Nothing was written into the file that took its place.
    assert with_engine(project.db, lambda engine: engine.list_runs()) == []


@pytest.mark.sqlite_only
def test_a_worker_whose_database_another_program_changed_stops_with_one_line(
    project: Project,
) -> None:
    path = project.path / "wf.db"
    worker = _wf(project.path, "worker", "--db", project.db)
    _started(worker)
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE inbox")  # the next poll reads it
    _out, err = _done(worker, timeout=30)
    assert worker.returncode == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0] == (
        f"wf worker: cannot use the database: the database {path} refused wf's SQL (no such"
        " table: inbox); its tables may have been changed by another program"
    )


def test_worker_refuses_a_lease_it_cannot_keep(project: Project) -> None:
    short = invoke("worker", "--lease", "1s", "--db", project.db)
    assert short.exit_code == 2
    assert "--lease must be at least 2s, not 1s" in short.stderr
    bad = invoke("worker", "--lease", "soon", "--db", project.db)
    assert bad.exit_code == 2
    assert "wf worker: --lease: " in bad.stderr
    assert not (project.path / "wf.db").exists()  # refused before opening anything
