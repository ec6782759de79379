"""The store conformance suite on SQLite, plus real concurrency between connections."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wf._errors import StoreError
from wf.runtime._events import Event
from wf.store._checkpoint import Checkpointer
from wf.store._commands import AppendEvent, Batch
from wf.store._protocol import Store, open_store
from wf.store._sqlite import SQLiteStore
from wf.store.conformance import StoreConformance, T


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'wf.db'}"


async def opened(url: str) -> Store:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    await store.open()
    return store


class TestSQLiteStore(StoreConformance):
    @pytest.fixture
    async def store(self, url: str) -> AsyncIterator[Store]:
        store = await opened(url)
        yield store
        await store.close()

    @pytest.fixture
    async def second_store(self, url: str, store: Store) -> AsyncIterator[Store]:
        second = await opened(url)
        yield second
        await second.close()


def test_claims_from_concurrent_connections_are_disjoint(url: str) -> None:
    """Four workers, each its own connection on its own thread, race for 200 runs."""
    total, workers = 200, 4

    async def seed() -> None:
        store = await opened(url)
        for n in range(total):
            assert await store.create_run(f"r{n:03}", "app:f", "[]", T, T - n % 13)
        await store.close()

    asyncio.run(seed())
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def worker(owner: str) -> None:
        async def loop() -> None:
            store = await opened(url)
            mine: list[str] = []
            start.wait()
            try:
                empty = 0
                while empty < 3:
                    claimed = await store.claim(owner, 3, T, 60.0)
                    mine += [r.run_id for r in claimed]
                    empty = 0 if claimed else empty + 1
            finally:
                await store.close()
            got[owner] = mine

        try:
            asyncio.run(loop())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    claimed = [run_id for run_ids in got.values() for run_id in run_ids]
    assert len(claimed) == total
    assert sorted(claimed) == sorted(f"r{n:03}" for n in range(total))

    async def check() -> None:
        store = await opened(url)
        for owner, run_ids in got.items():
            for run_id in run_ids:
                record = await store.get_run(run_id, now=T)
                assert record is not None and record.lease_owner == owner
        await store.close()

    asyncio.run(check())


async def test_in_memory_database_passes_a_smoke_test() -> None:
    store = await opened("sqlite:///:memory:")
    try:
        assert await store.create_run("r1", "app:f", "[]", T, T)
        assert [r.run_id for r in await store.claim("A", 5, T, 30.0)] == ["r1"]
        await store.check_database()  # no file to lose
    finally:
        await store.close()


async def test_check_database_notices_the_file_removed(tmp_path: Path) -> None:
    store = await opened(f"sqlite:///{tmp_path / 'wf.db'}")
    try:
        await store.check_database()
        (tmp_path / "wf.db").unlink()
        with pytest.raises(StoreError, match=f"{tmp_path / 'wf.db'} was removed"):
            await store.check_database()
    finally:
        await store.close()


async def test_check_database_notices_the_file_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = await opened(f"sqlite:///{tmp_path / 'other.db'}")
    await other.close()
    # A relative path: the check must still look at the file opened after a chdir.
    monkeypatch.chdir(tmp_path)
    store = await opened("sqlite:///wf.db")
    try:
        monkeypatch.chdir(tmp_path.parent)
        await store.check_database()
        os.replace(tmp_path / "other.db", tmp_path / "wf.db")
        with pytest.raises(StoreError, match=f"{tmp_path / 'wf.db'} was replaced"):
            await store.check_database()
    finally:
        await store.close()


async def test_the_wal_stays_bounded_under_a_steady_stream_of_commits(url: str) -> None:
    """Checkpoints run off the commit path (wf.store._checkpoint); a stream of commits
    with no pause must still let the WAL start over, not grow with every commit."""
    store = await opened(url)
    assert isinstance(store, SQLiteStore)
    wal = store.path + "-wal"
    await store.create_run("r", "app:f", "{}", T, T, owner="A", lease_expires=T + 60)
    for seq in range(1, 5001):
        batch = Batch()
        batch.add(AppendEvent("r", Event(seq, "progress", seq, "x" * 200, None, T)))
        store.commit_sync(batch, "A", T, verify_owner=False)
    # Each commit adds two 4 KiB pages: without checkpoints the WAL would pass 38 MB.
    assert os.path.getsize(wal) < 12 << 20
    await store.close()
    assert not os.path.exists(wal)  # the last connection's close checkpoints it away
    store = await opened(url)
    try:
        assert len(await store.load_events("r")) == 5001
    finally:
        await store.close()


def test_without_a_checkpoint_connection_the_committing_one_checkpoints(tmp_path: Path) -> None:
    """If the thread cannot open its connection, the WAL is still checkpointed: by the
    committing connection, every ``every`` commits, as SQLite would by itself."""
    checkpointer = Checkpointer(str(tmp_path / "missing" / "wf.db"), busy_timeout=1.0, every=3)
    checkpointer._thread.join(10)
    assert [checkpointer.committed() for _ in range(6)] == [False, False, True] * 2
    checkpointer.stop()
