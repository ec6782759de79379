"""wf.testing: workflows that wait for days, tested in milliseconds."""

from __future__ import annotations

import datetime as dt

import wf.testing
from flows import longwait


async def test_a_seven_day_approval_expires_when_the_clock_moves() -> None:
    longwait.CALLS.clear()
    async with wf.testing.WorkflowEnvironment() as env:
        run = await env.start(longwait.approval, "o-1")
        await env.advance("6 days")
        assert await run.status() in ("running", "sleeping", "waiting")
        assert longwait.CALLS == {}
        await env.advance("1 day")
        assert await run.result(timeout=5) == {"status": "expired", "waited_days": 7}
        assert longwait.CALLS == {"remind": 1}


async def test_a_hook_resumed_before_the_deadline(tmp_path: object) -> None:
    async with wf.testing.WorkflowEnvironment() as env:
        run = await env.start(longwait.approval, "o-2")
        await env.advance("3 days")
        await env.resume_hook("approve:o-2", {"ok": True})
        assert await run.result(timeout=5) == {"status": "approved"}


async def test_retry_backoff_runs_on_virtual_time() -> None:
    longwait.CALLS.clear()
    async with wf.testing.WorkflowEnvironment() as env:
        run = await env.start(longwait.with_hourly_retries, "o-3")
        assert longwait.CALLS == {"flaky_daily": 1}
        await env.advance("1h")
        assert longwait.CALLS == {"flaky_daily": 2}
        await env.advance("1h")
        assert await run.result(timeout=5) == "done o-3"


async def test_sleep_until_a_date() -> None:
    async with wf.testing.WorkflowEnvironment() as env:
        moment = env.now() + dt.timedelta(days=30)
        run = await env.start(longwait.until, moment)
        await env.advance("30 days")
        assert await run.result(timeout=5) == moment.isoformat()
