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
