"""Workflows for the failure-handling tests: steps that take a while or wait at a gate,
counted per key (the tests use the run id), so a test sees which step ran how often."""

from __future__ import annotations

import asyncio
from collections import Counter

CALLS: Counter[str] = Counter()
#: While set by a test, every `through_gate` step waits until it is opened: the steps of
#: all runs then finish in the same loop turn, so their results share one group commit.
GATE: asyncio.Event | None = None


async def tick(key: str, i: int, seconds: float) -> int:
    "use step"
    CALLS[key] += 1
    await asyncio.sleep(seconds)
    return i


async def paced(key: str, steps: int, seconds: float) -> int:
    "use workflow"
    total = 0
    for i in range(steps):
        total += await tick(key, i, seconds)
    return total


async def through_gate(key: str, i: int) -> int:
    "use step"
    CALLS[key] += 1
    if GATE is not None:
        await GATE.wait()
    return i


async def gated(key: str, steps: int) -> int:
    "use workflow"
    total = 0
    for i in range(steps):
        total += await through_gate(key, i)
    return total


async def bulky(size: int) -> str:
    "use step"
    return "x" * size


async def writes_much(size: int) -> str:
    "use workflow"
    return await bulky(size)
