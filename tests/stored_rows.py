"""Runs written straight into a SQLite file, as an older wf or a bug may have stored
them: every check on entry bypassed, for tests of what views do with such rows."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Sequence

import wf

__all__ = ["stored_run"]


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
    """Write run ``run_id`` and its events (kind, cid, name, data, at) into the SQLite
    database ``db`` (a ``sqlite:///`` URL), creating the database if it does not exist."""
    path = db.removeprefix("sqlite:///")
    if not os.path.exists(path):
        asyncio.run(_create(db))
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
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
