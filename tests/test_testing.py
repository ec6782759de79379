"""wf.testing: workflows that wait for days, tested in milliseconds."""

from __future__ import annotations

import datetime as dt
import json as _json
from pathlib import Path

import pytest

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


async def test_webhooks_are_called_in_process_through_the_real_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples import birthday_card, webhook_reply

    monkeypatch.setenv("WF_WEBHOOK_REPLY_LOG", str(tmp_path / "webhook_reply.log"))

    birthday_card.INVITES.clear()
    webhook_reply.URLS.clear()
    async with wf.testing.WorkflowEnvironment() as env:
        # A manual answer, computed by a step, is what the caller gets.
        quote = await env.start(webhook_reply.shipping_quote)
        url = webhook_reply.URLS[quote.id]
        answer = await env.webhook(url, json={"weight_kg": 1, "country": "DE"})
        assert (answer.status, _json.loads(answer.body)) == (
            201,
            {"price_eur": 9.5, "country": "DE"},
        )
        assert answer.headers["content-type"] == "application/json"
        assert await quote.result(timeout=5) == "booked DE at 9.5 EUR"

        # A static answer, RSVPs recorded while the card waits for the day.
        day = env.now() + dt.timedelta(days=2)
        card = await env.start(birthday_card.birthday_card, "Ada", ["ann"], day.isoformat())
        reply = await env.webhook(birthday_card.INVITES["ann"], json={"answer": "yes"})
        assert (reply.status, reply.body) == (200, b"Thanks, your answer is recorded.")
        await env.advance("2 days")
        assert (await card.result(timeout=5))["rsvps"] == {"ann": "yes"}
        gone = await env.webhook(birthday_card.INVITES["ann"], json={"answer": "no"})
        assert gone.status == 404
        token = birthday_card.INVITES["ann"].rsplit("/", 1)[1]
        assert (await env.webhook(token, method="GET")).status == 404  # by token too
