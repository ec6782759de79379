"""The JSON API refuses bad input at the door with JSON 400s (run ids, start times,
nesting, statuses), answers conflicts with 409 and bugs with a JSON 500, and its
views survive values stored before those checks existed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from stored_rows import raw_sql
from web_support import Served, serve_engine

import wf
from flows import limits, webhooks
from wf.runtime._limits import MAX_NESTING


def _error(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    body: dict[str, Any] = reply.json()["error"]
    assert set(body) == {"type", "message"}
    return body


@pytest.fixture
async def roomy(db_url: str) -> AsyncIterator[Served]:
    """A server with the default body limit (1 MiB), room for huge ids and deep bodies."""

    def make(base_url: str) -> wf.Engine:
        return wf.Engine(db_url, poll_interval=0.05, base_url=base_url)

    async with serve_engine(make) as served:
        yield served


def _sql(served: Served, statement: str, *params: Any) -> None:
    """Change the database file behind the engine's back, as an older wf may have
    written it (before these checks existed)."""
    with raw_sql(served.engine.url) as conn:
        conn.execute(statement, params)


@pytest.mark.parametrize(
    ("run_id", "why"),
    [
        ("a/b", "contains '/'"),
        ("<script>alert(1)</script>", "contains '<'"),
        ("x" * 201, "is 201 characters long"),
        ("", "must be a non-empty string"),
        ("with space", "contains ' '"),
        (12, "must be a string, not int 12"),
    ],
)
async def test_a_bad_run_id_is_a_json_400_and_nothing_is_written(
    served: Served, run_id: Any, why: str
) -> None:
    reply = await served.client.post(
        "/api/runs", json={"workflow": "flows.webhooks:sleeper", "run_id": run_id}
    )
    error = _error(reply, 400)
    assert error["type"] == "bad_request"
    assert why in error["message"]
    assert "1 to 200 characters from ASCII letters, digits and -_.:@+=" in error["message"]
    assert await served.engine.list_runs() == []


async def test_a_100_kb_run_id_is_a_json_400(roomy: Served) -> None:
    reply = await roomy.client.post(
        "/api/runs", json={"workflow": "flows.webhooks:sleeper", "run_id": "x" * 100_000}
    )
    error = _error(reply, 400)
    assert "is 100000 characters long" in error["message"]
    assert len(error["message"]) < 300
    assert await roomy.engine.list_runs() == []


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("start_at", 1e308, "start_at 1e+308 is past year 9999"),
        ("start_at", "20000y", "start_at '20000y' is past year 9999"),
        ("deadline", "20000y", "deadline '20000y' is past year 9999"),
        ("deadline", 1e17, "deadline 1e+17 is past year 9999"),
        ("start_at", "1e400s", "start_at: invalid duration '1e400s'"),
        ("start_at", "1969-07-20T20:17:00+00:00", "is before 1970"),
        ("start_at", " 5s", "leading or trailing whitespace"),
        ("start_at", "2030-01-01T09:00:00", "timezone-aware"),
        ("deadline", [1], "deadline"),
        ("version", "", "version must be a non-empty string"),
    ],
)
async def test_a_start_time_that_is_not_a_real_date_is_a_json_400_naming_the_option(
    served: Served, field: str, value: Any, why: str
) -> None:
    reply = await served.client.post(
        "/api/runs", json={"workflow": "flows.webhooks:sleeper", field: value}
    )
    error = _error(reply, 400)
    assert why in error["message"]
    assert error["message"].startswith(field)
    assert await served.engine.list_runs() == []


def _deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 500, 1_000, 100_000])
async def test_bodies_nested_too_deeply_are_json_400s_everywhere(roomy: Served, depth: int) -> None:
    served = roomy
    listener = await served.engine.start(webhooks.listener, run_id="listening")
    deep = _deep_json(depth)
    for path, body in [
        ("/api/runs", b'{"workflow": "flows.limits:echo", "args": [' + deep + b"]}"),
        ("/api/runs", b'{"workflow": "flows.limits:echo", "kwargs": {"value": ' + deep + b"}}"),
        ("/api/runs/listening/messages/go", deep),
        ("/api/hooks/some-token", deep),
    ]:
        reply = await served.client.post(path, content=body)
        error = _error(reply, 400)
        assert error["type"] == "too_deep"
        assert f"nested more than {MAX_NESTING} levels deep" in error["message"], path
    assert [r.run_id for r in await served.engine.list_runs()] == ["listening"]
    await served.engine.send(listener.id, "go", "fine")
    assert await listener.result(timeout=10) == "fine"  # the deep message never arrived


async def test_arguments_as_deep_as_the_limit_are_accepted(served: Served) -> None:
    deep = _deep_json(MAX_NESTING)
    reply = await served.client.post(
        "/api/runs",
        content=b'{"workflow": "flows.limits:echo", "run_id": "deep", "args": [' + deep + b"]}",
    )
    assert reply.status_code == 201, reply.text
    assert await served.engine.get_run("deep").result(timeout=10) == limits.nested(MAX_NESTING)
    shown = await served.client.get("/api/runs/deep")
    assert shown.status_code == 200
    assert shown.json()["run"]["result"] == limits.nested(MAX_NESTING)


async def test_a_run_id_of_another_workflows_run_is_a_json_409(served: Served) -> None:
    await served.engine.start(webhooks.sleeper, run_id="taken")
    reply = await served.client.post(
        "/api/runs", json={"workflow": "flows.webhooks:listener", "run_id": "taken"}
    )
    error = _error(reply, 409)
    assert error["type"] == "run_id_conflict"
    assert "run id 'taken' is already used by a run of flows.webhooks:sleeper" in error["message"]
    same = await served.client.post(
        "/api/runs", json={"workflow": "flows.webhooks:sleeper", "run_id": "taken"}
    )
    assert same.status_code == 201  # the same workflow: idempotent, as before


async def test_an_unknown_status_filter_is_a_json_400_naming_the_statuses(served: Served) -> None:
    await served.engine.start(webhooks.sleeper)
    for path in ("/api/runs", "/"):
        error = _error(await served.client.get(path, params={"status": "bogus"}), 400)
        assert "status must be one of pending, running" in error["message"]
        assert "completed, failed, cancelled, not 'bogus'" in error["message"]
    ok = await served.client.get("/api/runs", params={"status": "pending"})
    assert ok.status_code == 200


async def test_an_unexpected_error_in_any_route_is_a_json_500(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await served.engine.start(webhooks.sleeper, run_id="there")

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the disk is on fire")

    for name in ("list_runs", "get_run", "hook_info"):
        monkeypatch.setattr(served.engine.store, name, broken)
    for method, path in [
        ("GET", "/api/runs"),
        ("GET", "/"),
        ("GET", f"/api/runs/{run.id}"),
        ("GET", f"/runs/{run.id}"),
        ("POST", f"/api/runs/{run.id}/cancel"),
        ("POST", "/webhooks/some-token"),
    ]:
        error = _error(await served.client.request(method, path), 500)
        assert error == {"type": "internal_error", "message": "RuntimeError: the disk is on fire"}


async def test_views_survive_times_and_values_stored_before_the_checks(served: Served) -> None:
    await served.engine.start(webhooks.sleeper, run_id="far", start_at="1h")
    await served.engine.start(webhooks.sleeper, run_id="deep", start_at="1h")
    _sql(served, "UPDATE runs SET wake_at = ?, updated_at = ? WHERE run_id = 'far'", 1e308, 6.3e11)
    _sql(served, "UPDATE events SET at = ? WHERE run_id = 'far'", -1e300)
    nested_500 = "[" * 500 + "]" * 500
    nested_5000 = "[" * 5000 + "]" * 5000
    _sql(
        served,
        "UPDATE runs SET result = ?, error = ? WHERE run_id = 'deep'",
        nested_500,
        nested_5000,
    )

    listed = await served.client.get("/api/runs")
    assert listed.status_code == 200, listed.text
    far = next(r for r in listed.json()["runs"] if r["run_id"] == "far")
    assert far["wake_at"] == "1e+308 (epoch seconds, out of the date range)"
    assert far["updated_at"] == "630000000000.0 (epoch seconds, out of the date range)"
    for path in ("/", "/api/runs/far", "/runs/far", "/api/runs/deep", "/runs/deep"):
        reply = await served.client.get(path)
        assert reply.status_code == 200, (path, reply.text[:500])
    deep = (await served.client.get("/api/runs/deep")).json()["run"]
    assert "[nested deeper than 200 levels: not shown]" in str(deep["result"])
    assert deep["error"] == "[nested deeper than 200 levels: not shown]"
