"""Serving a real engine over real HTTP on 127.0.0.1 (uvicorn on a free port), for tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

import wf
from flows import webhooks
from wf.web import listen, serving

__all__ = ["Served", "serve_engine"]


@dataclass
class Served:
    engine: wf.Engine
    client: httpx.AsyncClient
    base_url: str

    async def url_of(self, run: wf.Run[object]) -> str:
        """The webhook URL the run announced from a step (once its token is durable)."""
        for _ in range(1000):
            url = webhooks.URLS.get(run.id)
            if url is not None:
                return url
            await asyncio.sleep(0.01)
        raise AssertionError(f"run {run.id} announced no webhook")


@contextlib.asynccontextmanager
async def serve_engine(
    make_engine: Callable[[str], wf.Engine], **app_options: Any
) -> AsyncIterator[Served]:
    """``make_engine(base_url)``'s engine, served by ``wf.asgi_app(engine, **app_options)``,
    with a client whose relative URLs reach it."""
    sock = listen("127.0.0.1", 0)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with (
            make_engine(base_url) as engine,
            serving(wf.asgi_app(engine, **app_options), sock),
            httpx.AsyncClient(base_url=base_url, timeout=20) as client,
        ):
            yield Served(engine, client, base_url)
    finally:
        sock.close()
