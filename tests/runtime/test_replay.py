"""Committed event logs replayed against today's code (tests/runtime/replay_fixtures/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import wf
from flows import replay as replay_flows
from flows.seeding import seed_run
from wf._names import type_name
from wf.cli._view import RunView, summarize
from wf.runtime import _serde
from wf.runtime._context import Record, RunContext
from wf.runtime._events import RUN_COMPLETED, RUN_FAILED, STEP_COMPLETED, Event
from wf.runtime._registry import resolve
from wf.runtime._views import events_json

FIXTURES = Path(__file__).parent / "replay_fixtures"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    data["events"] = [Event(*row) for row in data["events"]]
    return data


def replay(fixture: dict[str, Any], events: list[Event]) -> RunContext:
    ctx = RunContext(
        run_id=fixture["run_id"],
        workflow_id=fixture["workflow"],
        fn=resolve(fixture["workflow"]),
        args=tuple(fixture["input"]["args"]),
        kwargs=fixture["input"]["kwargs"],
        started_at=events[0].at,
    )
    ctx.replay(events[1:])
    return ctx


def test_recorded_log_replays_to_the_recorded_result() -> None:
    fixture = load("order_v1")
    events = [e for e in fixture["events"] if e.kind != RUN_COMPLETED]
    ctx = replay(fixture, events)
    assert ctx.failure is None
    assert ctx.finished is not None and ctx.finished[0] == RUN_COMPLETED
    assert _serde.loads(ctx.finished[1] or "null") == fixture["expect"]["result"]
    # A complete log leaves nothing to do: no step to start, no event to write.
    assert ctx.take() == ([], [])


@pytest.mark.parametrize("name", ["order_reordered", "order_shorter"])
def test_changed_code_raises_nondeterminism_naming_the_operations(name: str) -> None:
    fixture = load(name)
    ctx = replay(fixture, fixture["events"])
    assert isinstance(ctx.failure, wf.NondeterminismError)
    message = str(ctx.failure)
    for needle in fixture["expect"]["nondeterminism"]:
        assert needle in message
    assert fixture["run_id"] in message and fixture["workflow"] in message


def test_every_prefix_of_the_log_replays_without_error() -> None:
    fixture = load("order_v1")
    events = fixture["events"]
    for cut in range(1, len(events)):
        ctx = replay(fixture, events[:cut])
        assert ctx.failure is None, f"prefix of {cut} events"


async def seed_fixture(engine: wf.Engine, fixture: dict[str, Any], events: list[Event]) -> str:
    run_id: str = fixture["run_id"]
    seed_run(engine.store, run_id, fixture["workflow"], _serde.dumps(fixture["input"]), events)
    return run_id


async def resume(
    db_url: str, fixture: dict[str, Any], events: list[Event]
) -> tuple[Any, list[Event]]:
    """Write ``events`` as a pending run, let a fresh worker resume it, and return its
    outcome (the result, or the ``wf.RunFailedError`` it ended with) and its log."""
    async with wf.Engine(db_url, worker=False) as client:
        run_id = await seed_fixture(client, fixture, events)
    async with wf.Engine(db_url, poll_interval=0.02) as worker:
        run = worker.get_run(run_id)
        try:
            outcome: Any = await run.result(timeout=10)
        except wf.RunFailedError as failure:
            outcome = failure
        return outcome, [e async for e in run.events()]


async def test_worker_resumes_a_recorded_log_without_repeating_steps(db_url: str) -> None:
    fixture = load("order_v1")
    # Cut the log just before the shipping step completed: only that step may run again.
    last = max(i for i, e in enumerate(fixture["events"]) if e.kind == STEP_COMPLETED)
    events = fixture["events"][:last]
    outcome, log = await resume(db_url, fixture, events)
    assert outcome == fixture["expect"]["result"]
    completed = [e.name for e in log if e.kind == STEP_COMPLETED]
    assert completed == [e.name for e in fixture["events"] if e.kind == STEP_COMPLETED]
    assert [(e.seq, e.kind, e.data) for e in log[: len(events)]] == [
        (e.seq, e.kind, e.data) for e in events
    ]


async def test_nondeterministic_run_fails_and_keeps_its_log(db_url: str) -> None:
    fixture = load("order_reordered")
    events = [e for e in fixture["events"] if e.kind != RUN_COMPLETED]
    failure, log = await resume(db_url, fixture, events)
    assert isinstance(failure, wf.RunFailedError)
    assert failure.error_type == "wf.NondeterminismError"
    assert "step flows.replay:reserve" in failure.error_message
    assert [(e.seq, e.kind, e.cid, e.name, e.data) for e in log] == [
        (e.seq, e.kind, e.cid, e.name, e.data) for e in events
    ]


@pytest.mark.parametrize("name", ["fan_in_crash", "twin_timers_crash"])
def test_a_crash_between_commits_of_several_deliveries_replays(name: str) -> None:
    # The log ends with two deliveries of one commit; the operation the first one
    # caused was never committed. Replay must issue it, not call it nondeterminism.
    fixture = load(name)
    ctx = replay(fixture, fixture["events"])
    assert ctx.failure is None
    assert ctx.finished is None
    commands, effects = ctx.take()
    assert [(c.kind, c.name) for c in commands if isinstance(c, Record)] == [
        ("step_scheduled", "flows.replay:ship")
    ]
    assert len(commands) == 1
    assert [type(e).__name__ for e in effects] == ["StartStep"]


@pytest.mark.parametrize("name", ["fan_in_crash", "twin_timers_crash"])
async def test_worker_finishes_a_run_cut_between_commits(db_url: str, name: str) -> None:
    fixture = load(name)
    events = fixture["events"]
    outcome, log = await resume(db_url, fixture, events)
    assert outcome == fixture["expect"]["result"]
    # What the crash kept is unchanged; only the lost shipping step ran afterwards.
    assert [(e.seq, e.kind, e.cid, e.data) for e in log[: len(events)]] == [
        (e.seq, e.kind, e.cid, e.data) for e in events
    ]
    assert [e.name for e in log[len(events) :] if e.kind == STEP_COMPLETED] == ["flows.replay:ship"]


def test_an_exception_raised_during_replay_is_the_failure_not_nondeterminism() -> None:
    fixture = load("order_broken")
    ctx = replay(fixture, fixture["events"])
    assert ctx.failure is None
    assert ctx.finished is not None and ctx.finished[0] == RUN_FAILED
    error = _serde.loads(ctx.finished[1] or "null")
    assert error["type"].endswith(fixture["expect"]["error"])
    assert "items_list" in error["message"]
    assert fixture["expect"]["line"] in error["traceback"].replace("\\", "/")


async def test_a_run_whose_replay_raises_fails_with_that_exception(db_url: str) -> None:
    fixture = load("order_broken")
    events = [e for e in fixture["events"] if e.kind != RUN_COMPLETED]
    failure, _ = await resume(db_url, fixture, events)
    assert isinstance(failure, wf.RunFailedError)
    assert failure.error_type == "AttributeError"
    assert "items_list" in failure.error_message


def test_nondeterminism_names_the_users_line_when_a_helper_issued_the_step() -> None:
    # wf.map issues the steps from its own tasks: the message must point at the
    # workflow's wf.map line, never at wf's internals or whatever drives the engine.
    events = [
        Event(0, "run_started", None, "flows.replay:mapped", None, 1.0),
        Event(1, "step_scheduled", 0, "flows.replay:ship", '{"args": [["a"]], "kwargs": {}}', 1.0),
        Event(2, "step_scheduled", 1, "flows.replay:ship", '{"args": [["b"]], "kwargs": {}}', 1.0),
    ]
    fixture = {
        "run_id": "map-1",
        "workflow": "flows.replay:mapped_changed",
        "input": {"args": [[["a"], ["b"]]], "kwargs": {}},
    }
    ctx = replay(fixture, events)
    assert isinstance(ctx.failure, wf.NondeterminismError)
    message = str(ctx.failure)
    line = next(
        n
        for n, text in enumerate(Path(replay_flows.__file__).read_text().splitlines(), 1)
        if "wf.map(items, reserve" in text
    )
    assert f"replay.py:{line}" in message, message


# -- logs recorded before wf's own names were stable ---------------------------------
# legacy_completed.json and legacy_failed.json were recorded (flows.legacy) by the wf
# that wrote private module paths: built-in steps as wf.runtime._builtin:send, errors as
# wf._errors:RunIdConflictError, wf.Request as wf.runtime._webhooks:Request. They are
# kept as recorded and never regenerated: today's wf writes wf:send, wf:... instead.


def test_the_legacy_fixtures_hold_the_old_private_names() -> None:
    for name in ("legacy_completed", "legacy_failed"):
        text = (FIXTURES / f"{name}.json").read_text()
        for old in ("wf.runtime._builtin:run_status", "wf.runtime._builtin:send", "wf._errors:"):
            assert old in text, (name, old)
    text = (FIXTURES / "legacy_completed.json").read_text()
    for old in (
        "wf.runtime._builtin:cancel_run",
        "wf._errors:_rebuild_retryable",
        "wf.runtime._webhooks:Request",
    ):
        assert old in text


def test_a_log_with_the_old_names_replays_to_its_recorded_result() -> None:
    fixture = load("legacy_completed")
    events = [e for e in fixture["events"] if e.kind != RUN_COMPLETED]
    ctx = replay(fixture, events)
    assert ctx.failure is None
    assert ctx.finished is not None and ctx.finished[0] == RUN_COMPLETED
    result = _serde.loads(ctx.finished[1] or "null")
    assert result == fixture["expect"]["result"]
    assert result["child"] == "wf.RunIdConflictError"
    assert ctx.take() == ([], [])


def test_a_failed_log_with_the_old_names_shows_the_same_error_types() -> None:
    fixture = load("legacy_failed")
    recorded = _serde.loads(fixture["events"][-1].data)
    assert recorded["type"] == "wf._errors:RunFailedError"
    assert type_name(recorded["type"]) == fixture["expect"]["error_type"] == "wf.RunFailedError"
    ctx = replay(fixture, fixture["events"][:-1])
    assert ctx.failure is None
    assert ctx.finished is not None and ctx.finished[0] == RUN_FAILED
    error = _serde.loads(ctx.finished[1] or "null")
    assert error["type"] == "wf:RunFailedError"  # what a run failing today writes
    assert type_name(error["type"]) == fixture["expect"]["error_type"]
    assert error["message"] == fixture["expect"]["error_message"]


async def test_a_worker_finishes_a_log_with_the_old_names(db_url: str) -> None:
    fixture = load("legacy_completed")
    # Cut before the last built-in step's outcome: only that step runs again, under
    # its stable name; what was recorded stays as it is.
    events = fixture["events"][:-2]
    assert events[-1].name == "wf.runtime._builtin:run_status"
    outcome, log = await resume(db_url, fixture, events)
    assert outcome == fixture["expect"]["result"]
    assert [(e.seq, e.kind, e.cid, e.name, e.data) for e in log[: len(events)]] == [
        (e.seq, e.kind, e.cid, e.name, e.data) for e in events
    ]
    assert [(e.kind, e.name) for e in log[len(events) :]] == [
        ("step_failed", "wf:run_status"),
        ("run_completed", None),
    ]


async def test_a_run_failing_on_a_log_with_the_old_names_reports_the_same_error(
    db_url: str,
) -> None:
    fixture = load("legacy_failed")
    failure, _ = await resume(db_url, fixture, fixture["events"][:-1])
    assert isinstance(failure, wf.RunFailedError)
    assert failure.error_type == fixture["expect"]["error_type"]
    assert failure.error_message == fixture["expect"]["error_message"]


def test_the_views_show_a_log_with_the_old_names_as_today() -> None:
    fixture = load("legacy_completed")
    events = fixture["events"]
    view = RunView(fixture["run_id"], fixture["workflow"])
    lines = [line for event in events for line in view.apply(event)]
    assert "  step wf:send #1: scheduled" in lines
    assert "  step wf:cancel_run #6: scheduled" in lines
    failed = next(e for e in events if e.kind == "step_failed" and e.cid == 1)
    assert summarize(failed).startswith("attempt 1: wf.FatalError: RunNotFoundError")
    request = next(e for e in events if e.kind == STEP_COMPLETED and e.cid == 4)
    shown = events_json([request])[0]["data"]
    assert shown["headers"]["authorization"] == "[redacted]"
    assert shown["method"] == "POST"


def test_every_kind_of_delivered_event_reaches_the_workflow() -> None:
    """A kind added to DELIVERIES without a handler would be dropped silently."""
    from wf.runtime._context import _DELIVER
    from wf.runtime._events import DELIVERIES

    assert set(_DELIVER) == DELIVERIES
