"""Failures of the database under a running engine, made real on real SQLite files: a
lock held longer than SQLite waits, writes the database refuses for one run, a database
that is or becomes read-only. What a user relies on: nothing committed is lost, a run
the database refuses fails alone, a database that cannot be written stops the worker
with one error, and the log says each thing once, not on every retry."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fault_support import (
    refused_run_fails_alone,
    reset_flows,  # noqa: F401 (an autouse fixture)
    until,
    wf_records,
)

import wf
from flows import faults
from wf.runtime._events import STEP_COMPLETED, Event
from wf.store._commands import (
    AppendEvent,
    Batch,
    Command,
    ConsumeInbox,
    RegisterHook,
    StartChild,
    UpdateRun,
    WatchRun,
)
from wf.store._faults import BROKEN, REFUSED, TRANSIENT, Backoff
from wf.store._sqlite import sqlite_fault

REPO = Path(__file__).resolve().parents[2]


def db_path(sqlite_url: str) -> str:
    return sqlite_url[len("sqlite:///") :]


def engine_on(
    sqlite_url: str, commits: str, *, busy_timeout: float | None = None, **options: object
) -> wf.Engine:
    """An engine whose group commit is a loop callback (``sync``, SQLite's way) or the
    flusher task awaiting the store (``awaited``). ``busy_timeout``: how long SQLite
    waits for a lock before it reports the database locked (10 s by default, which
    would only make a test slow)."""
    engine = wf.Engine(sqlite_url, **options)  # type: ignore[arg-type]
    if busy_timeout is not None:
        engine.store.busy_timeout = busy_timeout  # type: ignore[attr-defined]
    if commits == "awaited":
        # The store seen as one whose commits must be awaited (a network database's
        # are): the engine then commits from its flusher task.
        engine.store.sync_commits = False
    return engine


@pytest.mark.parametrize("commits", ["sync", "awaited"])
async def test_a_lock_held_longer_than_sqlite_waits_delays_commits_without_losing_them(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, commits: str
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    engine = engine_on(sqlite_url, commits, busy_timeout=0.05, poll_interval=0.05)
    locker = sqlite3.connect(db_path(sqlite_url), isolation_level=None)
    try:
        async with engine:
            # Commits are loop callbacks only for a store whose commits are not awaited.
            assert (engine._committer._commit_sync is None) == (commits == "awaited")
            await asyncio.sleep(0.05)  # the worker's first poll and lease renewal are done
            runs = [await engine.start(faults.paced, f"r{i}", 5, 0.05) for i in range(10)]
            await until(lambda: sum(faults.CALLS.values()) >= 10)
            locker.execute("BEGIN EXCLUSIVE")  # another process writes, for 1.5 s
            await asyncio.sleep(1.5)
            locker.execute("COMMIT")
            results = [await run.result(timeout=30) for run in runs]
    finally:
        locker.close()
    assert results == [0 + 1 + 2 + 3 + 4] * 10
    assert {f"r{i}": 5 for i in range(10)} == faults.CALLS  # each step ran once
    records = wf_records(caplog)
    messages = [r.getMessage() for r in records]
    # The first failure, with its traceback; then one line when commits work again.
    assert "committing to the database failed; trying again with back-off" in messages[0]
    assert "database" in messages[0] and "locked" in messages[0]
    assert records[0].exc_info is not None
    assert any("committing to the database works again after" in m for m in messages)
    assert len(records) <= 4, messages  # not a line per attempt


async def test_a_worker_polling_a_locked_database_backs_off_and_logs_once(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    soon = datetime.now(UTC) + timedelta(seconds=0.3)
    async with wf.Engine(sqlite_url, worker=False) as starter:
        later = await starter.start(faults.paced, "later", 1, 0.0, start_at=soon)
    engine = engine_on(sqlite_url, "sync", busy_timeout=0.02, poll_interval=0.02)
    locker = sqlite3.connect(db_path(sqlite_url), isolation_level=None)
    try:
        async with engine:
            await asyncio.sleep(0.05)  # the first lease renewal is done
            locker.execute("BEGIN EXCLUSIVE")
            await asyncio.sleep(1.3)  # once the run is due, a poll's claim meets the lock
            locker.execute("COMMIT")
            assert await engine.get_run(later.id).result(timeout=30) == 0
    finally:
        locker.close()
    messages = [r.getMessage() for r in wf_records(caplog)]
    assert "polling the database for due runs failed" in messages[0]
    assert any("polling the database for due runs works again" in m for m in messages)
    assert len(messages) <= 4, messages


def locked_error(path: str) -> sqlite3.OperationalError:
    """The error SQLite raises for a database another connection holds locked."""
    holder = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        holder.close()
        other.close()
    raise AssertionError("the database was not locked")


async def test_a_claimed_run_whose_log_cannot_be_read_for_a_moment_is_not_failed(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    async with wf.Engine(sqlite_url, worker=False) as starter:
        run = await starter.start(faults.paced, "later", 2, 0.0)
    error = locked_error(db_path(sqlite_url))
    assert error.sqlite_errorcode == sqlite3.SQLITE_BUSY
    engine = wf.Engine(sqlite_url, poll_interval=0.02)
    real = engine.store.load_events
    failures: list[str] = []

    async def load_events(run_id: str, after: int = -1) -> list[Event]:
        if not failures:  # the read after the claim meets a lock, once
            failures.append(run_id)
            raise error
        return await real(run_id, after)

    engine.store.load_events = load_events  # type: ignore[method-assign]
    async with engine:
        assert await engine.get_run(run.id).result(timeout=10) == 1
    assert failures == [run.id]
    messages = [r.getMessage() for r in wf_records(caplog)]
    assert "polling the database for due runs failed" in messages[0]
    assert "works again" in messages[1]
    assert len(messages) == 2, messages


# -- writes the database refuses for one run -----------------------------------------------


@pytest.mark.parametrize("commits", ["sync", "awaited"])
async def test_a_run_whose_writes_the_database_refuses_fails_alone(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, commits: str
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    admin = sqlite3.connect(db_path(sqlite_url), isolation_level=None)
    try:
        # A rule of the database (a trigger another application added) refuses the
        # results of one run's steps.
        await refused_run_fails_alone(
            engine_on(sqlite_url, commits, poll_interval=0.05),
            caplog,
            refuse=lambda: admin.execute(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON events"
                " WHEN NEW.run_id = 'poison' AND NEW.kind = 'step_completed'"
                " BEGIN SELECT RAISE(ABORT, 'no step results for run poison'); END"
            ),
            accept=lambda: admin.execute("DROP TRIGGER refuse_poison"),
        )
    finally:
        admin.close()


async def test_a_run_whose_next_log_entry_exists_already_fails_alone(sqlite_url: str) -> None:
    faults.GATE = asyncio.Event()
    other = sqlite3.connect(db_path(sqlite_url), isolation_level=None)
    try:
        async with wf.Engine(sqlite_url, poll_interval=0.05) as engine:
            clash = await engine.start(faults.gated, "clash", 2, run_id="clash")
            fine = await engine.start(faults.gated, "fine", 2, run_id="fine")
            await until(lambda: len(faults.CALLS) == 2)
            # Another writer (a second worker that believes it holds the run) logged the
            # entry this worker is about to write, under the same sequence number.
            (last,) = other.execute("SELECT max(seq) FROM events WHERE run_id = 'clash'").fetchone()
            other.execute(
                "INSERT INTO events VALUES ('clash', ?, 'step_completed', 0, 'x', '0', 0)",
                (last + 1,),
            )
            faults.GATE.set()
            assert await fine.result(timeout=10) == 1
            with pytest.raises(wf.RunFailedError, match="UNIQUE constraint failed"):
                await clash.result(timeout=10)
    finally:
        other.close()


async def test_a_run_whose_failure_cannot_be_recorded_either_is_given_up_once(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    faults.GATE = asyncio.Event()
    admin = sqlite3.connect(db_path(sqlite_url), isolation_level=None)
    try:
        async with wf.Engine(sqlite_url, poll_interval=0.05) as engine:
            stuck = await engine.start(faults.gated, "stuck", 2, run_id="stuck")
            other = await engine.start(faults.gated, "other", 2, run_id="other")
            await until(lambda: len(faults.CALLS) == 2)
            # Its log is refused, and so is recording that it failed.
            admin.execute(
                "CREATE TRIGGER refuse_events BEFORE INSERT ON events WHEN NEW.run_id = 'stuck'"
                " BEGIN SELECT RAISE(ABORT, 'not this run'); END"
            )
            admin.execute(
                "CREATE TRIGGER refuse_failure BEFORE UPDATE OF status ON runs"
                " WHEN NEW.run_id = 'stuck' AND NEW.status = 'failed'"
                " BEGIN SELECT RAISE(ABORT, 'not this run'); END"
            )
            faults.GATE.set()
            assert await other.result(timeout=10) == 1
            await until(lambda: len(wf_records(caplog)) >= 2)
            await asyncio.sleep(0.3)  # nothing more is tried, or logged
            assert not engine.holds(stuck.id)
    finally:
        admin.close()
    messages = [r.getMessage() for r in wf_records(caplog)]
    assert len(messages) == 2, messages
    assert "run stuck failed: the database refused to record its progress" in messages[0]
    assert "refused to record that run stuck failed" in messages[1]


# -- a database that is or becomes read-only ---------------------------------------------


@pytest.mark.parametrize("commits", ["sync", "awaited"])
async def test_a_database_that_becomes_read_only_stops_the_worker_with_one_error(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, commits: str
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    faults.GATE = asyncio.Event()
    async with engine_on(sqlite_url, commits, poll_interval=0.02) as engine:
        await asyncio.sleep(0.05)  # the worker's first poll and lease renewal are done
        stopped = asyncio.ensure_future(engine.wait_stopped())
        runs = [await engine.start(faults.gated, f"r{i}", 2) for i in range(3)]
        await until(lambda: len(faults.CALLS) == 3)
        # The database refuses every write from now on, as a read-only file does
        # (this connection only: SQLite's query_only, the same error as a read-only file).
        engine.store.conn.execute("PRAGMA query_only = 1")  # type: ignore[attr-defined]
        faults.GATE.set()  # three results to commit
        with pytest.raises(wf.StoreError, match="it is read-only") as raised:
            await asyncio.wait_for(stopped, 10)
        assert engine.failure is raised.value
        assert not engine.holds(runs[0].id)
        await asyncio.sleep(0.3)
        # Reading still works; the runs wait, as recorded, for a worker that can write.
        assert [await run.status() for run in runs] == ["running"] * 3
    assert wf_records(caplog) == []  # the error went to wait_stopped, and nowhere else


async def test_a_full_database_stops_the_worker_with_one_error(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    async with wf.Engine(sqlite_url, poll_interval=0.02) as engine:
        await asyncio.sleep(0.05)  # the worker's first poll and lease renewal are done
        stopped = asyncio.ensure_future(engine.wait_stopped())
        conn = engine.store.conn  # type: ignore[attr-defined]
        # No room for one more page, as on a full disk (SQLite reports the same error).
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages}")
        run = await engine.start(faults.writes_much, 1_000_000)
        with pytest.raises(wf.StoreError, match="the disk is full"):
            await asyncio.wait_for(stopped, 10)
        conn.execute("PRAGMA max_page_count = 1073741823")
        assert await run.status() == "running"  # its result was not written
    assert wf_records(caplog) == []


async def test_an_idle_worker_whose_database_becomes_read_only_stops(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    async with wf.Engine(sqlite_url, poll_interval=0.02, lease=0.6) as engine:
        await asyncio.sleep(0.05)  # the worker's first poll and lease renewal are done
        engine.store.conn.execute("PRAGMA query_only = 1")  # type: ignore[attr-defined]
        # The next lease renewal (every lease / 3) meets it.
        with pytest.raises(wf.StoreError, match="it is read-only"):
            await asyncio.wait_for(engine.wait_stopped(), 5)
    assert wf_records(caplog) == []


async def test_a_stopped_worker_does_not_take_new_runs_into_memory(sqlite_url: str) -> None:
    async with wf.Engine(sqlite_url, poll_interval=0.02, lease=0.6) as engine:
        engine.store.conn.execute("PRAGMA query_only = 1")  # type: ignore[attr-defined]
        with pytest.raises(wf.StoreError):
            await asyncio.wait_for(engine.wait_stopped(), 5)
        engine.store.conn.execute("PRAGMA query_only = 0")  # type: ignore[attr-defined]
        run = await engine.start(faults.paced, "late", 1, 0.0)
        assert not engine.holds(run.id)
        assert await run.status() == "pending"  # for a worker that runs


@pytest.fixture(scope="module")
def unprivileged() -> list[str]:
    """A command prefix under which file permissions hold (as in tests/cli/test_environment:
    root runs the command in a new user namespace, where a mode of 0o444 refuses writes)."""
    if os.geteuid() != 0:
        return []
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--user", "true"]).returncode != 0:
        pytest.skip("running as root without `unshare --user`: permissions cannot be tested")
    return [unshare, "--user"]


_WORKER = textwrap.dedent(
    """
    import asyncio, logging, sys
    import wf

    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(message)s")

    async def main():
        async with wf.Engine(sys.argv[1], poll_interval=0.02) as engine:
            try:
                await asyncio.wait_for(engine.wait_stopped(), 10)
            except wf.StoreError as exc:
                print("stopped:", exc)
            print("runs:", [(r.run_id, r.status) for r in await engine.list_runs()])

    asyncio.run(main())
    """
)


async def test_a_python_worker_on_a_read_only_database_stops_with_one_error(
    sqlite_url: str, unprivileged: list[str]
) -> None:
    async with wf.Engine(sqlite_url, worker=False) as engine:
        await engine.start(faults.paced, "due", 1, 0.0, run_id="due")  # a poll would claim it
    path = Path(db_path(sqlite_url))
    path.chmod(0o444)
    try:
        done = subprocess.run(
            [*unprivileged, sys.executable, "-c", _WORKER, sqlite_url],
            cwd=path.parent,
            env={**os.environ, "PYTHONPATH": str(REPO)},  # this checkout's wf
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        path.chmod(0o644)
    assert done.returncode == 0, done.stderr
    problem = (
        f"cannot write to the database {path}: it is read-only for this user (wf"
        " writes to the file and creates its -wal and -shm files beside it: the file and"
        " its directory must be writable)"
    )
    # It stopped at its first lease renewal, before anyone waited for it, so it also said
    # so in the log: once, without a traceback, and nothing per poll.
    assert done.stderr == f"ERROR wf: the worker stopped: {problem}\n"
    stopped, runs = done.stdout.splitlines()
    assert stopped == f"stopped: {problem}"
    assert runs == "runs: [('due', 'pending')]"


# -- the pieces ------------------------------------------------------------------------------


def _error(code: int) -> sqlite3.Error:
    exc = sqlite3.OperationalError("error")
    exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (sqlite3.SQLITE_BUSY, TRANSIENT),
        (sqlite3.SQLITE_BUSY_SNAPSHOT, TRANSIENT),
        (sqlite3.SQLITE_LOCKED, TRANSIENT),
        (sqlite3.SQLITE_IOERR_SHORT_READ, TRANSIENT),
        (sqlite3.SQLITE_READONLY, BROKEN),
        (sqlite3.SQLITE_READONLY_DBMOVED, BROKEN),
        (sqlite3.SQLITE_FULL, BROKEN),
        (sqlite3.SQLITE_NOTADB, BROKEN),
        (sqlite3.SQLITE_CORRUPT, BROKEN),
        (sqlite3.SQLITE_ERROR, BROKEN),  # SQL the schema does not answer: a table gone
        (sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, REFUSED),
        (sqlite3.SQLITE_CONSTRAINT_TRIGGER, REFUSED),
        (sqlite3.SQLITE_TOOBIG, REFUSED),
        (sqlite3.SQLITE_MISMATCH, REFUSED),
    ],
)
def test_sqlite_errors_are_transient_broken_or_refusals(code: int, kind: str) -> None:
    assert sqlite_fault(_error(code), "/d/wf.db").kind == kind


def test_errors_raised_before_sqlite_runs_a_statement_are_refusals() -> None:
    assert sqlite_fault(OverflowError("Python int too large to convert")).kind == REFUSED
    assert sqlite_fault(sqlite3.ProgrammingError("Error binding parameter 1")).kind == REFUSED
    assert sqlite_fault(wf.StoreError("the store is not open")).kind == BROKEN


def test_a_batch_splits_by_the_run_each_command_belongs_to() -> None:
    done = Event(1, STEP_COMPLETED, 0, "s", None, 0.0)
    commands: list[Command] = [
        AppendEvent("a", done),
        AppendEvent("b", done),
        UpdateRun("b", status="completed"),
        ConsumeInbox("b", 7),
        ConsumeInbox("a", 8),
        StartChild("a", "kid", "m:w", "{}", 0.0, 2),
        WatchRun("b", "x", 3),
        RegisterHook("a", "tok", 4, "m:T", "{}"),
    ]
    batch = Batch()
    for command in commands:
        batch.add(command)
    parts = batch.by_run()
    # In order of first appearance, kind by kind (children first).
    assert list(parts) == ["a", "b"]
    assert list(parts["a"]) == [commands[5], commands[7], commands[0], commands[4]]
    assert list(parts["b"]) == [commands[6], commands[1], commands[3], commands[2]]
    assert len(batch) == 8 and batch.run_ids() == {"a", "b"}


def test_backoff_doubles_with_jitter_up_to_its_cap_and_logs_each_streak_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    backoff = Backoff("doing it", first=0.1, cap=1.0, every=5)
    delays = [backoff.failed(OSError("no")) for _ in range(12)]
    for n, delay in enumerate(delays):
        step = min(1.0, 0.1 * 2**n)
        assert step / 2 <= delay <= step
    backoff.succeeded()
    backoff.succeeded()  # nothing to say: it worked already
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "wf: doing it failed; trying again with back-off: OSError: no"
    assert caplog.records[0].exc_info is not None
    assert messages[1].startswith("wf: doing it still failing (5 attempts over ")
    assert messages[2].startswith("wf: doing it still failing (10 attempts over ")
    assert messages[3].startswith("wf: doing it works again after 12 failed attempts (")
    assert len(messages) == 4
    assert backoff.failures == 0
