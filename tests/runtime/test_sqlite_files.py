"""SQLite files wf must refuse or accept: foreign, corrupt, too new, old; URLs; PRAGMAs.

Every refused file is left byte-for-byte as it was, with no ``-wal``/``-shm`` files
left behind.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import wf
from wf.runtime._events import Event
from wf.store._commands import AppendEvent, UpdateRun, WatchRun
from wf.store._protocol import HookRecord, open_store
from wf.store._sqlite import SCHEMA_VERSION, SQLiteStore
from wf.store.conformance import batch

DATA = Path(__file__).parent / "data"
T = 1_000_000.0


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def open_sqlite(path: Path, durability: str = "normal") -> SQLiteStore:
    store = open_store(f"sqlite:///{path}", durability=durability)
    assert isinstance(store, SQLiteStore)
    await store.open()
    return store


async def make_wf_db(path: Path, runs: int = 1) -> None:
    store = await open_sqlite(path)
    for n in range(runs):
        assert await store.create_run(f"r{n}", "app:f", "x" * 400, T, T)
    await store.close()


async def refused(path: Path) -> str:
    """Open ``path``, expect StoreError, check the file was left alone; return the message."""
    before, files = digest(path), listing(path.parent)
    store = open_store(f"sqlite:///{path}")
    with pytest.raises(wf.StoreError) as info:
        await store.open()
    assert digest(path) == before
    assert listing(path.parent) == files
    with pytest.raises(wf.StoreError, match="not open"):
        await store.get_run("r0", now=T)
    return str(info.value)


# -- files wf must not touch -------------------------------------------------------------


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
async def test_another_applications_database_is_refused_untouched(
    tmp_path: Path, journal_mode: str
) -> None:
    path = tmp_path / "crm.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode={journal_mode}")
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER)")
    conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    conn.commit()
    conn.close()
    assert listing(tmp_path) == ["crm.db"]
    message = await refused(path)
    assert "another application" in message
    assert str(path) in message
    assert "customers" in message and "orders" in message
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM customers").fetchall() == [("Ada",)]
    conn.close()


def random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(0).randbytes(16384))


def sqlite_header_then_garbage(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + random.Random(1).randbytes(8192))


def text_file(path: Path) -> None:
    path.write_text("run_id,status\nr1,completed\n")


@pytest.mark.parametrize(
    "spoil", [random_bytes, sqlite_header_then_garbage, text_file], ids=lambda f: f.__name__
)
async def test_a_file_that_is_not_a_database_is_refused_untouched(
    tmp_path: Path, spoil: Callable[[Path], None]
) -> None:
    path = tmp_path / "wf.db"
    spoil(path)
    message = await refused(path)
    assert "not a usable SQLite database" in message
    assert "left untouched" in message
    assert str(path) in message


@pytest.mark.parametrize("keep", [0.5, 0.9, 100 / 4096])
async def test_a_truncated_wf_database_is_refused_untouched(tmp_path: Path, keep: float) -> None:
    path = tmp_path / "wf.db"
    await make_wf_db(path, runs=100)
    data = path.read_bytes()
    assert len(data) > 8 * 4096
    path.write_bytes(data[: int(len(data) * keep) if keep > 0.1 else 100])
    message = await refused(path)
    assert "not a usable SQLite database" in message
    assert "backup" in message


async def test_a_database_from_a_newer_wf_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "wf.db"
    await make_wf_db(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO wf_schema VALUES (?, ?)", (SCHEMA_VERSION + 1, T))
    conn.commit()
    conn.close()
    message = await refused(path)
    assert "upgrade" in message
    assert f"version {SCHEMA_VERSION + 1}" in message
    assert str(path) in message


# -- URLs and options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["sqlite://relative.db", "sqlite:relative.db", "mysql://x/db", "sqlite:///", ""]
)
async def test_bad_urls_name_the_accepted_forms(url: str) -> None:
    with pytest.raises(wf.StoreError) as info:
        store = open_store(url)
        await store.open()
    assert "sqlite:///" in str(info.value)
    assert repr(url) in str(info.value)


@pytest.mark.parametrize("url", ["postgresql://u@db/wf", "postgres://db/wf"])
def test_both_postgresql_schemes_make_a_postgresql_store(url: str) -> None:
    from wf.store._postgres import PostgresStore

    assert isinstance(open_store(url), PostgresStore)


@pytest.mark.parametrize("durability", ["fast", "FULL", "", "off"])
def test_unknown_durability_is_a_value_error(tmp_path: Path, durability: str) -> None:
    with pytest.raises(ValueError, match="durability"):
        open_store(f"sqlite:///{tmp_path / 'wf.db'}", durability=durability)
    assert listing(tmp_path) == []


async def test_relative_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///state/wf.db")
    await store.open()
    assert await store.create_run("r1", "app:f", "[]", T, T)
    await store.close()
    assert (tmp_path / "state" / "wf.db").stat().st_size > 0


# -- files wf may use --------------------------------------------------------------------------


async def test_a_new_file_gets_the_current_schema_and_wal_normal(tmp_path: Path) -> None:
    store = await open_sqlite(tmp_path / "deep" / "dir" / "wf.db")
    try:
        conn = store.conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
        assert conn.execute("SELECT version FROM wf_schema").fetchall() == [
            (v,) for v in range(1, SCHEMA_VERSION + 1)
        ]
    finally:
        await store.close()


async def test_full_durability_sets_synchronous_full(tmp_path: Path) -> None:
    store = await open_sqlite(tmp_path / "wf.db", durability="full")
    try:
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        await store.close()


async def test_an_empty_file_becomes_a_wf_database(tmp_path: Path) -> None:
    path = tmp_path / "wf.db"
    path.touch()
    store = await open_sqlite(path)
    try:
        assert await store.create_run("r1", "app:f", "[]", T, T)
    finally:
        await store.close()


async def test_reopening_a_wf_database_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "wf.db"
    store = await open_sqlite(path)
    await store.open()  # opening twice is harmless
    assert await store.create_run("r1", "app:f", '"in"', T, T)
    await store.claim("A", 1, T, 30.0)
    row = AppendEvent("r1", Event(1, "step_completed", 0, "s", '"out"', T + 1))
    update = UpdateRun("r1", status="completed", result='"done"', release=True)
    assert (await store.commit(batch(row, update), "A", now=T)).lost == []
    await store.close()
    await store.close()  # closing twice too

    for _ in range(2):
        store = await open_sqlite(path)
        try:
            record = await store.get_run("r1", now=T)
            assert record is not None
            assert (record.status, record.input, record.result) == ("completed", '"in"', '"done"')
            assert await store.load_events("r1", after=0) == [
                Event(1, "step_completed", 0, "s", '"out"', T + 1)
            ]
            versions = store.conn.execute("SELECT version FROM wf_schema").fetchall()
            assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
        finally:
            await store.close()


# -- the old database every later schema must still open -----------------------------------------

V1 = 1_700_000_000.0
CHECKOUT = "shop.orders:checkout"


async def test_opens_a_schema_version_1_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copyfile(DATA / "wf-schema-v1.db", path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM wf_schema").fetchall() == [(1,)]
    conn.close()

    store = await open_sqlite(path)
    try:
        versions = store.conn.execute("SELECT version FROM wf_schema ORDER BY version")
        assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))
        # v2 added the hook-token table; an old database gets it, empty.
        assert store.conn.execute("SELECT COUNT(*) FROM hooks").fetchone() == (0,)

        # Read as of when the file was made: run-running's lease (an hour) has long expired
        # since, and it would read as pending (its worker is gone).
        runs = {r.run_id: r for r in await store.list_runs(workflow="checkout", now=V1 + 100)}
        expected = {
            # run id: (status, result, error, wake_at, lease_owner)
            "run-completed": ("completed", '{"total": 42}', None, None, None),
            "run-failed": ("failed", None, '{"type": "ValueError"}', None, None),
            "run-cancelled": ("cancelled", None, None, None, None),
            "run-sleeping": ("sleeping", None, None, 1_700_086_400.0, None),
            "run-waiting": ("waiting", None, None, None, None),
            "run-running": ("running", None, None, V1 + 5, "worker-1"),
            "run-pending": ("pending", None, None, V1 + 6, None),
        }
        assert sorted(runs) == sorted(expected)
        for n, (run_id, fields) in enumerate(expected.items()):
            record = runs[run_id]
            got = (record.status, record.result, record.error, record.wake_at, record.lease_owner)
            assert got == fields, run_id
            assert (record.workflow_id, record.input) == (CHECKOUT, f'{{"order": {n}}}')
            assert (record.created_at, record.attempt) == (V1 + n, 1)

        def steps(seq: int) -> list[Event]:
            return [
                Event(seq, "step_scheduled", 0, "charge", None, V1 + 20 + seq),
                Event(seq + 1, "step_completed", 0, "charge", '"paid"', V1 + 21 + seq),
            ]

        logs = {
            "run-completed": [
                *steps(1),
                Event(3, "run_completed", None, None, '{"total": 42}', V1 + 30),
            ],
            "run-failed": [
                *steps(1),
                Event(3, "run_failed", None, None, '{"type": "ValueError"}', V1 + 30),
            ],
            "run-cancelled": [
                Event(1, "cancel_requested", None, None, '"user"', V1 + 25),
                Event(2, "run_cancelled", None, None, None, V1 + 26),
            ],
            "run-sleeping": [
                Event(1, "timer_scheduled", 0, "timer", '{"fire_at": 1700086400.0}', V1 + 22)
            ],
            "run-waiting": steps(1),
            "run-running": steps(1),
            "run-pending": [],
        }
        for n, (run_id, log) in enumerate(logs.items()):
            started = Event(0, "run_started", None, CHECKOUT, f'{{"order": {n}}}', V1 + n)
            assert await store.load_events(run_id) == [started, *log], run_id

        assert [(i.run_id, i.kind, i.data) for i in await store.inbox("worker-1")] == [
            ("run-running", "cancel", '"user"')
        ]
        # The old runs are still workable: claimed, appended to, finished.
        claimed = await store.claim("worker-2", 10, V1 + 100, 30.0)
        assert [r.run_id for r in claimed] == ["run-pending"]
        claimed = await store.claim("worker-2", 1, V1 + 3611, 30.0)
        assert [r.run_id for r in claimed] == ["run-running"]
        done = batch(
            AppendEvent("run-running", Event(3, "run_completed", None, None, '"ok"', V1 + 3612)),
            UpdateRun("run-running", status="completed", result='"ok"', release=True),
        )
        assert (await store.commit(done, "worker-2", now=T)).lost == []
        assert [e.seq for e in await store.load_events("run-running")] == [0, 1, 2, 3]
    finally:
        await store.close()


async def test_opens_a_schema_version_2_database(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    shutil.copyfile(DATA / "wf-schema-v2.db", path)
    store = await open_sqlite(path)
    try:
        versions = store.conn.execute("SELECT version FROM wf_schema ORDER BY version")
        assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))
        # v3 made hooks able to be webhooks; the old hook stays a typed plain hook.
        assert await store.hook_info("approve:1") == HookRecord(
            "run-approval", "shop.orders:Decision", None
        )
        assert (
            await store.post_to_hook("approve:1", '{"ok": true}', now=time.time()) == "run-approval"
        )
        runs = {r.run_id: r.status for r in await store.list_runs(now=time.time())}
        assert runs == {"run-approval": "waiting", "run-approval.1": "pending"}
        kinds = [e.kind for e in await store.load_events("run-approval")]
        assert kinds == ["run_started", "hook_created", "child_started"]
        # The payload made the parent due now; the child still reports to it when it ends.
        claimed = await store.claim("w", 5, time.time() + 1, 30.0)
        assert sorted(r.run_id for r in claimed) == ["run-approval", "run-approval.1"]
        done = batch(
            AppendEvent("run-approval.1", Event(1, "run_completed", None, None, '"sent"', V1 + 11)),
            UpdateRun("run-approval.1", status="completed", result='"sent"', release=True),
        )
        assert (await store.commit(done, "w", now=T)).lost == []
        inbox = [(i.kind, i.name) for i in await store.inbox("w")]
        assert inbox == [("hook", "approve:1"), ("child", "run-approval.1")]
        # And the new table works in the migrated file.
        assert await store.set_webhook_response("req", 200, "[]", b"ok", now=time.time())
        assert await store.take_webhook_response("req") == (200, "[]", b"ok")
    finally:
        await store.close()


async def test_opens_a_schema_version_3_database(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    shutil.copyfile(DATA / "wf-schema-v3.db", path)
    store = await open_sqlite(path)
    try:
        versions = store.conn.execute("SELECT version FROM wf_schema ORDER BY version")
        assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))
        # What v3 held is unchanged: the typed hook, the webhook, the stored answer.
        assert await store.hook_info("approve:1") == HookRecord(
            "run-approval", "shop.orders:Decision", None
        )
        assert await store.hook_info("wh-1") == HookRecord(
            "run-approval", None, '{"mode": "accepted"}'
        )
        assert await store.take_webhook_response("req-1") == (201, "[]", b"made")
        kinds = [e.kind for e in await store.load_events("run-approval")]
        assert kinds == ["run_started", "hook_created", "child_started", "hook_created"]
        # v4 added waits for other runs: the migrated file records one and answers it.
        claimed = await store.claim("w", 5, time.time() + 1, 30.0)
        assert sorted(r.run_id for r in claimed) == ["run-approval.1"]
        # (As its worker would: "w" holds only the child here, so no lease check.)
        wait = batch(WatchRun("run-approval", "run-approval.1", 7))
        assert (await store.commit(wait, "w", now=T, verify_owner=False)).lost == []
        done = UpdateRun("run-approval.1", status="completed", result='"sent"', release=True)
        assert (await store.commit(batch(done), "w", now=T)).lost == []
        rows = store.conn.execute(
            "SELECT kind, name FROM inbox WHERE run_id = 'run-approval' ORDER BY id"
        ).fetchall()
        assert rows == [("child", "run-approval.1"), ("watch", "7")]
    finally:
        await store.close()
