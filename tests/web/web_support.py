"""Helpers of the HTTP tests: a served engine and how to find a run's webhook."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

import wf
from flows import webhooks

__all__ = ["Served"]


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
