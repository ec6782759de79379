"""The webhook examples end to end over real HTTP on 127.0.0.1, counting step executions."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from web_support import serve_engine

import wf
import wf.testing
from examples import birthday_card, webhook_reply
from wf.web import listen, serving


@pytest.fixture(autouse=True)
def _reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WF_WEBHOOK_REPLY_LOG", str(tmp_path / "webhook_reply.log"))
    for module in (birthday_card, webhook_reply):
        module.CALLS.clear()
    webhook_reply.URLS.clear()
    birthday_card.INVITES.clear()
    birthday_card.LOG.clear()
    yield


@pytest.fixture
async def env() -> AsyncIterator[tuple[wf.testing.WorkflowEnvironment, httpx.AsyncClient]]:
    """A virtual-clock engine served over real HTTP, with a client for it."""
    sock = listen("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with (
            wf.testing.WorkflowEnvironment(base_url=base) as environment,
            serving(wf.asgi_app(environment.engine), sock),
            httpx.AsyncClient(timeout=20) as client,
        ):
            yield environment, client
    finally:
        sock.close()


async def _until(condition: object, what: str) -> None:
    for _ in range(1000):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# -- a webhook whose caller receives a manual response ------------------------------------


def _engine(db_url: str) -> Callable[[str], wf.Engine]:
    return lambda base_url: wf.Engine(db_url, poll_interval=0.05, base_url=base_url)


async def test_the_caller_of_a_manual_webhook_receives_the_quote_a_step_computed(
    db_url: str,
) -> None:
    async with serve_engine(_engine(db_url)) as served:
        run = await served.engine.start(webhook_reply.shipping_quote)
        await _until(lambda: run.id in webhook_reply.URLS, "the webhook URL")
        url = webhook_reply.URLS[run.id]
        assert url.startswith(f"{served.base_url}/webhooks/")
        reply = await served.client.post(url, json={"weight_kg": 2.5, "country": "FR"})
        assert reply.status_code == 201
        assert reply.json() == {"price_eur": 15.0, "country": "FR"}
        assert await run.result(timeout=10) == "booked FR at 15.0 EUR"
    assert webhook_reply.CALLS == {"publish": 1, "quote": 1, "book": 1}


async def test_a_bad_quote_request_is_answered_400_and_fails_the_run_without_retries(
    db_url: str,
) -> None:
    async with serve_engine(_engine(db_url)) as served:
        run = await served.engine.start(webhook_reply.shipping_quote)
        await _until(lambda: run.id in webhook_reply.URLS, "the webhook URL")
        reply = await served.client.post(webhook_reply.URLS[run.id], json={"country": "XX"})
        assert reply.status_code == 400
        assert "weight_kg" in reply.json()["error"]
        with pytest.raises(wf.RunFailedError, match="bad quote request"):
            await run.result(timeout=10)
    assert webhook_reply.CALLS == {"publish": 1, "quote": 1}


# -- the birthday card --------------------------------------------------------------------


async def test_birthday_card_collects_rsvps_as_they_arrive_and_sends_the_card_on_the_day(
    env: tuple[wf.testing.WorkflowEnvironment, httpx.AsyncClient],
) -> None:
    environment, client = env
    birthday = environment.now() + dt.timedelta(days=3)
    run = await environment.start(
        birthday_card.birthday_card, "Ada", ["ann", "bob", "cy"], birthday.isoformat()
    )
    assert sorted(birthday_card.INVITES) == ["ann", "bob", "cy"]
    links = birthday_card.INVITES
    assert len(set(links.values())) == 3  # one link per guest

    # Bob answers first, then Ann, a day later; Cy never does.
    bob = await client.post(links["bob"], json={"answer": "yes"})
    assert (bob.status_code, bob.text) == (200, "Thanks, your answer is recorded.")
    await environment.settle()
    await environment.advance("1 day")
    ann = await client.post(links["ann"], json={"answer": "no"})
    assert ann.status_code == 200
    await environment.settle()
    assert await run.status() == "waiting"  # asleep until the day, and listening

    await environment.advance("2 days")
    result = await run.result(timeout=10)
    assert result == {
        "card": "Happy birthday, Ada!",
        "rsvps": {"bob": "yes", "ann": "no"},  # in arrival order
        "coming": ["bob"],
        "no_answer": ["cy"],
    }
    assert birthday_card.LOG == [
        "card drawn for Ada",
        "invited ann",
        "invited bob",
        "invited cy",
        "bob answered yes",
        "ann answered no",
        "card sent, 1 coming",
    ]
    assert birthday_card.CALLS == {
        "draw_card": 1,
        "send_invite": 3,
        "record_rsvp": 2,
        "send_card": 1,
    }
    # The party is over: the links are released with the run.
    late = await client.post(links["cy"], json={"answer": "yes"})
    assert late.status_code == 404


async def test_birthday_card_survives_eviction_between_rsvps() -> None:
    sock = listen("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with (
        wf.testing.WorkflowEnvironment(base_url=base, evict_after=0.0) as environment,
        serving(wf.asgi_app(environment.engine), sock),
        httpx.AsyncClient(timeout=20) as client,
    ):
        birthday = environment.now() + dt.timedelta(days=7)
        run = await environment.start(
            birthday_card.birthday_card, "Bo", ["ann", "bob"], birthday.isoformat()
        )
        assert not environment.engine.holds(run.id)  # asleep in the log, not in memory
        for guest in ("ann", "bob"):
            reply = await client.post(birthday_card.INVITES[guest], json={"answer": "yes"})
            assert reply.status_code == 200
            await environment.settle()
        await environment.advance("7 days")
        result = await run.result(timeout=10)
    sock.close()
    assert result["rsvps"] == {"ann": "yes", "bob": "yes"}
    # Replayed after every wake-up, and still each step ran once.
    assert birthday_card.CALLS == {
        "draw_card": 1,
        "send_invite": 2,
        "record_rsvp": 2,
        "send_card": 1,
    }
