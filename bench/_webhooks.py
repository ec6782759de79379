"""Webhook round trips over real HTTP on 127.0.0.1: what a caller waits for.

Two figures, both informational (the design sets no budget for HTTP): requests
sent one after another to one run's webhook through ``wf.asgi_app`` served by
uvicorn in the same process as the worker, as ``wf serve`` does.

* ``webhook_accepted_ms``: POST until the ``202`` (the request is durable: one
  SQLite transaction to look the token up, one to queue it).
* ``webhook_manual_ms``: POST until the answer a step gives with
  ``request.respond()`` (the request is queued, delivered to the workflow, the
  step runs and records the answer, the server hands it back).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from typing import Any

import httpx

import wf
from bench import flows
from bench._cases import figure
from wf.web import listen, serving

__all__ = ["bench_webhooks"]


async def _round_trips(manual: bool, n: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="wf-bench-") as tmp:
        sock = listen("127.0.0.1", 0)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        engine = wf.Engine(f"sqlite:///{tmp}/wf.db", base_url=base)
        async with engine, serving(wf.asgi_app(engine), sock), httpx.AsyncClient() as client:
            run = await engine.start(flows.webhook_sink, n + 20, manual)
            while run.id not in flows.WEBHOOK_URLS:
                await asyncio.sleep(0.001)
            url = flows.WEBHOOK_URLS[run.id]
            for _ in range(20):  # warm-up: connections, caches
                await client.post(url, content=b"warm")
            samples = []
            for i in range(n):
                t0 = time.perf_counter()
                reply = await client.post(url, content=b"%d" % i)
                samples.append((time.perf_counter() - t0) * 1000)
                if reply.status_code != (200 if manual else 202):
                    raise RuntimeError(f"unexpected answer {reply.status_code}: {reply.text}")
            await run.result(timeout=60)
        sock.close()
    return samples


async def bench_webhooks(quick: bool, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    n = 100 if quick else 500
    raw_us = ctx.get("raw_sqlite_commit_us")
    figures = []
    for name, manual in (("webhook_accepted_ms", False), ("webhook_manual_ms", True)):
        samples = await _round_trips(manual, n)
        median = statistics.median(samples)
        figures.append(
            figure(
                name,
                median,
                "ms",
                "informational (no budget in the design)",
                reference={"raw_sqlite_commit_us": raw_us} if raw_us else {},
                requests=n,
                p90_ms=sorted(samples)[int(n * 0.9)],
                max_ms=max(samples),
            )
        )
    return figures
