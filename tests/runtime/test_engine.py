"""Runs executed by a real engine on a real SQLite file: semantics a workflow author relies on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import wf
from flows import basic
from wf.runtime import _serde
from wf.runtime._context import RunContext
from wf.runtime._events import STEP_COMPLETED, STEP_RETRYING, Event


@pytest.fixture(autouse=True)
def reset_calls() -> Iterator[None]:
    basic.CALLS.clear()
    basic.THREADS.clear()
    yield


async def kinds(run: wf.Run[Any]) -> list[str]:
    return [event.kind async for event in run.events()]


def replayed_result(run_id: str, fn: Any, events: list[Event]) -> Any:
    """Replay a finished run's log (without its run_completed) in a fresh context."""
    ctx = RunContext(
        run_id=run_id,
        workflow_id=f"{fn.__module__}:{fn.__qualname__}",
        fn=fn,
        args=(),
        kwargs={},
        started_at=events[0].at,
        seed=_serde.loads(events[0].data or "{}").get("seed"),  # from the run's input
    )
    ctx.replay(events[1:-1])
    assert ctx.finished is not None
    ctx.close()
    return _serde.loads(ctx.finished[1] or "null")


async def wait_until_sleeping(run: wf.Run[Any]) -> None:
    for _ in range(300):
        if await run.status() == "sleeping":
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run.id} never went to sleep")


async def test_sequential_steps_run_once_each(engine: wf.Engine) -> None:
    run = await engine.start(basic.sequential, 20)
    assert await run.result(timeout=10) == sum(range(20))
    assert basic.CALLS["add"] == 20
    assert await run.status() == "completed"
    log = await kinds(run)
    assert log[0] == "run_started" and log[-1] == "run_completed"
    assert log.count(STEP_COMPLETED) == 20


async def test_gather_runs_async_and_thread_steps(engine: wf.Engine) -> None:
    run = await engine.start(basic.parallel)
    assert await run.result(timeout=10) == [3, 12, 11]
    assert basic.THREADS and all(name.startswith("wf-step") for name in basic.THREADS)


async def test_retries_until_success_with_attempt_numbers(engine: wf.Engine) -> None:
    run = await engine.start(basic.retrying, 2)
    assert await run.result(timeout=10) == "ok after 3"
    assert basic.CALLS["flaky"] == 3
    assert (await kinds(run)).count(STEP_RETRYING) == 2


async def test_retryable_error_sets_the_delay(engine: wf.Engine) -> None:
    run = await engine.start(basic.retry_after_flow, 2)
    assert await run.result(timeout=10) == 3
    retries = [e async for e in run.events() if e.kind == STEP_RETRYING]
    assert len(retries) == 2
    for event in retries:
        info = wf.runtime._serde.loads(event.data or "{}")
        assert info["retry_at"] - event.at == pytest.approx(0.02, abs=0.01)


async def test_fatal_error_is_not_retried_and_reaches_the_workflow(engine: wf.Engine) -> None:
    run = await engine.start(basic.fatal_flow)
    assert await run.result(timeout=10) == "caught: card declined"
    assert basic.CALLS["fatal"] == 1


async def test_exhausted_retries_raise_the_steps_own_type_for_compensation(
    engine: wf.Engine,
) -> None:
    run = await engine.start(basic.saga, 30)
    result = await run.result(timeout=10)
    assert result == {"status": "compensated", "refund": "refunded 30", "why": "widget"}
    assert basic.CALLS["reserve"] == 2
    assert basic.CALLS["refund"] == 1


async def test_unhandled_step_failure_fails_the_run(engine: wf.Engine) -> None:
    run = await engine.start(basic.exhausted)
    with pytest.raises(wf.RunFailedError) as info:
        await run.result(timeout=10)
    assert info.value.error_type == "ConnectionError"
    assert "attempt 3 failed" in info.value.error_message
    assert basic.CALLS["flaky"] == 3  # max_attempts=3 from @wf.options
    assert await run.status() == "failed"


async def test_workflow_exception_fails_the_run(engine: wf.Engine) -> None:
    run = await engine.start(basic.failing, "boom")
    with pytest.raises(wf.RunFailedError, match="boom"):
        await run.result(timeout=10)


async def test_wait_for_times_out_a_slow_step(engine: wf.Engine) -> None:
    run = await engine.start(basic.timeout_flow, 5.0, 0.05)
    assert await run.result(timeout=10) == "timed out"
    fast = await engine.start(basic.timeout_flow, 0.0, 5.0)
    assert await fast.result(timeout=10) == "slow won"


async def test_asyncio_timeout_context_manager(engine: wf.Engine) -> None:
    run = await engine.start(basic.timeout_cm_flow, 0.05)
    assert await run.result(timeout=10) == "deadline hit"


async def test_race_step_against_sleep(engine: wf.Engine) -> None:
    step_wins = await engine.start(basic.race_flow, 0.0, "5s")
    assert await step_wins.result(timeout=10) == "step"
    sleep_wins = await engine.start(basic.race_flow, 5.0, "20ms")
    assert await sleep_wins.result(timeout=10) == "sleep"


async def test_durable_sleep_uses_the_replayed_clock(engine: wf.Engine) -> None:
    run = await engine.start(basic.sleepy, 0.1)
    result = await run.result(timeout=10)
    assert result["value"] == 2
    assert result["slept"] >= 0.1


async def test_nested_workflow_runs_inline_in_the_parents_log(engine: wf.Engine) -> None:
    run = await engine.start(basic.parent, 1)
    assert await run.result(timeout=10) == [101, 102]
    names = [e.name async for e in run.events() if e.kind == "step_scheduled"]
    assert names == ["flows.basic:add", "flows.basic:add"]


async def test_idempotent_run_id(engine: wf.Engine) -> None:
    first = await engine.start(basic.sequential, 3, run_id="order-1")
    second = await engine.start(basic.sequential, 3, run_id="order-1")
    assert first.id == second.id == "order-1"
    assert await second.result(timeout=10) == 3
    assert basic.CALLS["add"] == 3
    with pytest.raises(wf.WorkflowError, match=r"already used by a run of flows\.basic:sequential"):
        await engine.start(basic.parallel, run_id="order-1")


async def test_unserializable_argument_is_refused_before_anything_is_written(
    engine: wf.Engine,
) -> None:
    run = await engine.start(basic.unserializable_argument)
    message = await run.result(timeout=10)
    assert "flows.basic:add" in message and "object" in message
    assert basic.CALLS["add"] == 0
    assert "step_scheduled" not in await kinds(run)


async def test_unserializable_result_fails_the_step_without_retry(engine: wf.Engine) -> None:
    run = await engine.start(basic.unserializable_result)
    message = await run.result(timeout=10)
    assert "flows.basic:returns_lock" in message
    assert basic.CALLS["returns_lock"] == 1


async def test_unserializable_workflow_input_is_refused(engine: wf.Engine) -> None:
    import threading

    with pytest.raises(wf.SerializationError, match=r"input of workflow flows\.basic:takes_any"):
        await engine.start(basic.takes_anything, threading.Lock())
    with pytest.raises(TypeError, match="'n' must be int"):
        await engine.start(basic.sequential, threading.Lock())  # type: ignore[arg-type]
    assert await engine.list_runs() == []


async def test_wrong_arguments_are_refused(engine: wf.Engine) -> None:
    with pytest.raises(TypeError, match=r"wrong arguments for workflow flows\.basic:sequential"):
        await engine.start(basic.sequential, 1, 2)  # type: ignore[call-arg]


async def test_non_workflow_is_refused(engine: wf.Engine) -> None:
    with pytest.raises(wf.WorkflowError, match="is not a workflow"):
        await engine.start(basic.add, 1, 2)  # type: ignore[arg-type]


async def test_workflow_called_directly_explains_wf_start() -> None:
    with pytest.raises(wf.NotInWorkflowError, match=r"wf\.start"):
        await basic.sequential(3)


async def test_step_called_outside_a_workflow_is_just_the_function() -> None:
    assert await basic.add(2, 3) == 5
    assert basic.blocking_mul(2, 3) == 6


async def test_deterministic_values_survive_eviction_and_replay(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.0) as engine:
        run = await engine.start(basic.deterministic)
        result = await run.result(timeout=10)
    # The sleep evicted the run, so the second half ran after a replay of the first:
    # values drawn before the sleep would differ if replay were not deterministic.
    assert result["first"]["random"] != result["second"]["random"]
    async with wf.Engine(db_url, worker=False) as engine:
        events = [e async for e in engine.get_run(run.id).events()]
    assert [e.kind for e in events][-3:] == ["timer_scheduled", "timer_fired", "run_completed"]
    # Replaying the whole log in a fresh context reproduces the same result.
    assert replayed_result(run.id, basic.deterministic, events) == result


async def test_sleeping_run_is_evicted_and_resumed(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.05) as engine:
        run = await engine.start(basic.sleepy, 0.4)
        await wait_until_sleeping(run)
        assert run.id not in engine._host
        result = await run.result(timeout=10)
    assert result["value"] == 2 and result["slept"] >= 0.4


async def test_cancel_runs_finally_compensation_and_reports_cancelled(engine: wf.Engine) -> None:
    run = await engine.start(basic.compensating, 30)
    for _ in range(200):
        if "timer_scheduled" in await kinds(run):
            break
        await asyncio.sleep(0.01)
    await run.cancel()
    with pytest.raises(wf.RunCancelledError):
        await run.result(timeout=10)
    assert basic.CALLS["refund"] == 1
    assert await run.status() == "cancelled"
    with pytest.raises(wf.WorkflowError, match="already ended"):
        await run.cancel()


async def test_cancel_of_an_evicted_sleeping_run(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.0) as engine:
        run = await engine.start(basic.compensating, 30)
        await wait_until_sleeping(run)
        await run.cancel()
        with pytest.raises(wf.RunCancelledError):
            await run.result(timeout=10)
    assert basic.CALLS["refund"] == 1


async def test_workflow_metadata(engine: wf.Engine) -> None:
    run = await engine.start(basic.metadata_flow, run_id="meta-1")
    assert await run.result(timeout=10) == {
        "run_id": "meta-1",
        "workflow_id": "flows.basic:metadata_flow",
        "attempt": 1,
    }


async def test_result_timeout(db_url: str) -> None:
    async with wf.Engine(db_url, worker=False) as engine:
        run = await engine.start(basic.sequential, 1)
        with pytest.raises(TimeoutError):
            await run.result(timeout=0.05)
        assert await run.status() == "pending"
        with pytest.raises(wf.RunNotFoundError):
            await engine.get_run("nope").status()


async def test_a_second_engine_finishes_a_run_started_without_worker(db_url: str) -> None:
    async with wf.Engine(db_url, worker=False) as client:
        run = await client.start(basic.sequential, 4)
    async with wf.Engine(db_url, poll_interval=0.02) as worker:
        assert await worker.get_run(run.id).result(timeout=10) == 6


async def test_each_steps_result_is_logged_after_its_scheduling(engine: wf.Engine) -> None:
    run = await engine.start(basic.sequential, 5)
    await run.result(timeout=10)
    seen: set[int | None] = set()
    async for event in run.events():
        if event.kind == "step_scheduled":
            seen.add(event.cid)
        elif event.kind == STEP_COMPLETED:
            assert event.cid in seen, f"result #{event.cid} logged before its step_scheduled"


async def test_engine_closes_right_after_a_run_ends_at_once(db_url: str) -> None:
    # Python 3.11's asyncio.wait_for could swallow close()'s cancellation here.
    async with asyncio.timeout(10):
        async with wf.Engine(db_url, poll_interval=0.01) as engine:
            run = await engine.start(basic.failing, "now")
            with pytest.raises(wf.RunFailedError):
                await run.result(timeout=5)


async def test_asyncio_wait_in_a_workflow_is_deterministic(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        run = await engine.start(basic.wait_flow)
        result = await run.result(timeout=10)
        events = [e async for e in run.events()]
    assert sorted(result) == ["a", "b", "c"]
    # The compiler routes asyncio.wait through a version whose sets iterate in issue
    # order, so a replay of the log gives the same list.
    for _ in range(3):
        assert replayed_result(run.id, basic.wait_flow, events) == result
    assert result == ["a", "b", "c"]


@pytest.mark.parametrize("delay", [0, 0.001, 0.005])
async def test_closing_an_engine_mid_flight_is_quiet_and_the_run_resumes(
    db_url: str, caplog: pytest.LogCaptureFixture, delay: float
) -> None:
    caplog.set_level("WARNING", logger="wf")
    runs = []
    for fn, args in (
        (basic.parallel, ()),
        (basic.sequential, (50,)),
        (basic.race_flow, (0.3, "9s")),
    ):
        async with wf.Engine(db_url, poll_interval=0.02) as first:
            runs.append((await first.start(fn, *args), fn))
            await asyncio.sleep(delay)
        # Callbacks the closed engine had scheduled get their turn: none may touch the store.
        await asyncio.sleep(0.1)
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
    async with wf.Engine(db_url, poll_interval=0.02) as second:
        results = [await second.get_run(run.id).result(timeout=10) for run, _ in runs]
    assert results == [[3, 12, 11], sum(range(50)), "step"]


async def test_a_step_running_when_its_run_is_cancelled_finishes_and_is_recorded(
    engine: wf.Engine,
) -> None:
    basic.LEDGER.clear()
    run = await engine.start(basic.cancelled_mid_step, 5)
    while basic.LEDGER != ["begin 5"]:
        await asyncio.sleep(0.005)
    await run.cancel()
    with pytest.raises(wf.RunCancelledError):
        await run.result(timeout=10)
    assert await run.status() == "cancelled"
    # The step was not interrupted half-way: it ran to its end and its result is logged.
    for _ in range(200):
        events = [e async for e in run.events()]
        if any(e.kind == STEP_COMPLETED for e in events):
            break
        await asyncio.sleep(0.01)
    assert basic.LEDGER == ["begin 5", "end 5"]
    completed = [e for e in events if e.kind == STEP_COMPLETED]
    assert [_serde.loads(e.data or "null") for e in completed] == ["charged 5"]
    assert [e.kind for e in events].count("run_cancelled") == 1


async def test_a_race_loser_keeps_running_after_the_run_completed(engine: wf.Engine) -> None:
    basic.LEDGER.clear()
    run = await engine.start(basic.raced_steps)
    assert await run.result(timeout=10) == "2"
    for _ in range(200):
        if basic.LEDGER == ["begin 7", "end 7"]:
            break
        await asyncio.sleep(0.01)
    assert basic.LEDGER == ["begin 7", "end 7"]
    for _ in range(200):  # the loser's result is committed just after it returns
        events = [e async for e in run.events()]
        if [e.kind for e in events].count(STEP_COMPLETED) == 2:
            break
        await asyncio.sleep(0.01)
    assert [_serde.loads(e.data or "null") for e in events if e.kind == STEP_COMPLETED] == [
        2,
        "charged 7",
    ]


async def test_list_runs_and_describe_read_runs_through_the_engine(engine: wf.Engine) -> None:
    done = await engine.start(basic.sequential, 3, run_id="listed-1")
    assert await done.result(timeout=10) == 3
    record = await done.describe()
    assert (record.run_id, record.status, record.workflow_id) == (
        "listed-1",
        "completed",
        "flows.basic:sequential",
    )
    assert [r.run_id for r in await engine.list_runs(status="completed")] == ["listed-1"]
    assert await engine.list_runs(status="failed") == []
    assert [r.run_id for r in await engine.list_runs(workflow="sequential")] == ["listed-1"]
    with pytest.raises(wf.RunNotFoundError):
        await engine.get_run("nobody").describe()


@pytest.mark.parametrize("sync_commits", [True, False], ids=["callback", "flusher"])
async def test_both_commit_paths_run_workflows_alike(db_url: str, sync_commits: bool) -> None:
    # SQLite commits from a loop callback; a store whose commits must be awaited (a
    # network database) is flushed by the engine's flusher task. Both run the same.
    engine = wf.Engine(db_url, poll_interval=0.02)
    engine.store.sync_commits = sync_commits
    async with engine:
        runs = [
            await engine.start(basic.sequential, 20),
            await engine.start(basic.parallel),
            await engine.start(basic.retrying, 2),
            await engine.start(basic.race_flow, 0.01, "5s"),
            await engine.start(basic.saga, 5),
        ]
        results = [await run.result(timeout=10) for run in runs]
        sleeper = await engine.start(basic.sleepy, 0.05)
        slept = await sleeper.result(timeout=10)
    assert results[:4] == [sum(range(20)), [3, 12, 11], "ok after 3", "step"]
    assert results[4] is not None
    assert slept["slept"] >= 0.05


async def test_a_closed_engine_answers_reads_without_starting_its_worker_again(
    db_url: str,
) -> None:
    async with wf.Engine(db_url) as engine:
        run = await engine.start(basic.sequential, 3)
        assert await run.result(timeout=10) == 3
    # A handle used after the ``async with`` opens the store again, as a client only:
    # a worker started now would never be closed.
    assert await run.status() == "completed"
    late = await engine.start(basic.sequential, 2)
    assert await late.status() == "pending"
    workers = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("wf-")]
    assert workers == []
    await engine.close()
    async with wf.Engine(db_url) as other:
        assert await other.get_run(late.id).result(timeout=10) == 1  # 0 + 1


def test_every_inbox_kind_reaches_its_run() -> None:
    """A kind added to InboxKind without a receiver would be dropped with a warning."""
    from wf.store import InboxKind

    engine = wf.Engine("sqlite:///:memory:")
    assert set(engine._host._receivers) == set(InboxKind)
