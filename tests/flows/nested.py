"""Workflows with "use step" functions nested in them, capturing the workflow's locals."""

from __future__ import annotations

import asyncio

import wf

# One entry per step execution: (step, its arguments and the captured values it saw).
CALLS: list[tuple[str, tuple[object, ...]]] = []


async def process(order_id: str, amount: int) -> str:
    "use workflow"
    fee = amount // 10

    async def charge(extra: int) -> str:
        "use step"
        CALLS.append(("charge", (order_id, amount, fee, extra)))
        return f"{order_id}:{amount + fee + extra}"

    first = await charge(5)
    fee = 0  # the step sees the value at call time, as a closure would
    second = await charge(1)
    return f"{first}|{second}"


async def fan_out(items: list[str]) -> list[str]:
    "use workflow"
    prefix = "item"

    @wf.options(max_attempts=3, initial_interval="1ms", max_interval="2ms")
    def tag(item: str) -> str:
        "use step"
        CALLS.append(("tag", (prefix, item, wf.get_step_metadata().attempt)))
        if wf.get_step_metadata().attempt == 1:
            raise ConnectionError("first attempt fails")
        return f"{prefix}-{item}"

    return list(await asyncio.gather(*(tag(item) for item in items)))
