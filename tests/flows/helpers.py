"""Workflows using wf.map, wf.batch and wf.progress."""

from __future__ import annotations

import asyncio
from typing import Any

import wf

IN_FLIGHT = {"now": 0, "max": 0}


async def square(x: int) -> int:
    "use step"
    IN_FLIGHT["now"] += 1
    IN_FLIGHT["max"] = max(IN_FLIGHT["max"], IN_FLIGHT["now"])
    await asyncio.sleep(0.005)
    IN_FLIGHT["now"] -= 1
    if x < 0:
        raise wf.FatalError(f"negative {x}")
    return x * x


async def total(chunk: list[int]) -> int:
    "use step"
    return sum(chunk)


async def mapped(items: list[int], concurrency: int | None) -> list[int]:
    "use workflow"
    wf.progress(f"mapping {len(items)} items")
    results = await wf.map(items, square, concurrency=concurrency)
    wf.progress("done")
    return results


async def batched(items: list[int], size: int) -> list[int]:
    "use workflow"
    return await wf.batch(items, total, size=size)


async def map_failure() -> Any:
    "use workflow"
    try:
        await wf.map([1, -2, 3], square)
    except wf.FatalError as exc:
        return str(exc)
    return "not reached"
