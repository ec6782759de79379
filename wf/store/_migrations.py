"""The schema of wf's database, version by version.

Each version is a list of statements that takes a database from the version
before to it; a store applies the missing ones when it opens a database (in one
transaction) and records each in ``wf_schema``. A version, once released, is
never changed: a database written by it must open in every later wf (the tests
open committed databases of each old version).
"""

from __future__ import annotations

__all__ = ["SCHEMA_VERSION", "SQLITE_MIGRATIONS"]

SCHEMA_VERSION = 4

SQLITE_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            workflow_id TEXT NOT NULL,
            status TEXT NOT NULL,
            input TEXT NOT NULL,
            result TEXT,
            error TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            wake_at REAL,
            lease_owner TEXT,
            lease_expires REAL,
            attempt INTEGER NOT NULL DEFAULT 1
        )""",
        "CREATE INDEX runs_claim ON runs (status, wake_at)",
        "CREATE INDEX runs_owner ON runs (lease_owner)",
        """CREATE TABLE events (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            cid INTEGER,
            name TEXT,
            data TEXT,
            at REAL NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            name TEXT,
            data TEXT,
            at REAL NOT NULL
        )""",
        "CREATE INDEX inbox_run ON inbox (run_id)",
    ),
    # v2: hook tokens, held by a live run until it ends; child runs know their parent.
    2: (
        "ALTER TABLE runs ADD COLUMN parent_id TEXT",
        """CREATE TABLE hooks (
            token TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            cid INTEGER NOT NULL,
            created_at REAL NOT NULL,
            type TEXT
        )""",
        "CREATE INDEX hooks_run ON hooks (run_id)",
    ),
    # v3: webhooks (a hook reachable over HTTP, with how its caller is answered) and the
    # responses steps give to webhook requests that wait for one.
    3: (
        "ALTER TABLE hooks ADD COLUMN webhook TEXT",
        """CREATE TABLE webhook_responses (
            request_id TEXT PRIMARY KEY,
            status INTEGER,
            headers TEXT,
            body BLOB,
            at REAL NOT NULL
        )""",
        "CREATE INDEX webhook_responses_at ON webhook_responses (at)",
    ),
    # v4: runs waiting for another run (not their child) to end, told when it does.
    4: (
        """CREATE TABLE watchers (
            run_id TEXT NOT NULL,
            watcher_id TEXT NOT NULL,
            cid INTEGER NOT NULL,
            PRIMARY KEY (run_id, watcher_id, cid)
        )""",
        "CREATE INDEX watchers_watcher ON watchers (watcher_id)",
    ),
}
