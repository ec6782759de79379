"""wf.send, wf.resume_hook and ChildRun.cancel() inside a workflow body: durable operations
(built-in steps), recorded once, never repeated by a replay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

import wf
from flows import signals

BUILTIN = "wf"  # built-in steps have stable ids wf:send, wf:resume_hook, ...


@pytest.fixture(autouse=True)
def reset_calls() -> Iterator[None]:
    signals.CALLS.clear()
    yield


async def kinds(run: wf.Run[Any]) -> list[tuple[str, str | None]]:
    return [(e.kind, e.name) async for e in run.events()]


async def wait_status(run: wf.Run[Any], status: str) -> None:
    for _ in range(1000):
        with contextlib.suppress(wf.RunNotFoundError):  # not created yet
            if await run.status() == status:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run.id} never reached {status}")


async def wait_hook(engine: wf.Engine, token: str) -> None:
    for _ in range(1000):
        if await engine.store.hook_info(token) is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"hook {token} never appeared")


def replaying_engine(db_url: str) -> wf.Engine:
    # Evicts every run the moment it waits, so each wake-up replays it from its log.
    return wf.Engine(db_url, evict_after=0.0, poll_interval=0.02)


async def test_send_from_a_workflow_is_delivered_once_despite_replays(db_url: str) -> None:
    async with replaying_engine(db_url) as engine:
        target = await engine.start(signals.collector)
        sender = await engine.start(signals.sender, target.id)
        assert await sender.result(timeout=20) == "sent"
        assert await target.result(timeout=20) == [{"n": 1}]
        log = await kinds(sender)
    assert signals.CALLS == {"between": 1}
    assert log.count(("step_scheduled", f"{BUILTIN}:send")) == 2
    assert log.count(("step_completed", f"{BUILTIN}:send")) == 2


async def test_send_to_an_ended_run_raises_workflow_error_in_the_workflow(
    engine: wf.Engine,
) -> None:
    done = await engine.start(signals.cancel_after_end)
    await done.result(timeout=10)
    run = await engine.start(signals.send_to_ended, done.id)
    assert await run.result(timeout=10) == (
        f"WorkflowError: run {done.id} already ended (completed); message not sent"
    )
    log = await kinds(run)
    # Not retried: the same send would be refused again.
    assert ("step_retrying", f"{BUILTIN}:send") not in log
    assert log.count(("step_failed", f"{BUILTIN}:send")) == 1


async def test_resume_hook_from_a_workflow_is_delivered_once_despite_replays(
    db_url: str,
) -> None:
    async with replaying_engine(db_url) as engine:
        holder = await engine.start(signals.hook_holder, "inbox:1")
        await wait_hook(engine, "inbox:1")
        resumer = await engine.start(signals.resumer, "inbox:1")
        assert await resumer.result(timeout=20) == [holder.id, holder.id]
        assert await holder.result(timeout=20) == [{"n": 1}]
        log = await kinds(resumer)
    assert signals.CALLS == {"between": 1}
    assert log.count(("step_scheduled", f"{BUILTIN}:resume_hook")) == 2


async def test_an_unknown_token_raises_hook_not_found_in_the_workflow_at_once(
    engine: wf.Engine,
) -> None:
    run = await engine.start(signals.resume_unknown, "nobody:holds:this")
    result = await run.result(timeout=10)
    assert result.startswith("caught HookNotFoundError: no live run holds hook token")
    assert "'nobody:holds:this'" in result
    log = await kinds(run)
    assert ("step_retrying", f"{BUILTIN}:resume_hook") not in log
    assert log.count(("step_failed", f"{BUILTIN}:resume_hook")) == 1


async def test_a_payload_that_cannot_be_serialized_is_refused_at_the_call(
    engine: wf.Engine,
) -> None:
    import flows.signals_bad as bad

    run = await engine.start(bad.send_unserializable)
    result = await run.result(timeout=10)
    assert "SerializationError" in result and "message 'note'" in result
    assert [k for k, _ in await kinds(run)] == ["run_started", "run_completed"]


async def test_a_parent_cancels_its_child_which_compensates_once(db_url: str) -> None:
    async with replaying_engine(db_url) as engine:
        run = await engine.start(signals.canceller)
        result = await run.result(timeout=20)
        child = engine.get_run(result["child"])
        assert result == {
            "child": f"{run.id}.0",
            "outcome": f"RunCancelledError: run {run.id}.0 was cancelled",
        }
        assert await child.status() == "cancelled"
        parent_log = await kinds(run)
        child_log = await kinds(child)
    assert signals.CALLS == {"compensate": 1}
    assert parent_log.count(("step_scheduled", f"{BUILTIN}:cancel_run")) == 2
    assert [k for k, _ in child_log].count("cancel_requested") == 1


async def test_cancelling_a_child_that_already_ended_is_quiet(engine: wf.Engine) -> None:
    run = await engine.start(signals.cancel_after_end)
    assert await run.result(timeout=10) == 7
    assert await engine.get_run(f"{run.id}.0").status() == "completed"


async def test_a_cancelled_parent_cancels_its_child_in_finally(engine: wf.Engine) -> None:
    run = await engine.start(signals.cascading)
    child = engine.get_run(f"{run.id}.0")
    await wait_status(child, "sleeping")
    await run.cancel()
    with pytest.raises(wf.RunCancelledError):
        await run.result(timeout=10)
    with pytest.raises(wf.RunCancelledError):
        await child.result(timeout=10)
    assert signals.CALLS == {"compensate": 1}


async def test_a_child_handle_outside_its_workflow_refuses_to_cancel() -> None:
    from wf.runtime._api import ChildRun

    loop = asyncio.get_running_loop()
    handle: ChildRun[Any] = ChildRun("some-child", loop.create_future())
    with pytest.raises(wf.WorkflowError, match="for the workflow that started it"):
        await handle.cancel()
