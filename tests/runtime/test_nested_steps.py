"""Steps nested in a workflow: durable steps whose arguments carry the captured variables."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import wf
from flows import nested
from wf.runtime._events import STEP_COMPLETED, STEP_SCHEDULED


@pytest.fixture(autouse=True)
def reset_calls() -> Iterator[None]:
    nested.CALLS.clear()
    yield


async def test_nested_step_gets_the_captured_values_at_call_time(engine: wf.Engine) -> None:
    run = await engine.start(nested.process, "o1", 100)
    assert await run.result(timeout=10) == "o1:115|o1:101"
    # once per call, each time with the workflow's values when it was called
    assert nested.CALLS == [
        ("charge", ("o1", 100, 10, 5)),
        ("charge", ("o1", 100, 0, 1)),
    ]
    log = [event async for event in run.events()]
    assert [e.kind for e in log].count(STEP_COMPLETED) == 2
    scheduled = [(e.name, json.loads(e.data or "{}")) for e in log if e.kind == STEP_SCHEDULED]
    assert scheduled == [
        ("flows.nested:process.charge", {"extra": 5, "amount": 100, "fee": 10, "order_id": "o1"}),
        ("flows.nested:process.charge", {"extra": 1, "amount": 100, "fee": 0, "order_id": "o1"}),
    ]


async def test_nested_sync_step_with_options_is_retried(engine: wf.Engine) -> None:
    run = await engine.start(nested.fan_out, ["a", "b"])
    assert await run.result(timeout=10) == ["item-a", "item-b"]
    assert sorted(nested.CALLS) == [
        ("tag", ("item", "a", 1)),
        ("tag", ("item", "a", 2)),
        ("tag", ("item", "b", 1)),
        ("tag", ("item", "b", 2)),
    ]


def test_the_nested_step_is_resolvable_by_id() -> None:
    from wf.runtime._registry import resolve_step

    spec = resolve_step("flows.nested:process.charge")
    assert spec.is_async and spec.positional == ("extra",)
    assert spec.keyword == ("amount", "fee", "order_id")
    assert resolve_step("flows.nested:fan_out.tag").options.max_attempts == 3
