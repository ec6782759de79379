"""Runs written straight into a database (SQLite or PostgreSQL), as an older wf or a bug
may have stored them: every check on entry bypassed, for tests of what views do with
such rows. ``raw_sql`` is the connection behind the engine's back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

import wf
from wf.store._postgres import split_postgres_url

__all__ = ["raw_sql", "stored_run"]


class Raw:
    """A connection to a wf database that takes the SQL base's ``?`` placeholders."""

    def __init__(self, conn: Any, placeholder: str) -> None:
        self._conn = conn
        self._placeholder = placeholder

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._placeholder)

    def execute(self, statement: str, params: Sequence[object] = ()) -> Any:
        return self._conn.execute(self._sql(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        self._conn.cursor().executemany(self._sql(statement), rows)


@contextlib.contextmanager
def raw_sql(db: str) -> Iterator[Raw]:
    """A connection to the database of URL ``db`` (wf's tables in reach), committed when
    the block ends."""
    if db.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(db.removeprefix("sqlite:///"))) as conn, conn:
            yield Raw(conn, "?")
        return
    conninfo, schema = split_postgres_url(db)
    with psycopg.connect(conninfo) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        yield Raw(conn, "%s")


def stored_run(
    db: str,
    run_id: str,
    *,
    status: str = "completed",
    input: str = '{"args": [], "kwargs": {}}',
    result: str | None = "null",
    error: str | None = None,
    created_at: float = 1_700_000_000.0,
    events: Sequence[tuple[str, int | None, str | None, str | None, float]] = (),
    workflow_id: str = "app.flows:main",
) -> None:
    """Write run ``run_id`` and its events (kind, cid, name, data, at) into the database
    ``db`` (a URL), creating wf's tables if they do not exist."""
    path = db.removeprefix("sqlite:///")
    if not db.startswith("sqlite") or not os.path.exists(path):
        # On a thread of its own: the caller may be a coroutine, in a running loop.
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, _create(db)).result()
    with raw_sql(db) as conn:
        conn.execute(
            "INSERT INTO runs (run_id, workflow_id, status, input, result, error, created_at,"
            " updated_at, attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (run_id, workflow_id, status, input, result, error, created_at, created_at),
        )
        conn.executemany(
            "INSERT INTO events (run_id, seq, kind, cid, name, data, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(run_id, seq, *event) for seq, event in enumerate(events)],
        )


async def _create(db: str) -> None:
    async with wf.Engine(db, worker=False):
        pass
