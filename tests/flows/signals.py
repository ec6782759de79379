"""Workflows that act on other runs from their own body: wf.send, wf.resume_hook, cancelling
a child. Each of those is a built-in step of the acting run's log."""

from __future__ import annotations

from typing import Any

import wf

CALLS: dict[str, int] = {}


async def record(name: str) -> str:
    "use step"
    CALLS[name] = CALLS.get(name, 0) + 1
    return name


async def collector() -> list[Any]:
    "use workflow"
    got = []
    while (message := await wf.receive("note")) != "stop":
        got.append(message)
    return got


async def sender(target: str) -> str:
    "use workflow"
    await wf.send(target, "note", {"n": 1})
    await wf.sleep("50ms")  # with evict_after=0 the sender is replayed here
    await record("between")
    await wf.send(target, "note", "stop")
    return "sent"


async def send_to_ended(target: str) -> str:
    "use workflow"
    try:
        await wf.send(target, "note", "late")
    except wf.WorkflowError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "sent"


async def hook_holder(token: str) -> list[Any]:
    "use workflow"
    got = []
    async for payload in wf.create_hook(token=token):
        if payload == "stop":
            return got
        got.append(payload)
    return got


async def resumer(token: str) -> list[str]:
    "use workflow"
    first = await wf.resume_hook(token, {"n": 1})
    await wf.sleep("50ms")
    await record("between")
    second = await wf.resume_hook(token, "stop")
    return [first, second]


async def resume_unknown(token: str) -> str:
    "use workflow"
    try:
        await wf.resume_hook(token, 1)
    except wf.HookNotFoundError as exc:
        return f"caught {type(exc).__name__}: {exc}"
    return "resumed"


async def long_child(parent_id: str) -> str:
    "use workflow"
    try:
        await wf.send(parent_id, "ready", None)
        await wf.sleep("1h")
        return "slept"
    finally:
        await record("compensate")


async def canceller() -> dict[str, Any]:
    "use workflow"
    handle = await wf.start(long_child, wf.get_workflow_metadata().run_id)
    await wf.receive("ready")  # the child is asleep in its try block
    await handle.cancel()
    await handle.cancel()  # a second request changes nothing
    try:
        await handle.result()
    except wf.RunCancelledError as exc:
        return {"child": handle.id, "outcome": f"{type(exc).__name__}: {exc}"}
    return {"child": handle.id, "outcome": "finished"}


async def short_child() -> int:
    "use workflow"
    return 7


async def cancel_after_end() -> int:
    "use workflow"
    handle = await wf.start(short_child)
    value = await handle.result()
    await handle.cancel()  # the child ended: nothing to do, not an error
    return value


async def cascading() -> str:
    "use workflow"
    handle = await wf.start(long_child, wf.get_workflow_metadata().run_id)
    try:
        return await handle.result()
    finally:
        await handle.cancel()  # the parent was cancelled: so is its child
