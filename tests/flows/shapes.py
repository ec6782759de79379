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
        elif op == "race2":
            # Both steps finish in one tick, so one commit holds both completions;
            # the winner's delivery issues the next operation before the loser's.
            out.append(await wf.race(echo(arg), echo(arg)))
        elif op == "map":
            # Each completion frees a slot that issues the next item's step while
            # other completions of the same commit are still undelivered.
            out.append(await wf.map(arg, echo, concurrency=2))
        elif op == "timers":
            # Two timers due at the same moment fire in one tick.
            await wf.race(wf.sleep(arg / 1000), wf.sleep(arg / 1000))
            out.append("timers")
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
