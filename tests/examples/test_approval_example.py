"""The approval example: a typed hook raced against seven days, on a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import wf.testing
from examples import approval


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    approval.CALLS.clear()
    yield


async def test_an_approval_within_the_week_pays_the_expense() -> None:
    async with wf.testing.WorkflowEnvironment() as env:
        run = await env.start(approval.approve_expense, "e-1", 250)
        await env.advance("2 days")
        await env.resume_hook("approve:e-1", {"approved": True, "by": "ann"})
        assert await run.result(timeout=10) == {
            "expense": "e-1",
            "status": "paid",
            "by": "ann",
            "receipt": "paid e-1: 250",
        }
    assert approval.CALLS == {"ask_manager": 1, "pay": 1}


async def test_no_answer_in_seven_days_expires_and_pays_nothing() -> None:
    async with wf.testing.WorkflowEnvironment() as env:
        run = await env.start(approval.approve_expense, "e-2", 90)
        await env.advance("6d")
        assert await run.status() == "waiting"
        await env.advance("1 day")
        assert await run.result(timeout=10) == {"expense": "e-2", "status": "expired"}
        with pytest.raises(wf.HookNotFoundError):  # the token went with the run
            await env.resume_hook("approve:e-2", {"approved": True, "by": "late"})
    assert approval.CALLS == {"ask_manager": 1}


async def test_a_payload_that_is_not_a_decision_is_refused_and_nothing_is_recorded() -> None:
    async with wf.testing.WorkflowEnvironment() as env:
        run = await env.start(approval.approve_expense, "e-3", 40)
        before = [e.kind async for e in run.events()]
        with pytest.raises(ValueError, match="approved"):
            await env.resume_hook("approve:e-3", {"approved": "maybe", "by": "bob"})
        assert [e.kind async for e in run.events()] == before
        await env.resume_hook("approve:e-3", {"approved": False, "by": "bob"})
        assert await run.result(timeout=10) == {"expense": "e-3", "status": "rejected", "by": "bob"}
    assert approval.CALLS == {"ask_manager": 1}
