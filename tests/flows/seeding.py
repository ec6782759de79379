"""Writing a recorded log into a SQLite store as a runnable run, in one transaction.

Tests use it to resume runs from a chosen point of their history. It writes
SQL directly because no public API imports a foreign log (on purpose).
"""

from __future__ import annotations

from wf.runtime._events import Event
from wf.store._protocol import Store
from wf.store._sqlite import SQLiteStore


def seed_run(
    store: Store, run_id: str, workflow_id: str, payload: str, events: list[Event]
) -> None:
    """Insert a pending run whose log is ``events`` (starting with ``run_started``)."""
    if not isinstance(store, SQLiteStore):
        raise TypeError("seed_run writes SQLite tables directly")
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT INTO runs (run_id, workflow_id, status, input, created_at, updated_at,"
            " wake_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)",
            (run_id, workflow_id, payload, events[0].at, events[0].at, events[0].at),
        )
        conn.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", [e.as_row(run_id) for e in events]
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
