"""The store conformance suite on PostgreSQL (a real server the session starts), plus
what only a network store has: its URL, migrations under a lock, the one-round-trip
fence of a group commit and notifications between processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator

import psycopg
import pytest
from pg_support import Cluster, free_port

import wf
from wf._errors import StoreError
from wf.store._commands import UpdateRun
from wf.store._migrations import SCHEMA_VERSION
from wf.store._postgres import PostgresStore, split_postgres_url
from wf.store._protocol import Store, display_url, open_store
from wf.store.conformance import StoreConformance, T, batch, row


async def opened(url: str) -> Store:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    await store.open()
    return store


class TestPostgresStore(StoreConformance):
    @pytest.fixture
    async def store(self, pg_url: str) -> AsyncIterator[Store]:
        store = await opened(pg_url)
        yield store
        await store.close()

    @pytest.fixture
    async def second_store(self, pg_url: str, store: Store) -> AsyncIterator[Store]:
        second = await opened(pg_url)
        yield second
        await second.close()


# -- URLs -------------------------------------------------------------------------------


def test_a_url_names_its_schema_and_keeps_libpq_parameters() -> None:
    assert split_postgres_url("postgres://u:pw@h:5433/app?schema=jobs&sslmode=disable") == (
        "postgresql://u:pw@h:5433/app?sslmode=disable",
        "jobs",
    )
    assert split_postgres_url("postgresql://h/app") == ("postgresql://h/app", "wf")


@pytest.mark.parametrize("schema", ["1abc", "wf-x", "a;drop", "x" * 64, ""])
def test_a_schema_that_is_not_a_plain_name_is_refused(schema: str) -> None:
    with pytest.raises(StoreError, match="not a plain name"):
        open_store(f"postgresql://u:secret@h/app?schema={schema}")


def test_a_password_is_never_shown() -> None:
    url = "postgresql://alice:s3cr%40t@db.example:5432/app?schema=wf"
    assert display_url(url) == "postgresql://alice:***@db.example:5432/app?schema=wf"
    assert "s3cr" not in wf.Engine(url, worker=False).url
    assert display_url("postgresql://alice@h/app") == "postgresql://alice@h/app"
    assert display_url("sqlite:///.wf/wf.db") == "sqlite:///.wf/wf.db"


async def test_an_unreachable_server_is_one_readable_error_without_the_password(
    pg_cluster: Cluster,
) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/postgres"
    store = open_store(url)
    with pytest.raises(StoreError) as caught:
        await store.open()
    message = str(caught.value)
    assert "cannot connect to PostgreSQL at postgresql://postgres:***@127.0.0.1" in message
    assert "hunter2" not in message and "\n" not in message


# -- migrations ---------------------------------------------------------------------------


def tables(url: str, schema: str) -> set[str]:
    conninfo, _ = split_postgres_url(url)
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    return {r[0] for r in rows}


async def test_wf_tables_live_in_their_own_schema(pg_url: str) -> None:
    schema = split_postgres_url(pg_url)[1]
    store = await opened(pg_url)
    await store.close()
    assert {"runs", "events", "inbox", "hooks", "watchers", "wf_schema"} <= tables(pg_url, schema)
    assert "runs" not in tables(pg_url, "public")


async def test_with_auto_migrate_off_a_new_database_is_refused_until_upgraded(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WF_AUTO_MIGRATE", "0")
    store = open_store(pg_url)
    with pytest.raises(StoreError, match=r"wf schema version 0; this wf needs .*wf db upgrade"):
        await store.open()
    assert await store.describe() == (0, {})
    assert await open_store(pg_url).upgrade() == (0, SCHEMA_VERSION)
    assert await open_store(pg_url).upgrade() == (SCHEMA_VERSION, SCHEMA_VERSION)
    store = await opened(pg_url)
    await store.close()


def test_processes_migrating_at_once_do_not_collide(pg_url: str) -> None:
    """Eight processes open the same new database at the same moment."""
    script = (
        "import asyncio, sys; from wf.store._protocol import open_store\n"
        "print(asyncio.run(open_store(sys.argv[1]).upgrade()))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, pg_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(8)
    ]
    outcomes = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in outcomes]
    found = sorted(out.decode().strip() for out, _ in outcomes)
    # One of them migrated; the others waited for it and found the schema current.
    assert found == [f"(0, {SCHEMA_VERSION})"] + [f"({SCHEMA_VERSION}, {SCHEMA_VERSION})"] * 7


async def test_a_schema_of_another_application_is_refused_untouched(pg_url: str) -> None:
    conninfo, schema = split_postgres_url(pg_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".customers (id int)')
    with pytest.raises(StoreError, match=r"holds tables of another application \(customers\)"):
        await opened(pg_url)
    assert tables(pg_url, schema) == {"customers"}


async def test_a_newer_schema_is_refused_untouched(pg_url: str) -> None:
    store = await opened(pg_url)
    await store.close()
    conninfo, schema = split_postgres_url(pg_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'INSERT INTO "{schema}".wf_schema VALUES (%s, 0)', (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this wf understands"):
        await opened(pg_url)


# -- notifications -------------------------------------------------------------------------


async def test_a_store_hears_what_another_process_makes_due_and_ends(pg_url: str) -> None:
    listener, writer = await opened(pg_url), await opened(pg_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    try:
        await listener.subscribe(heard.put_nowait)
        assert await asyncio.wait_for(heard.get(), 5) == "due"  # said on connecting
        assert await writer.create_run("r1", "app:f", "[]", T, T)
        assert await asyncio.wait_for(heard.get(), 5) == "due"
        assert len(await writer.claim("A", 1, T, 30)) == 1
        await writer.commit(
            batch(UpdateRun("r1", status="completed", result="1", release=True)), "A", now=T
        )
        assert await asyncio.wait_for(heard.get(), 5) == "end:r1"
        await writer.post("r1", "message", "m", "{}", now=T)  # to an ended run: still told
        assert await asyncio.wait_for(heard.get(), 5) == "due"
    finally:
        await listener.close()
        await writer.close()


async def test_a_stale_worker_cannot_write_into_a_run_taken_over(pg_url: str) -> None:
    """The fence: worker A's lease expired and B claimed the run; A's late commit of a
    step is dropped, B's log stays B's."""
    a, b = await opened(pg_url), await opened(pg_url)
    try:
        assert await a.create_run("r1", "app:f", "[]", T, T)
        assert [r.run_id for r in await a.claim("A", 1, T, 1.0)] == ["r1"]
        assert [r.run_id for r in await b.claim("B", 1, T + 5, 30.0)] == ["r1"]
        late = batch(row("r1", 1, data="A"))
        result = await a.commit(late, "A", now=T + 6, verify_owner=False)
        assert result.lost == ["r1"]
        await b.commit(batch(row("r1", 1, data="B")), "B", now=T + 6)
        assert [e.data for e in await b.load_events("r1")] == ["[]", "B"]
    finally:
        await a.close()
        await b.close()


async def test_a_post_racing_the_release_of_its_run_still_makes_it_due(pg_url: str) -> None:
    """A worker evicts a run it holds (waiting, no wake time) while another process posts
    to it (a child's end, a hook payload, a cancellation). Here the post has written its
    inbox item and found the run still held, but not committed, when the eviction runs:
    the eviction cannot see the item, so the post's wake-up must see the release, or the
    run waits forever with its item unread."""
    holder, poster = await opened(pg_url), await opened(pg_url)
    try:
        assert await holder.create_run("r1", "app:f", "[]", T, T)
        assert [r.run_id for r in await holder.claim("A", 1, time.time(), 3600.0)] == ["r1"]
        before_commit, go = threading.Event(), threading.Event()
        assert isinstance(poster, PostgresStore)
        commit_tx = poster._commit_tx

        def commit_later() -> None:
            pipeline = poster._local.pipeline
            if pipeline is not None:
                pipeline.sync()  # the statements so far have run on the server
            before_commit.set()
            go.wait(10)
            commit_tx()

        poster._commit_tx = commit_later  # type: ignore[method-assign]
        posting = asyncio.ensure_future(poster.post("r1", "cancel", None, None, now=time.time()))
        assert await asyncio.to_thread(before_commit.wait, 10)
        evict = UpdateRun("r1", status="waiting", set_wake=True, wake_at=None, release=True)
        evicting = asyncio.ensure_future(holder.commit(batch(evict), "A", now=time.time()))
        await asyncio.sleep(0.3)  # the eviction commits meanwhile, unless the post holds it
        go.set()
        await posting
        assert (await evicting).lost == []
        assert [r.run_id for r in await holder.claim("B", 1, time.time() + 1, 30.0)] == ["r1"]
        assert [i.kind for i in await holder.inbox("B")] == ["cancel"]
    finally:
        await poster.close()
        await holder.close()
