"""Parents and children: runs started from inside workflows."""

from __future__ import annotations

from typing import Any

import wf

CALLS: dict[str, int] = {}


async def record(name: str) -> str:
    "use step"
    CALLS[name] = CALLS.get(name, 0) + 1
    return name


async def child(x: int) -> int:
    "use workflow"
    await record(f"child {x}")
    if x < 0:
        raise ValueError(f"negative {x}")
    return x * 2


async def slow_child(seconds: float) -> str:
    "use workflow"
    await wf.sleep(seconds)
    return await record("slow child done")


async def parent(x: int) -> dict[str, Any]:
    "use workflow"
    handle = await wf.start(child, x)
    await record("parent between")
    value = await handle.result()
    try:
        await (await wf.start(child, -1)).result()
    except wf.RunFailedError as exc:
        failure = f"{exc.error_type}: {exc.error_message}"
    return {"child_id": handle.id, "value": value, "failure": failure}


async def fire_and_forget() -> str:
    "use workflow"
    handle = await wf.start(slow_child, 0.3, run_id="background-child")
    return handle.id


async def child_with_deadline() -> str:
    "use workflow"
    handle = await wf.start(slow_child, 30, deadline="100ms")
    try:
        return await handle.result()
    except wf.RunFailedError as exc:
        return exc.error_type


async def delayed_child() -> str:
    "use workflow"
    handle = await wf.start(child, 4, start_at="1 day")
    return str(await handle.result())


async def start_from_step(x: int) -> str:
    "use step"
    # A step starting a top-level run: the worker's engine takes it (and may run it at once).
    run = await wf.start(child, x)
    return run.id


async def result_from_step(run_id: str) -> Any:
    "use step"
    return await wf.get_run(run_id).result(timeout=20)


async def starts_a_run_from_a_step(x: int) -> Any:
    "use workflow"
    run_id = await start_from_step(x)
    return {"run_id": run_id, "value": await result_from_step(run_id)}


async def waits_for(other_id: str) -> dict[str, Any]:
    "use workflow"
    # Another run, not a child: waiting for it is a durable operation of this run.
    other = wf.get_run(other_id)
    before = await other.status()
    await record("waiter between")
    try:
        value: Any = await other.result()
    except wf.RunFailedError as exc:
        value = f"failed: {exc.error_type}"
    return {"before": before, "value": value, "after": await other.status()}


async def adopts(run_id: str) -> str:
    "use workflow"
    # A child started with the id of an existing run: that run, if it is of the same
    # workflow; a conflict if it is of another.
    handle = await wf.start(child, 5, run_id=run_id)
    try:
        return str(await handle.result())
    except wf.RunFailedError as exc:
        return f"{exc.error_type}: {exc.error_message}"
