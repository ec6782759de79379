"""An interpreter workflow: its input is a program of durable operations (from hypothesis)."""

from __future__ import annotations

import asyncio
from typing import Any

import wf


async def echo(value: int) -> int:
    "use step"
    return value * 10


async def boom(value: int) -> int:
    "use step"
    raise wf.FatalError(f"boom {value}")


@wf.options(max_attempts=3, initial_interval="1ms", max_interval="2ms")
async def flaky_once(value: int) -> int:
    "use step"
    if wf.get_step_metadata().attempt == 1:
        raise ConnectionError("first attempt fails")
    return value + 1


async def shape(program: list[list[Any]]) -> list[Any]:
    "use workflow"
    out: list[Any] = []
    for op, arg in program:
        if op == "step":
            out.append(await echo(arg))
        elif op == "gather":
            out.append(list(await asyncio.gather(*(echo(v) for v in arg))))
        elif op == "race":
            out.append(await wf.race(echo(arg), wf.sleep("30s")))
        elif op == "sleep":
            await wf.sleep(arg / 1000)
            out.append("slept")
        elif op == "fail":
            try:
                await boom(arg)
            except wf.FatalError as exc:
                out.append(f"caught {exc}")
        elif op == "retry":
            out.append(await flaky_once(arg))
        elif op == "progress":
            wf.progress(f"note {arg}")
            out.append("noted")
        elif op == "timeout":
            try:
                async with asyncio.timeout(arg / 1000):
                    await wf.sleep(30)
            except TimeoutError:
                out.append("timeout")
    return out
