"""The store conformance suite on PostgreSQL (a real server the session starts), plus
what only a network store has: its URL, migrations under a lock, the one-round-trip
fence of a group commit and notifications between processes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wf.store._postgres import PostgresStore
from wf.store._protocol import Store, open_store
from wf.store.conformance import StoreConformance


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
