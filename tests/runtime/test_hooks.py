"""Hooks and messages: payloads from outside reach waiting runs, durably and in order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import wf
from flows import waiting
from wf.store._commands import Batch, CommitResult, RegisterHook


async def wait_status(run: wf.Run[Any], status: str) -> None:
    for _ in range(500):
        if await run.status() == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run.id} never reached {status} (is {await run.status()})")


async def resume_when_held(engine: wf.Engine, token: str, payload: Any) -> str:
    for _ in range(500):
        try:
            return await engine.resume_hook(token, payload)
        except wf.HookNotFoundError:
            await asyncio.sleep(0.01)
    raise AssertionError(f"hook {token} never appeared")


async def test_approval_hook_races_a_seven_day_sleep(engine: wf.Engine) -> None:
    run = await engine.start(waiting.approval, "o-1", "7 days")
    await resume_when_held(engine, "approve:o-1", {"ok": True})
    assert await run.result(timeout=10) == {"order": "o-1", "status": "approved"}
    expired = await engine.start(waiting.approval, "o-2", "50ms")
    assert await expired.result(timeout=10) == {"order": "o-2", "status": "expired"}


async def test_hook_loop_receives_three_payloads_while_a_long_sleep_is_pending(
    engine: wf.Engine,
) -> None:
    run = await engine.start(waiting.collect_three)
    # All three may arrive before the workflow reads any: none may be lost.
    await resume_when_held(engine, "collect", 1)
    await engine.resume_hook("collect", {"two": 2})
    await engine.resume_hook("collect", [3])
    assert await run.result(timeout=10) == [1, {"two": 2}, [3]]


async def test_a_listening_run_waits_in_memory_for_evict_after_then_is_evicted(
    db_url: str,
) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=1.0) as engine:
        run = await engine.start(waiting.collect_three)
        await wait_status(run, "waiting")  # shown as waiting while it listens...
        assert engine.holds(run.id)  # ...but kept in memory: a burst costs no replay
        await engine.resume_hook("collect", "a")
        for _ in range(500):
            if not engine.holds(run.id):
                break
            await asyncio.sleep(0.01)
        assert not engine.holds(run.id)  # evicted once quiet for evict_after
        assert await run.status() == "waiting"
        await engine.resume_hook("collect", "b")
        await engine.resume_hook("collect", "c")
        assert await run.result(timeout=10) == ["a", "b", "c"]


async def test_payloads_reach_an_evicted_waiting_run(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.0) as engine:
        run = await engine.start(waiting.collect_three)
        await wait_status(run, "waiting")  # evicted while it listens (a 1h sleep pends too)
        assert run.id not in engine._host
        for payload in ("a", "b", "c"):
            await engine.resume_hook("collect", payload)
        assert await run.result(timeout=10) == ["a", "b", "c"]


async def test_default_token_is_durable_before_the_next_step_and_stable_on_replay(
    tmp_path: Path,
) -> None:
    db = tmp_path / "wf.db"
    async with wf.Engine(f"sqlite:///{db}", poll_interval=0.02, evict_after=0.0) as engine:
        run = await engine.start(waiting.default_token, str(db))
        await wait_status(run, "waiting")  # evicted: it is replayed when the payload comes
        tokens = [e.name async for e in run.events() if e.kind == "hook_created"]
        assert len(tokens) == 1 and tokens[0] is not None
        token = tokens[0]
        await engine.resume_hook(token, "hello")
        result = await run.result(timeout=10)
    assert result == {"token": token, "durable_before_step": True, "payload": "hello"}


async def test_unknown_and_released_tokens_and_reuse(engine: wf.Engine) -> None:
    with pytest.raises(wf.HookNotFoundError, match="nope"):
        await engine.resume_hook("nope", 1)
    first = await engine.start(waiting.hold, "shared")
    await resume_when_held(engine, "shared", "one")
    assert await first.result(timeout=10) == "one"
    with pytest.raises(wf.HookNotFoundError):
        await engine.resume_hook("shared", "late")  # released when the run ended
    second = await engine.start(waiting.hold, "shared")  # and free to reuse
    await resume_when_held(engine, "shared", "two")
    assert await second.result(timeout=10) == "two"


async def test_a_token_held_by_another_live_run_fails_the_second_run(engine: wf.Engine) -> None:
    holder = await engine.start(waiting.hold, "taken")
    for _ in range(500):
        if "hook_created" in [e.kind async for e in holder.events()]:
            break
        await asyncio.sleep(0.01)
    intruder = await engine.start(waiting.hold, "taken")
    with pytest.raises(wf.RunFailedError) as info:
        await intruder.result(timeout=10)
    assert info.value.error_type == "wf.HookConflictError"
    assert holder.id in info.value.error_message
    await engine.resume_hook("taken", "still mine")
    assert await holder.result(timeout=10) == "still mine"


async def test_bad_hook_payload_is_refused_before_anything_is_written(engine: wf.Engine) -> None:
    run = await engine.start(waiting.hold, "strict")
    await resume_when_held(engine, "strict", "ok")
    with pytest.raises(wf.SerializationError, match="payload for hook 'strict'"):
        await engine.resume_hook("strict", object())
    assert await run.result(timeout=10) == "ok"


async def test_messages_queue_until_received_and_receive_times_out(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, worker=False) as client:
        run = await client.start(waiting.messages, "50ms")
        # Sent before any worker runs the workflow: they wait in the run.
        await client.send(run.id, "greeting", "hi")
        await client.send(run.id, "greeting", {"again": True})
    async with wf.Engine(db_url, poll_interval=0.02) as worker:
        result = await worker.get_run(run.id).result(timeout=10)
    assert result == {"first": "hi", "second": {"again": True}, "missing": None}


async def test_status_is_waiting_while_a_run_listens(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.0) as engine:
        run = await engine.start(waiting.messages, "1h")
        await wait_status(run, "waiting")
        await engine.send(run.id, "greeting", 1)
        await engine.send(run.id, "greeting", 2)
        await wait_status(run, "waiting")  # now listening for "never", with a timeout
        await run.cancel()
        with pytest.raises(wf.RunCancelledError):
            await run.result(timeout=10)
        with pytest.raises(wf.WorkflowError, match="already ended"):
            await engine.send(run.id, "greeting", 3)
        with pytest.raises(wf.RunNotFoundError):
            await engine.send("missing-run", "greeting", 3)


async def test_a_failed_commit_is_retried_with_its_hook_registration(
    engine: wf.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import psycopg

    # A failure each store calls transient: a lock held too long, a connection lost.
    if engine.store.sync_commits:
        error: Exception = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
    else:
        error = psycopg.OperationalError("server closed the connection unexpectedly")
    assert engine.store.classify(error).kind == "transient"
    failures: list[int] = []
    store = engine.store
    real = store.commit_sync

    def locked_once(batch: Batch, owner: str, *args: Any, **options: Any) -> CommitResult:
        if batch.of(RegisterHook) and not failures:
            failures.append(1)
            raise error
        return real(batch, owner, *args, **options)

    monkeypatch.setattr(store, "commit_sync", locked_once)
    if engine._committer._commit_sync is not None:
        engine._committer._commit_sync = locked_once
    run = await engine.start(waiting.hold, "after-retry")
    await resume_when_held(engine, "after-retry", "made it")
    assert await run.result(timeout=10) == "made it"
    assert failures == [1]


async def test_typed_hook_refuses_a_bad_payload_and_delivers_instances(
    engine: wf.Engine,
) -> None:
    run = await engine.start(waiting.typed_approval)
    for _ in range(500):
        if "hook_created" in [e.kind async for e in run.events()]:
            break
        await asyncio.sleep(0.01)
    bad_payloads = [
        ({"approved": "yes", "by": "ann"}, "field 'approved' must be bool"),
        ({"approved": True}, "missing 1 required positional argument: 'by'"),
        ({"approved": True, "by": "ann", "mood": "good"}, "unknown field(s) mood"),
        (["not", "an", "object"], "expected a JSON object with the fields of Decision"),
    ]
    for payload, reason in bad_payloads:
        with pytest.raises(ValueError) as info:
            await engine.resume_hook("typed", payload)
        assert "payload for hook 'typed' does not fit Decision" in str(info.value)
        assert reason in str(info.value)
    assert "hook_received" not in [e.kind async for e in run.events()]  # nothing recorded
    await engine.resume_hook("typed", {"approved": True, "by": "ann"})
    assert await run.result(timeout=10) == {"is_decision": True, "by": "ann", "ok": True}


async def test_a_message_to_an_evicted_run_is_delivered_once(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.0) as engine:
        run = await engine.start(waiting.messages, "1h")
        await wait_status(run, "waiting")
        await engine.send(run.id, "greeting", "only once")
        for _ in range(300):
            kinds = [e.kind async for e in run.events()]
            if "message_received" in kinds and await run.status() == "waiting":
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # a duplicate would have been delivered by now
        kinds = [e.kind async for e in run.events()]
        assert kinds.count("message_received") == 1
        await run.cancel()


async def test_a_worker_runs_what_it_starts_itself_only_while_it_has_room(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, concurrency=1, evict_after=30) as engine:
        first = await engine.start(waiting.collect_three)
        assert engine.holds(first.id)  # taken at once: no claim, no poll
        # Full (the first run waits in memory): the second is left for when there is room.
        second = await engine.start(waiting.default_token_free)
        assert not engine.holds(second.id)
        assert await second.status() == "pending"
        await resume_when_held(engine, "collect", "a")  # once its token is durable
        for payload in ("b", "c"):
            await engine.resume_hook("collect", payload)
        assert await first.result(timeout=10) == ["a", "b", "c"]
        assert await second.result(timeout=10) == "sent no token needed"
