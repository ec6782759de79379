"""The JSON API over real HTTP: runs listed, shown, started, cancelled; hooks and messages."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from web_support import Served, serve_engine

import wf
from flows import typed, waiting, webhooks


def _error(reply: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = reply.json()["error"]
    assert set(body) == {"type", "message"}
    return body


async def _until_status(run: wf.Run[Any], *statuses: str) -> None:
    for _ in range(500):
        if await run.status() in statuses:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run.id} never became {statuses}")


async def test_start_a_run_of_a_loaded_workflow_then_show_and_list_it(served: Served) -> None:
    reply = await served.client.post(
        "/api/runs",
        json={"workflow": "flows.webhooks:listener", "run_id": "api-1"},
    )
    assert reply.status_code == 201
    # The server's own worker took the run at once (it listens, so it may already wait).
    assert reply.json()["run_id"] == "api-1"
    assert reply.json()["status"] in ("running", "waiting")
    again = await served.client.post(
        "/api/runs", json={"workflow": "flows.webhooks:listener", "run_id": "api-1"}
    )
    assert again.status_code == 201  # idempotent: the same run
    run = served.engine.get_run("api-1")
    await _until_status(run, "waiting")  # listening, evicted

    sent = await served.client.post("/api/runs/api-1/messages/go", json={"n": 1})
    assert sent.status_code == 202
    assert await run.result(timeout=10) == {"n": 1}

    shown = (await served.client.get("/api/runs/api-1")).json()
    assert shown["run"]["status"] == "completed"
    assert shown["run"]["result"] == {"n": 1}
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds[0] == "run_started" and "message_received" in kinds
    assert kinds[-1] == "run_completed"

    await served.engine.start(webhooks.sleeper, run_id="api-2")
    listed = (await served.client.get("/api/runs")).json()["runs"]
    assert [r["run_id"] for r in listed] == ["api-2", "api-1"]
    only = await served.client.get("/api/runs", params={"status": "completed"})
    assert [r["run_id"] for r in only.json()["runs"]] == ["api-1"]
    by_name = await served.client.get("/api/runs", params={"workflow": "sleeper", "limit": 1})
    assert [r["run_id"] for r in by_name.json()["runs"]] == ["api-2"]


async def test_bad_start_requests_get_a_json_error_and_start_nothing(served: Served) -> None:
    cases: list[tuple[Any, int, str]] = [
        (b"{not json", 400, "not valid JSON"),
        ([1, 2], 400, "must be a JSON object"),
        ({"workflow": "flows.webhooks:listener", "argz": []}, 400, "unknown field(s) argz"),
        ({"workflow": "listener"}, 400, '"package.module:function"'),
        ({"workflow": "os:getcwd"}, 404, "no workflow os:getcwd is loaded"),
        ({"workflow": "nowhere.module:flow"}, 404, "is loaded in this server"),
        ({"workflow": "flows.webhooks:listener", "args": {"a": 1}}, 400, '"args" must be'),
        ({"workflow": "flows.typed:order", "args": ["o-1"]}, 422, "wrong arguments"),
        (
            {"workflow": "flows.typed:order", "args": ["o-1", "ten", [], {}]},
            422,
            "amount",
        ),
    ]
    assert typed.order  # the module is loaded, so its workflows may be started
    for body, status, message in cases:
        if isinstance(body, bytes):
            reply = await served.client.post("/api/runs", content=body)
        else:
            reply = await served.client.post("/api/runs", json=body)
        assert reply.status_code == status, (body, reply.text)
        assert message in _error(reply)["message"], (body, reply.text)
    assert await served.engine.list_runs() == []


async def test_an_explicit_workflow_list_is_all_that_can_be_started(db_url: str) -> None:
    def make(base_url: str) -> wf.Engine:
        return wf.Engine(db_url, poll_interval=0.05, base_url=base_url)

    async with serve_engine(make, workflows=[webhooks.listener]) as served:
        refused = await served.client.post("/api/runs", json={"workflow": "flows.webhooks:sleeper"})
        assert refused.status_code == 404
        assert "startable: flows.webhooks:listener" in _error(refused)["message"]
        ok = await served.client.post("/api/runs", json={"workflow": "flows.webhooks:listener"})
        assert ok.status_code == 201


async def test_cancel_a_running_run_then_cancelling_again_is_a_conflict(served: Served) -> None:
    run = await served.engine.start(webhooks.sleeper)
    await _until_status(run, "sleeping")
    reply = await served.client.post(f"/api/runs/{run.id}/cancel")
    assert (reply.status_code, reply.json()) == (202, {"run_id": run.id, "cancel_requested": True})
    with pytest.raises(wf.RunCancelledError):
        await run.result(timeout=10)
    again = await served.client.post(f"/api/runs/{run.id}/cancel")
    assert again.status_code == 409
    assert "already ended (cancelled)" in _error(again)["message"]
    late = await served.client.post(f"/api/runs/{run.id}/messages/go", json=1)
    assert late.status_code == 409


async def test_unknown_runs_and_routes_are_json_404s(served: Served) -> None:
    for method, path in [
        ("GET", "/api/runs/nope"),
        ("POST", "/api/runs/nope/cancel"),
        ("POST", "/api/runs/nope/messages/go"),
        ("GET", "/api/nothing-here"),
    ]:
        reply = await served.client.request(method, path, json={})
        assert reply.status_code == 404, path
        assert _error(reply)["message"]
    assert (await served.client.get("/api/runs", params={"limit": "x"})).status_code == 400
    wrong_method = await served.client.delete("/api/runs")
    assert wrong_method.status_code == 405
    assert _error(wrong_method)["type"] == "http_error"


async def test_resume_a_typed_hook_through_the_api(served: Served) -> None:
    run = await served.engine.start(waiting.typed_approval)
    for _ in range(500):
        if await served.engine.store.hook_info("typed") is not None:
            break
        await asyncio.sleep(0.01)
    bad = await served.client.post("/api/hooks/typed", json={"approved": "maybe", "by": "ann"})
    assert bad.status_code == 422
    assert "approved" in _error(bad)["message"]
    unknown = await served.client.post("/api/hooks/no-such-token", json={})
    assert unknown.status_code == 404
    assert _error(unknown)["type"] == "hook_not_found"
    good = await served.client.post("/api/hooks/typed", json={"approved": True, "by": "ann"})
    assert (good.status_code, good.json()) == (202, {"run_id": run.id})
    assert await run.result(timeout=10) == {"is_decision": True, "by": "ann", "ok": True}


async def test_start_at_deadline_and_version_can_be_given_and_are_checked(served: Served) -> None:
    later = await served.client.post(
        "/api/runs",
        json={"workflow": "flows.webhooks:sleeper", "run_id": "later", "start_at": "1h"},
    )
    assert later.status_code == 201
    shown = (await served.client.get("/api/runs/later")).json()["run"]
    assert shown["status"] == "pending"
    wake = dt.datetime.fromisoformat(shown["wake_at"])
    assert dt.timedelta(minutes=59) < wake - dt.datetime.now(dt.UTC) < dt.timedelta(hours=1)

    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    late = await served.client.post(
        "/api/runs", json={"workflow": "flows.webhooks:sleeper", "deadline": past}
    )
    assert late.status_code == 201
    with pytest.raises(wf.RunFailedError, match="deadline"):
        await served.engine.get_run(late.json()["run_id"]).result(timeout=10)

    for field, value, message in [
        ("start_at", "2030-01-01T09:00:00", "timezone-aware"),
        ("start_at", "soon", "soon"),
        ("deadline", [1], "deadline"),
        ("version", "", "version must be a non-empty string"),
    ]:
        reply = await served.client.post(
            "/api/runs", json={"workflow": "flows.webhooks:sleeper", field: value}
        )
        # A bad option is bad input (400), like a malformed body; 422 is for arguments.
        assert reply.status_code == 400, (field, value, reply.text)
        assert message in _error(reply)["message"], (field, value, reply.text)
