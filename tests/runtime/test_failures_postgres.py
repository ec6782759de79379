"""Failures of a PostgreSQL server under a running engine, made real on the session's
server: connections killed by the server (``pg_terminate_backend``, as a restart or a
network cut does), writes a rule of the database refuses for one run, tables removed
from under a worker. What a user relies on: nothing committed is lost or written twice,
a run the database refuses fails alone, a database that cannot be used stops the
worker with one error."""

from __future__ import annotations

import asyncio
import logging

import psycopg
import pytest
from fault_support import (
    refused_run_fails_alone,
    reset_flows,  # noqa: F401 (an autouse fixture)
)

import wf
from flows import faults
from wf.runtime._events import STEP_COMPLETED
from wf.store._faults import BROKEN, REFUSED, TRANSIENT
from wf.store._postgres import postgres_fault, split_postgres_url


def admin(pg_url: str) -> psycopg.Connection[tuple[object, ...]]:
    conninfo, schema = split_postgres_url(pg_url)
    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute(f'SET search_path TO "{schema}"')
    return conn


def kill_wf_connections(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Terminate every connection of wf to this database (its writer, readers and
    listener), as a server restart does; how many there were."""
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name LIKE 'wf%'"
        " AND pid <> pg_backend_pid()"
    ).fetchall()
    return len(rows)


async def test_connections_killed_again_and_again_lose_nothing_and_run_no_step_twice(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    conn = admin(pg_url)
    try:
        async with wf.Engine(pg_url, poll_interval=0.05) as engine:
            runs = [await engine.start(faults.paced, f"r{i}", 8, 0.02) for i in range(12)]
            killed = 0
            for _ in range(8):
                await asyncio.sleep(0.07)
                killed += kill_wf_connections(conn)
            results = [await run.result(timeout=60) for run in runs]
            for run in runs:
                logged = [e.kind async for e in run.events()]
                assert logged.count(STEP_COMPLETED) == 8, (run.id, logged)
    finally:
        conn.close()
    assert killed >= 8
    assert results == [sum(range(8))] * 12
    # A commit whose connection died is made again; one that did reach the server is
    # not: every step ran once, its result logged once.
    assert {f"r{i}": 8 for i in range(12)} == faults.CALLS


async def test_a_server_that_refuses_connections_for_a_while_is_waited_out(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """As a server restarting: every connection cut, new ones refused for a second and a
    half. The worker waits (it does not stop) and every run finishes, each step once."""
    caplog.set_level(logging.WARNING, logger="wf")
    conninfo, _ = split_postgres_url(pg_url)
    database = conninfo.rsplit("/", 1)[1].split("?")[0]
    root = psycopg.connect(conninfo.rsplit("/", 1)[0] + "/postgres", autocommit=True)
    conn = admin(pg_url)
    try:
        async with wf.Engine(pg_url, poll_interval=0.05) as engine:
            runs = [await engine.start(faults.paced, f"r{i}", 6, 0.05) for i in range(6)]
            await asyncio.sleep(0.1)
            root.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            assert kill_wf_connections(conn) > 0
            await asyncio.sleep(1.5)
            assert engine.failure is None  # still waiting, not stopped
            root.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            results = [await run.result(timeout=60) for run in runs]
            assert engine.failure is None
    finally:
        root.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        root.close()
        conn.close()
    assert results == [sum(range(6))] * 6
    assert {f"r{i}": 6 for i in range(6)} == faults.CALLS


async def test_a_run_whose_writes_the_database_refuses_fails_alone(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wf")
    conn = admin(pg_url)

    def refuse() -> None:
        # A rule of the database (a trigger another application added) refuses the
        # results of one run's steps.
        conn.execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'no step results for run poison'"
            " USING ERRCODE = 'check_violation'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON events FOR EACH ROW"
            " WHEN (NEW.run_id = 'poison' AND NEW.kind = 'step_completed')"
            " EXECUTE FUNCTION refuse_poison()"
        )

    try:
        await refused_run_fails_alone(
            wf.Engine(pg_url, poll_interval=0.05),
            caplog,
            refuse=refuse,
            accept=lambda: conn.execute("DROP TRIGGER refuse_poison ON events"),
        )
    finally:
        conn.close()


async def test_a_worker_whose_tables_are_dropped_stops_with_one_error(pg_url: str) -> None:
    conn = admin(pg_url)
    try:
        async with wf.Engine(pg_url, poll_interval=0.05) as engine:
            run = await engine.start(faults.paced, "k", 3, 0.01)
            assert await run.result(timeout=10) == 3
            conn.execute("DROP TABLE runs CASCADE")
            with pytest.raises(wf.StoreError, match="refused wf's SQL"):
                await asyncio.wait_for(engine.wait_stopped(), 10)
    finally:
        conn.close()


def error(sqlstate: str) -> psycopg.Error:
    exc = psycopg.errors.lookup(sqlstate)("x")
    return exc


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("40P01", TRANSIENT),  # deadlock detected
        ("40001", TRANSIENT),  # serialization failure
        ("57P01", TRANSIENT),  # the server is shutting down
        ("53300", TRANSIENT),  # too many connections
        ("55P03", TRANSIENT),  # lock not available
        ("08006", TRANSIENT),  # connection failure
        ("53100", BROKEN),  # the server's disk is full
        ("42P01", BROKEN),  # a table gone
        ("42501", BROKEN),  # no privilege
        ("3D000", BROKEN),  # no such database
        ("23505", REFUSED),  # a unique constraint
        ("23514", REFUSED),  # a check (or a trigger raising one)
        ("22021", REFUSED),  # bytes not valid in the encoding
        ("54000", REFUSED),  # a value too big
    ],
)
def test_postgresql_errors_are_transient_broken_or_refusals(sqlstate: str, kind: str) -> None:
    exc = error(sqlstate)
    assert exc.sqlstate == sqlstate
    assert postgres_fault(exc, "the database").kind == kind


def test_driver_errors_are_transient_when_the_connection_failed_else_refusals() -> None:
    lost = psycopg.OperationalError("server closed the connection unexpectedly")
    assert postgres_fault(lost, "the database").kind == TRANSIENT
    cannot_send = psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    assert postgres_fault(cannot_send, "the database").kind == REFUSED
    assert postgres_fault(TypeError("not adaptable"), "the database").kind == REFUSED
