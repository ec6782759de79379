"""Webhooks over real HTTP: what the workflow receives, and what its caller gets back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from stored_rows import raw_sql
from web_support import Served, serve_engine

import wf
from flows import webhooks
from wf.runtime._events import HOOK_RECEIVED

pytestmark = pytest.mark.asyncio


async def _kinds(run: wf.Run[object]) -> list[str]:
    return [event.kind async for event in run.events()]


async def test_requests_arrive_in_order_with_method_path_query_headers_and_body(
    served: Served,
) -> None:
    run = await served.engine.start(webhooks.collect, 3)
    url = await served.url_of(run)
    assert url.startswith(f"{served.base_url}/webhooks/hook_")

    first = await served.client.post(
        f"{url}?order=7&x=", json={"a": 1}, headers={"X-Custom": "one"}
    )
    assert first.status_code == 202
    assert first.json() == {"run_id": run.id, "request_id": first.json()["request_id"]}
    second = await served.client.put(url, content=b"\x00\xffraw")
    third = await served.client.get(url)
    assert (second.status_code, third.status_code) == (202, 202)

    seen = await run.result(timeout=10)
    assert [s["method"] for s in seen] == ["POST", "PUT", "GET"]
    assert seen[0]["path"] == url.removeprefix(served.base_url)
    assert seen[0]["query"] == "order=7&x="
    assert seen[0]["params"] == {"order": "7", "x": ""}
    assert seen[0]["content_type"] == "application/json"
    assert seen[0]["custom"] == "one"
    assert seen[0]["text"] == '{"a":1}'
    assert seen[1]["body"] == b"\x00\xffraw"
    assert seen[2]["body"] == b""


async def test_a_chosen_token_with_url_characters_makes_a_working_url(served: Served) -> None:
    run = await served.engine.start(webhooks.named, "order 7/approve?now#1")
    url = await served.url_of(run)
    assert url == f"{served.base_url}/webhooks/order%207%2Fapprove%3Fnow%231"
    assert (await served.client.post(url)).status_code == 202
    seen = await run.result(timeout=10)
    assert seen["token"] == "order 7/approve?now#1"


async def test_a_static_response_is_what_every_caller_gets(served: Served) -> None:
    run = await served.engine.start(webhooks.static_reply)
    url = await served.url_of(run)
    reply = await served.client.post(url, json={"ok": True})
    assert (reply.status_code, reply.text, reply.headers["x-reply"]) == (200, "thanks", "static")
    assert await run.result(timeout=10) == {"ok": True}


async def test_a_manual_response_comes_from_a_step_while_the_caller_waits(
    served: Served,
) -> None:
    run = await served.engine.start(webhooks.manual_reply)
    url = await served.url_of(run)
    reply = await served.client.post(url, json={"order": "o-7"})
    assert reply.status_code == 201
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"order": "o-7", "accepted": True}
    assert await run.result(timeout=10) == "o-7"
    assert webhooks.CALLS == {"answer": 1}


@pytest.mark.parametrize("response_timeout", [0.3])
async def test_a_caller_gets_504_when_no_answer_comes_in_time_and_a_late_one_is_dropped(
    served: Served,
) -> None:
    run = await served.engine.start(webhooks.manual_reply, 1.0)
    url = await served.url_of(run)
    reply = await served.client.post(url, json={"order": "o-8"})
    assert reply.status_code == 504
    error = reply.json()["error"]
    assert error["type"] == "no_response"
    assert "no answer within 0.3 s" in error["message"]
    # The request itself was recorded: the workflow goes on and its step answers late.
    assert await run.result(timeout=10) == "o-8"
    assert webhooks.CALLS == {"answer": 1}
    with raw_sql(served.engine.url) as conn:
        rows = conn.execute("SELECT status FROM webhook_responses").fetchall()
    # Only the marker that the caller gave up; no answer kept.
    assert [tuple(r) for r in rows] == [(None,)]


async def test_respond_inside_a_workflow_body_is_refused(served: Served) -> None:
    run = await served.engine.start(webhooks.respond_in_workflow)
    url = await served.url_of(run)
    reply = asyncio.create_task(served.client.post(url))
    message = await run.result(timeout=10)
    assert "call it from a step" in message
    # The run ended without answering: its caller is told so, without waiting out the timeout.
    answer = await reply
    assert answer.status_code == 504
    assert "ended without answering" in answer.json()["error"]["message"]


async def test_unknown_and_plain_hook_tokens_are_404_and_record_nothing(served: Served) -> None:
    missing = await served.client.post("/webhooks/no-such-token", json={})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "webhook_not_found"

    run = await served.engine.start(webhooks.plain_hook)
    for _ in range(500):
        if webhooks.CALLS.get("plain hook created"):
            break
        await asyncio.sleep(0.01)
    plain = await served.client.post("/webhooks/plain-token", json={"x": 1})
    assert plain.status_code == 404
    assert "plain-token" in plain.json()["error"]["message"]
    assert HOOK_RECEIVED not in await _kinds(run)
    # The plain hook still works the way it is meant to.
    await served.engine.resume_hook("plain-token", "by resume_hook")
    assert await run.result(timeout=10) == "by resume_hook"


async def test_a_webhook_token_is_not_resumed_through_resume_hook(served: Served) -> None:
    run = await served.engine.start(webhooks.collect, 1)
    url = await served.url_of(run)
    token = url.rsplit("/", 1)[1]
    with pytest.raises(ValueError, match="belongs to a webhook"):
        await served.engine.resume_hook(token, {"x": 1})
    assert (await served.client.post(url)).status_code == 202
    assert len(await run.result(timeout=10)) == 1


async def test_a_body_over_the_limit_is_413_and_nothing_is_recorded(served: Served) -> None:
    run = await served.engine.start(webhooks.collect, 1)
    url = await served.url_of(run)
    before = await _kinds(run)

    too_big = await served.client.post(url, content=b"x" * 1001)
    assert too_big.status_code == 413
    assert "1000 bytes" in too_big.json()["error"]["message"]

    async def chunks() -> object:
        for _ in range(11):
            yield b"y" * 100

    streamed = await served.client.post(url, content=chunks())  # no content-length
    assert streamed.status_code == 413
    assert await _kinds(run) == before
    assert await served.engine.store.inbox(served.engine.worker_id) == []

    fits = await served.client.post(url, content=b"z" * 1000)
    assert fits.status_code == 202
    [seen] = await run.result(timeout=10)
    assert seen["body"] == b"z" * 1000


async def test_a_token_is_released_when_its_run_ends(served: Served) -> None:
    run = await served.engine.start(webhooks.collect, 1)
    url = await served.url_of(run)
    assert (await served.client.post(url)).status_code == 202
    await run.result(timeout=10)
    after = await served.client.post(url)
    assert after.status_code == 404


async def test_a_request_wakes_a_run_evicted_while_it_waits(db_url: str) -> None:
    def make(base_url: str) -> wf.Engine:
        return wf.Engine(db_url, poll_interval=0.02, evict_after=0.0, base_url=base_url)

    async with serve_engine(make) as served:
        run = await served.engine.start(webhooks.manual_reply)
        url = await served.url_of(run)
        for _ in range(500):
            if await run.status() == "waiting":
                break
            await asyncio.sleep(0.01)
        assert await run.status() == "waiting"
        assert not served.engine.holds(run.id)  # evicted: replayed from its log when woken
        reply = await served.client.post(url, json={"order": "o-9"})
        assert (reply.status_code, reply.json()) == (201, {"order": "o-9", "accepted": True})
        assert await run.result(timeout=10) == "o-9"
    assert webhooks.CALLS == {"answer": 1}


async def test_default_tokens_cannot_be_derived_from_a_chosen_run_id(tmp_path: Path) -> None:
    # Webhook URLs are capabilities: the same run id in two deployments (or a run id
    # a caller can guess, like an order number) must not give the same token.
    urls = []
    for name in ("first", "second"):
        async with wf.Engine(f"sqlite:///{tmp_path / name}.db", poll_interval=0.02) as engine:
            webhooks.URLS.clear()
            run = await engine.start(webhooks.collect, 1, run_id="order-1")
            for _ in range(500):
                if run.id in webhooks.URLS:
                    break
                await asyncio.sleep(0.01)
            urls.append(webhooks.URLS[run.id])
            await run.cancel()
    assert urls[0] != urls[1]


async def test_runs_show_names_each_webhook_request(served: Served, db_url: str) -> None:
    from typer.testing import CliRunner

    from wf.cli import _register, app

    run = await served.engine.start(webhooks.collect, 1)
    url = await served.url_of(run)
    await served.client.put(f"{url}?n=1", content=b"12345")
    await run.result(timeout=10)
    _register()
    command = ["runs", "show", run.id, "--db", db_url]
    # In a thread: the command runs its own event loop. Wide, so no column is cut.
    shown = await asyncio.to_thread(CliRunner().invoke, app, command, env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.stderr
    path = url.removeprefix(served.base_url)
    assert f"PUT {path}?n=1 (5 bytes)" in shown.stdout.replace("\n", "")
