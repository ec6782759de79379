"""deadline= on start: past it no step starts, late retries are not scheduled, the run fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import wf
from flows import basic


@pytest.fixture(autouse=True)
def reset_calls() -> Iterator[None]:
    basic.CALLS.clear()
    yield


async def test_deadline_fails_a_run_still_sleeping(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        run = await engine.start(basic.sleep_then_add, 30, deadline="200ms")
        with pytest.raises(wf.RunFailedError) as info:
            await run.result(timeout=10)
        kinds = [e.kind async for e in run.events()]
    assert info.value.error_type == "wf.DeadlineExceededError"
    assert "deadline" in info.value.error_message
    assert basic.CALLS["add"] == 0
    assert kinds[-1] == "run_failed"


async def test_deadline_wakes_an_evicted_run_to_fail_it(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.0) as engine:
        run = await engine.start(basic.sleep_then_add, 3600, deadline="300ms")
        for _ in range(200):
            if await run.status() == "sleeping":
                break
            await asyncio.sleep(0.01)
        assert await run.status() == "sleeping"
        with pytest.raises(wf.RunFailedError, match="deadline"):
            await run.result(timeout=10)


async def test_a_run_past_its_deadline_when_claimed_runs_nothing(db_url: str) -> None:
    async with wf.Engine(db_url, worker=False) as client:
        run = await client.start(basic.sequential, 3, deadline="50ms")
    await asyncio.sleep(0.1)
    async with wf.Engine(db_url, poll_interval=0.02) as worker:
        with pytest.raises(wf.RunFailedError, match="deadline"):
            await worker.get_run(run.id).result(timeout=10)
    assert basic.CALLS["add"] == 0


async def test_a_retry_that_would_land_after_the_deadline_is_not_scheduled(
    engine: wf.Engine,
) -> None:
    run = await engine.start(basic.long_retry_flow, deadline="30s")
    assert await run.result(timeout=10) == "gave up before the deadline"
    assert basic.CALLS["retry_in_an_hour"] == 1
    assert "step_retrying" not in [e.kind async for e in run.events()]


async def test_a_run_finishing_in_time_is_unaffected(engine: wf.Engine) -> None:
    run = await engine.start(basic.sequential, 3, deadline="30s")
    assert await run.result(timeout=10) == 3


async def test_bad_deadlines_are_refused(engine: wf.Engine) -> None:
    import datetime

    with pytest.raises(ValueError, match="deadline must be a timezone-aware datetime"):
        await engine.start(basic.sequential, 1, deadline=datetime.datetime(2030, 1, 1))
    with pytest.raises(ValueError):
        await engine.start(basic.sequential, 1, deadline="-5s")
    assert await engine.list_runs() == []


async def test_a_workflows_timeout_option_is_its_default_deadline(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        late = await engine.start(basic.impatient, 30)
        quick = await engine.start(basic.impatient, 0.01)
        chosen = await engine.start(basic.impatient, 0.5, deadline="20s")
        with pytest.raises(wf.RunFailedError) as info:
            await late.result(timeout=10)
        assert info.value.error_type == "wf.DeadlineExceededError"
        assert await quick.result(timeout=10) == 2
        # deadline= given at start replaces the option's default.
        assert await chosen.result(timeout=10) == 2
        # A child run gets its workflow's timeout as its deadline too.
        parent = await engine.start(basic.impatient_parent, 30)
        assert await parent.result(timeout=10) == "wf.DeadlineExceededError"
    assert basic.CALLS["add"] == 2


async def test_a_delayed_runs_timeout_counts_from_its_start(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        run = await engine.start(basic.impatient, 0.01, start_at="300ms")
        assert await run.result(timeout=10) == 2
