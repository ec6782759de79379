"""A real HTTP server on 127.0.0.1 (uvicorn, a free port) in front of a real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from web_support import Served

import wf
from flows import webhooks
from wf.runtime._http import listen, serving


@pytest.fixture(autouse=True)
def _reset() -> None:
    webhooks.URLS.clear()
    webhooks.CALLS.clear()


@pytest.fixture
def response_timeout() -> float:
    return 10.0


@pytest.fixture
async def served(db_url: str, response_timeout: float) -> AsyncIterator[Served]:
    sock = listen("127.0.0.1", 0)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with wf.Engine(db_url, poll_interval=0.05, base_url=base_url) as engine:
            app = wf.asgi_app(engine, max_body=1000, response_timeout=response_timeout)
            async with (
                serving(app, sock),
                httpx.AsyncClient(base_url=base_url, timeout=20) as client,
            ):
                yield Served(engine, client, base_url)
    finally:
        sock.close()
