"""wf.map, wf.batch and wf.progress inside workflows."""

from __future__ import annotations

import pytest

import wf
from flows import helpers


async def test_map_keeps_input_order_and_bounds_concurrency(engine: wf.Engine) -> None:
    helpers.IN_FLIGHT.update(now=0, max=0)
    run = await engine.start(helpers.mapped, list(range(12)), 3)
    assert await run.result(timeout=10) == [x * x for x in range(12)]
    assert helpers.IN_FLIGHT["max"] == 3
    names = [e.name async for e in run.events() if e.kind == "step_scheduled"]
    assert names == ["flows.helpers:square"] * 12


async def test_map_without_limit_runs_everything_at_once(engine: wf.Engine) -> None:
    helpers.IN_FLIGHT.update(now=0, max=0)
    run = await engine.start(helpers.mapped, [3, 1, 2], None)
    assert await run.result(timeout=10) == [9, 1, 4]
    assert helpers.IN_FLIGHT["max"] == 3


async def test_map_raises_the_first_failure(engine: wf.Engine) -> None:
    run = await engine.start(helpers.map_failure)
    assert await run.result(timeout=10) == "negative -2"


async def test_map_rejects_a_bad_concurrency(engine: wf.Engine) -> None:
    run = await engine.start(helpers.mapped, [1], 0)
    with pytest.raises(wf.RunFailedError, match="concurrency must be a whole number"):
        await run.result(timeout=10)


async def test_batch_calls_fn_per_chunk_in_order(engine: wf.Engine) -> None:
    run = await engine.start(helpers.batched, list(range(10)), 4)
    assert await run.result(timeout=10) == [0 + 1 + 2 + 3, 4 + 5 + 6 + 7, 8 + 9]
    bad = await engine.start(helpers.batched, [1], -1)
    with pytest.raises(wf.RunFailedError, match="size must be"):
        await bad.result(timeout=10)


async def test_progress_notes_are_logged_once_in_order(engine: wf.Engine) -> None:
    run = await engine.start(helpers.mapped, [1, 2], None)
    await run.result(timeout=10)
    notes = [e.name async for e in run.events() if e.kind == "progress"]
    assert notes == ["mapping 2 items", "done"]


async def test_helpers_outside_a_workflow_are_refused() -> None:
    with pytest.raises(wf.NotInWorkflowError):
        wf.progress("x")
    with pytest.raises(wf.NotInWorkflowError):
        await wf.map([1], helpers.square)
