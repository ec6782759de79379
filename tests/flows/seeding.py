"""Writing a recorded log into a store as a runnable run, in one transaction.

Tests use it to resume runs from a chosen point of their history. It writes
SQL directly because no public API imports a foreign log (on purpose).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from wf.runtime._events import Event
from wf.store._postgres import PostgresStore
from wf.store._protocol import Store
from wf.store._sqlite import SQLiteStore

_RUN = (
    "INSERT INTO runs (run_id, workflow_id, status, input, created_at, updated_at,"
    " wake_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)"
)
_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"


def seed_run(
    store: Store, run_id: str, workflow_id: str, payload: str, events: list[Event]
) -> None:
    """Insert a pending run whose log is ``events`` (starting with ``run_started``)."""
    run = (run_id, workflow_id, payload, events[0].at, events[0].at, events[0].at)
    rows = [e.as_row(run_id) for e in events]
    if isinstance(store, PostgresStore):
        # A connection of its own (the store's are on its threads), in the store's schema.
        with psycopg.connect(store._conninfo) as pg:
            pg.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(store.schema)))
            pg.execute(_RUN.replace("?", "%s"), run)
            pg.cursor().executemany(_EVENT.replace("?", "%s"), rows)
        return
    if not isinstance(store, SQLiteStore):
        raise TypeError(f"seed_run cannot write into {type(store).__name__}")
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_RUN, run)
        conn.executemany(_EVENT, rows)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
