"""Workflows and steps the benchmarks run. Import with the wf import hook installed."""

from __future__ import annotations

import asyncio
import os
import time

import wf


async def noop(i: int) -> int:
    "use step"
    return i


async def stamp() -> float:
    "use step"
    return time.time()


async def log_line(path: str, i: int) -> int:
    "use step"
    delay = float(os.environ.get("BENCH_STEP_DELAY", "0"))  # set only in the worker to be killed
    if delay:
        await asyncio.sleep(delay)
    with open(path, "a") as f:
        f.write(f"{i}\n")
    return i


async def seq(n: int) -> int:
    "use workflow"
    total = 0
    for i in range(n):
        total += await noop(i)
    return total


async def gather(n: int) -> int:
    "use workflow"
    results = await asyncio.gather(*(noop(i) for i in range(n)))
    return sum(results)


async def three_steps() -> int:
    "use workflow"
    a = await noop(1)
    b = await noop(2)
    c = await noop(3)
    return a + b + c


async def sleeper(seconds: float) -> list[float]:
    "use workflow"
    before = await stamp()
    await wf.sleep(seconds)
    after = await stamp()
    return [before, after]


async def nap(duration: str) -> int:
    "use workflow"
    await noop(0)
    await wf.sleep(duration)
    return 1


async def logged(path: str, n: int) -> int:
    "use workflow"
    total = 0
    for i in range(n):
        total += await log_line(path, i)
    return total


async def fan(n: int, width: int) -> int:
    "use workflow"
    total = 0
    for start in range(0, n, width):
        results = await asyncio.gather(*(noop(i) for i in range(start, min(n, start + width))))
        total += sum(results)
    return total


#: Webhook URLs by run id, published by `publish_url` (the webhook benchmark reads it).
WEBHOOK_URLS: dict[str, str] = {}


async def publish_url(run_id: str, url: str) -> None:
    "use step"
    WEBHOOK_URLS[run_id] = url


async def answer_request(request: wf.Request) -> int:
    "use step"
    await request.respond(wf.Response(200, request.body))
    return len(request.body)


async def webhook_sink(count: int, manual: bool) -> int:
    "use workflow"
    hook = wf.create_webhook(respond_with="manual" if manual else None)
    await publish_url(wf.get_workflow_metadata().run_id, hook.url)
    seen = 0
    async for request in hook:
        if manual:
            await answer_request(request)
        seen += 1
        if seen == count:
            return seen
    return seen


# -- PostgreSQL groups (bench/_postgres.py) ----------------------------------------------


async def stamp_to(path: str, payload: int) -> float:
    "use step"
    now = time.time()
    with open(path, "a") as f:
        f.write(f"{payload} {now!r}\n")
    return now


async def hook_stamps(token: str, n: int, path: str) -> int:
    "use workflow"
    hook = wf.create_hook(token=token)
    seen = 0
    async for payload in hook:
        await stamp_to(path, payload)  # when the payload got the workflow going again
        seen += 1
        if seen == n:
            break
    return seen


async def pid() -> int:
    "use step"
    return os.getpid()


async def three_pids() -> list[int]:
    "use workflow"
    return [await pid(), await pid(), await pid()]
