"""Bad input refused at the door: run ids, start times and nesting, through wf.start,
child starts, hooks and messages; nothing is written when they are refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from typing import Any

import pytest

import wf
from flows import basic, limits, waiting, webhooks
from wf.runtime._limits import (
    LATEST,
    MAX_NESTING,
    NestingError,
    check_moment,
    check_run_id,
    load_json,
    local_datetime,
    nesting_depth,
)

# -- run ids ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "run_id",
    [
        "a",
        "x" * 200,
        uuid.uuid4().hex,  # what wf.start generates
        f"{uuid.uuid4().hex}.3",  # a child's generated id: parent id, ".", position
        "parent.3.7",
        "schedule:nightly:2030-01-01T00:00:00+00:00",
        "order-1_2.3:4@host+5=6",
        "ABC-xyz-09",
    ],
)
def test_accepted_run_ids(run_id: str) -> None:
    assert check_run_id(run_id) == run_id


@pytest.mark.parametrize(
    ("run_id", "why"),
    [
        ("", "run_id must be a non-empty string"),
        ("x" * 201, "is 201 characters long"),
        ("x" * 100_000, "is 100000 characters long"),
        ("a/b", "contains '/'"),
        ("<script>alert(1)</script>", "contains '<'"),
        ("a b", "contains ' '"),
        ("tab\there", "contains '\\t'"),
        ("naïve", "contains 'ï'"),
        ("a?b", "contains '?'"),
        ("a#b", "contains '#'"),
        ("100%", "contains '%'"),
        ("new\nline", "contains '\\n'"),
        (7, "run_id must be a string, not int 7"),
    ],
)
def test_refused_run_ids_say_what_is_wrong_and_what_is_accepted(run_id: Any, why: str) -> None:
    with pytest.raises(ValueError) as info:
        check_run_id(run_id)
    message = str(info.value)
    assert why in message
    assert "1 to 200 characters from ASCII letters, digits and -_.:@+=" in message
    assert len(message) < 300  # a 100 KB id is not repeated whole


async def test_start_refuses_a_bad_run_id_before_writing(engine: wf.Engine) -> None:
    for run_id in ["a/b", "<script>", "x" * 100_000, ""]:
        with pytest.raises(ValueError, match="1 to 200 characters"):
            await engine.start(basic.sequential, 1, run_id=run_id)
    assert await engine.list_runs() == []


async def test_start_with_the_id_of_another_workflows_run_is_a_conflict(
    engine: wf.Engine,
) -> None:
    await engine.start(webhooks.sleeper, run_id="taken")
    with pytest.raises(wf.RunIdConflictError) as info:
        await engine.start(webhooks.listener, run_id="taken")
    assert isinstance(info.value, wf.WorkflowError)
    assert "run id 'taken' is already used by a run of flows.webhooks:sleeper" in str(info.value)
    again = await engine.start(webhooks.sleeper, run_id="taken")  # same workflow: idempotent
    assert again.id == "taken"
    assert [r.run_id for r in await engine.list_runs()] == ["taken"]


async def test_a_childs_generated_id_passes_the_rule(engine: wf.Engine) -> None:
    run = await engine.start(limits.child_with_generated_id)
    child_id = await run.result(timeout=10)
    assert child_id.startswith(f"{run.id}.")
    assert check_run_id(child_id) == child_id


async def test_bad_child_starts_and_deep_payloads_reach_the_workflow_as_value_errors(
    engine: wf.Engine,
) -> None:
    run = await engine.start(limits.refused_children)
    refused = await run.result(timeout=10)
    assert len(refused) == 7, refused
    assert "contains '/'" in refused[0]
    assert "is 201 characters long" in refused[1]
    assert "start_at '20000y' is past year 9999" in refused[2]
    assert "deadline 1e+308 is past year 9999" in refused[3]
    for message in refused[4:]:
        assert f"nested more than {MAX_NESTING} levels deep" in message
    # Nothing of the refused starts was recorded: no child, no child_started event.
    assert [r.run_id for r in await engine.list_runs()] == [run.id]
    kinds = [e.kind for e in await engine.store.load_events(run.id)]
    assert "child_started" not in kinds
    assert "step_scheduled" not in kinds  # no send / resume_hook was issued either


# -- start_at and deadline ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "why"),
    [
        ("start_at", "20000y", "start_at '20000y' is past year 9999"),
        ("start_at", 1e308, "start_at 1e+308 is past year 9999"),
        ("start_at", dt.timedelta.max, "is past year 9999"),
        ("deadline", "8000y", "deadline '8000y' is past year 9999"),
        ("deadline", 1e17, "deadline 1e+17 is past year 9999"),
        ("start_at", math.inf, "must be a finite number of seconds"),
        ("start_at", math.nan, "must be a finite number of seconds"),
        ("deadline", 10**400, "too large"),
        ("start_at", "1e400s", "invalid duration '1e400s'"),
        (
            "deadline",
            dt.datetime(1960, 1, 1, tzinfo=dt.UTC),
            "deadline datetime.datetime(1960, 1, 1",
        ),
    ],
)
async def test_start_refuses_a_time_that_is_not_a_real_date(
    engine: wf.Engine, option: str, value: Any, why: str
) -> None:
    with pytest.raises(ValueError) as info:
        await engine.start(webhooks.sleeper, **{option: value})
    assert why in str(info.value)
    assert option in str(info.value)
    assert await engine.list_runs() == []


def test_check_moment_accepts_1970_to_the_end_of_9999() -> None:
    last = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert check_moment(last.timestamp(), "start_at", last) == LATEST
    assert check_moment(0.0, "deadline", 0) == 0.0
    with pytest.raises(ValueError, match="before 1970: it must be a date from 1970-01-01"):
        check_moment(-1.0, "deadline", -1)
    with pytest.raises(ValueError, match="not a finite time"):
        check_moment(math.nan, "start_at", "x")


async def test_a_start_at_near_the_end_of_9999_is_stored_and_shown(engine: wf.Engine) -> None:
    moment = dt.datetime(9999, 12, 31, 12, tzinfo=dt.UTC)
    run = await engine.start(webhooks.sleeper, start_at=moment)
    record = await engine.store.get_run(run.id, now=engine.clock.now())
    assert record is not None and record.wake_at == moment.timestamp()
    # Shown in the local zone where that is still a date, else in UTC: never an error.
    shown = local_datetime(moment.timestamp())
    assert shown is not None and shown == moment


@pytest.mark.parametrize("timestamp", [1e308, 6.3e11, -1e300, math.nan, math.inf])
def test_local_datetime_of_an_impossible_stored_time_is_none(timestamp: float) -> None:
    assert local_datetime(timestamp) is None


# -- nesting -----------------------------------------------------------------------------


def test_nesting_depth_counts_lists_and_objects_without_recursion() -> None:
    assert nesting_depth(1, 10) == 0
    assert nesting_depth([], 10) == 1
    assert nesting_depth({"a": [1, {"b": []}]}, 10) == 4
    assert nesting_depth(limits.nested(50_000), 100) == 101  # stops counting past the limit


def test_load_json_refuses_deep_documents_whatever_their_depth() -> None:
    assert load_json("[" * MAX_NESTING + "]" * MAX_NESTING, "x") == limits.nested(MAX_NESTING)
    for depth in (MAX_NESTING + 1, 500, 1_000, 100_000):
        text = "[" * depth + "]" * depth
        with pytest.raises(NestingError, match=f"x is nested more than {MAX_NESTING} levels"):
            load_json(text, "x")
        with pytest.raises(NestingError):
            load_json(text.encode(), "x")
    with pytest.raises(ValueError, match="Expecting property name"):
        load_json("{nope", "x")
    # Two levels of envelope: values inside {"args": [...]} may nest MAX_NESTING deep.
    body = '{"args": [' + "[" * MAX_NESTING + "]" * MAX_NESTING + "]}"
    assert load_json(body, "body", below=2)["args"] == [limits.nested(MAX_NESTING)]
    with pytest.raises(NestingError):
        load_json(body, "body")


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 500, 5_000])
async def test_start_hook_and_message_refuse_deep_payloads_before_writing(
    engine: wf.Engine, depth: int
) -> None:
    deep = limits.nested(depth)
    with pytest.raises(NestingError) as info:
        await engine.start(limits.echo, deep)
    assert isinstance(info.value, ValueError) and isinstance(info.value, wf.SerializationError)
    message = str(info.value)
    assert "input of workflow flows.limits:echo is nested more than 100 levels deep" in message
    assert "wf accepts values nested at most 100 levels of lists and objects" in message
    with pytest.raises(ValueError, match="nested more than 100 levels"):
        await engine.start(limits.echo, value={"a": deep})  # keyword arguments too
    assert await engine.list_runs() == []

    holder = await engine.start(waiting.hold, "deep-token")
    listener = await engine.start(webhooks.listener)
    for _ in range(500):
        if await engine.store.hook_info("deep-token") is not None:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(ValueError, match="payload for hook 'deep-token' is nested more than 100"):
        await engine.resume_hook("deep-token", deep)
    with pytest.raises(ValueError, match="message 'go' is nested more than 100"):
        await engine.send(listener.id, "go", {"deep": deep})
    # Nothing was delivered: the next (valid) payloads are the ones the runs receive.
    await engine.resume_hook("deep-token", "fine")
    await engine.send(listener.id, "go", {"n": 1})
    assert await holder.result(timeout=10) == "fine"
    assert await listener.result(timeout=10) == {"n": 1}


async def test_values_as_deep_as_the_limit_are_accepted(engine: wf.Engine) -> None:
    run = await engine.start(limits.echo, limits.nested(MAX_NESTING))
    assert await run.result(timeout=10) == limits.nested(MAX_NESTING)


async def test_a_sleep_past_year_9999_is_refused_in_the_workflow(engine: wf.Engine) -> None:
    run = await engine.start(limits.sleeps_past_9999)
    refused = await run.result(timeout=10)
    assert len(refused) == 2
    assert all("past year 9999" in message for message in refused)
    # Refused before anything was recorded: no timer in the log.
    assert "timer_scheduled" not in [e.kind async for e in run.events()]
