"""A real HTTP server on 127.0.0.1 (uvicorn, a free port) in front of a real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from web_support import Served, serve_engine

import wf
from flows import webhooks


@pytest.fixture(autouse=True)
def _reset() -> None:
    webhooks.URLS.clear()
    webhooks.CALLS.clear()


@pytest.fixture
def response_timeout() -> float:
    return 10.0


@pytest.fixture
async def served(db_url: str, response_timeout: float) -> AsyncIterator[Served]:
    def make(base_url: str) -> wf.Engine:
        return wf.Engine(db_url, poll_interval=0.05, base_url=base_url)

    async with serve_engine(make, max_body=1000, response_timeout=response_timeout) as served:
        yield served
