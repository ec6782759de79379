"""Regenerate ``wf-schema-v3.db``: a wf database written by schema version 3.

Not run by the tests. Like ``wf-schema-v1.db`` it is an "old database" that later
schemas must still open (``tests/runtime/test_sqlite_files.py``); v3 is the first
with webhooks, so it holds a live typed hook, a webhook, a child run and a stored
webhook answer.
Regenerate it only with a wf whose ``SCHEMA_VERSION`` is 2::

    .venv/bin/python tests/runtime/data/make_v2_db.py
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from wf.store._protocol import Commit, RunUpdate, open_store
from wf.store._sqlite import SCHEMA_VERSION

HERE = Path(__file__).resolve().parent
TARGET = HERE / "wf-schema-v3.db"
T = 1_700_000_000.0


async def main() -> None:
    assert SCHEMA_VERSION == 3, "this fixture must be written by schema version 3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{TARGET}{suffix}").unlink(missing_ok=True)
    store = open_store(f"sqlite:///{TARGET}")
    await store.open()

    assert await store.create_run("run-approval", "shop.orders:approve", '{"order": 1}', T, T)
    claimed = await store.claim("worker-1", 1, T + 1, 3600.0)
    assert [r.run_id for r in claimed] == ["run-approval"]
    commit = Commit(
        events=[
            ("run-approval", 1, "hook_created", 0, "approve:1", None, T + 2),
            ("run-approval", 2, "child_started", 1, "run-approval.1", '{"workflow": "x"}', T + 2),
            ("run-approval", 3, "hook_created", 2, "wh-1", None, T + 2),
        ],
        updates=[RunUpdate("run-approval", status="waiting", set_wake=True, release=True)],
        hooks=[("approve:1", "run-approval", 0), ("wh-1", "run-approval", 2)],
        hook_types={"approve:1": "shop.orders:Decision"},
        webhooks={"wh-1": '{"mode": "accepted"}'},
        children=[("run-approval.1", "shop.orders:notify", '{"order": 1}', "run-approval", T + 2)],
    )
    assert await store.commit(commit, "worker-1") == []
    assert await store.set_webhook_response("req-1", 201, "[]", b"made")
    await store.close()

    assert not Path(f"{TARGET}-wal").exists()
    conn = sqlite3.connect(TARGET)
    assert conn.execute("SELECT MAX(version) FROM wf_schema").fetchone()[0] == 3
    conn.close()
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    asyncio.run(main())
