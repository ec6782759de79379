"""Regenerate ``wf-schema-v1.db``: a wf database written by schema version 1.

Not run by the tests. The file is the "old database" that every future schema
change must still open (``tests/runtime/test_sqlite_files.py``), so regenerate it
only with a wf whose ``SCHEMA_VERSION`` is 1, and update the expectations there
if you change what it writes::

    .venv/bin/python tests/runtime/data/make_v1_db.py
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from wf.store._protocol import Commit, RunUpdate, open_store
from wf.store._sqlite import SCHEMA_VERSION

Row = tuple[str, int, str, int | None, str | None, str | None, float]

HERE = Path(__file__).resolve().parent
TARGET = HERE / "wf-schema-v1.db"
T = 1_700_000_000.0
WORKFLOW = "shop.orders:checkout"


async def main() -> None:
    assert SCHEMA_VERSION == 1, "this fixture must be written by schema version 1"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{TARGET}{suffix}").unlink(missing_ok=True)
    store = open_store(f"sqlite:///{TARGET}")
    await store.open()

    # One run per state, created in this order, each due one second after the last.
    names = ["completed", "failed", "cancelled", "sleeping", "waiting", "running", "pending"]
    for n, name in enumerate(names):
        assert await store.create_run(f"run-{name}", WORKFLOW, f'{{"order": {n}}}', T + n, T + n)
    claimed = await store.claim("worker-1", 6, T + 10, 3600.0)
    assert [r.run_id for r in claimed] == [f"run-{name}" for name in names[:-1]]

    def step(run_id: str, seq: int, cid: int, result: str) -> list[Row]:
        return [
            (run_id, seq, "step_scheduled", cid, "charge", None, T + 20 + seq),
            (run_id, seq + 1, "step_completed", cid, "charge", result, T + 21 + seq),
        ]

    commit = Commit(
        events=[
            *step("run-completed", 1, 0, '"paid"'),
            ("run-completed", 3, "run_completed", None, None, '{"total": 42}', T + 30),
            *step("run-failed", 1, 0, '"paid"'),
            ("run-failed", 3, "run_failed", None, None, '{"type": "ValueError"}', T + 30),
            ("run-cancelled", 1, "cancel_requested", None, None, '"user"', T + 25),
            ("run-cancelled", 2, "run_cancelled", None, None, None, T + 26),
            ("run-sleeping", 1, "timer_scheduled", 0, "timer", '{"fire_at": 1700086400.0}', T + 22),
            *step("run-waiting", 1, 0, '"paid"'),
            *step("run-running", 1, 0, '"paid"'),
        ],
        updates=[
            RunUpdate(
                "run-completed",
                status="completed",
                result='{"total": 42}',
                set_wake=True,
                release=True,
            ),
            RunUpdate(
                "run-failed",
                status="failed",
                error='{"type": "ValueError"}',
                set_wake=True,
                release=True,
            ),
            RunUpdate("run-cancelled", status="cancelled", set_wake=True, release=True),
            RunUpdate(
                "run-sleeping",
                status="sleeping",
                set_wake=True,
                wake_at=1_700_086_400.0,
                release=True,
            ),
            RunUpdate("run-waiting", status="waiting", set_wake=True, release=True),
        ],
    )
    assert await store.commit(commit, "worker-1") == []
    # An unread cancellation for the run a worker still holds.
    await store.post("run-running", "cancel", None, '"user"')
    await store.close()

    # Everything is in the main file (the WAL was checkpointed on close).
    assert not Path(f"{TARGET}-wal").exists()
    conn = sqlite3.connect(TARGET)
    assert conn.execute("SELECT MAX(version) FROM wf_schema").fetchone()[0] == 1
    conn.close()
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    asyncio.run(main())
