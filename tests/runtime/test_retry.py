"""Retrying a failed run from its log once the code is fixed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import wf
from flows import basic, replay
from flows.seeding import seed_run
from wf.runtime import _serde
from wf.runtime._events import RUN_COMPLETED, Event


@pytest.fixture(autouse=True)
def reset() -> Iterator[None]:
    basic.CALLS.clear()
    basic.BROKEN["buggy"] = True
    yield
    basic.BROKEN["buggy"] = True


async def test_retry_after_fixing_a_step_reruns_only_that_step(engine: wf.Engine) -> None:
    run = await engine.start(basic.fixable, 1)
    with pytest.raises(wf.RunFailedError, match="bug in the step"):
        await run.result(timeout=10)
    assert basic.CALLS == {"add": 1, "buggy": 2}
    basic.BROKEN["buggy"] = False  # the fix is deployed
    await run.retry()
    assert await run.result(timeout=10) == {"second": 3, "attempt": 2}
    assert basic.CALLS == {"add": 1, "buggy": 3}  # the completed step did not run again
    kinds = [e.kind async for e in run.events()]
    assert kinds.count("run_failed") == 0 and kinds[-1] == "run_completed"


async def test_retry_after_fixing_nondeterministic_code(
    engine: wf.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixture = json.loads(
        (Path(__file__).parent / "replay_fixtures" / "order_reordered.json").read_text()
    )
    events = [Event(*row) for row in fixture["events"] if row[1] != RUN_COMPLETED]
    seed_run(engine.store, "nd-1", fixture["workflow"], _serde.dumps(fixture["input"]), events)
    engine.poke()
    run = engine.get_run("nd-1")
    with pytest.raises(wf.RunFailedError, match="the code now issues"):
        await run.result(timeout=10)
    # "Deploy" code compatible with the log, then retry: the log is replayed as it is.
    monkeypatch.setattr(replay, "order_flow_reordered", replay.order_flow)
    await run.retry()
    result = await run.result(timeout=10)
    assert result["payment"] == "ch_o-17_4200" and result["reserved"] == 2


async def test_only_failed_runs_can_be_retried(engine: wf.Engine) -> None:
    run = await engine.start(basic.sequential, 2)
    await run.result(timeout=10)
    with pytest.raises(wf.WorkflowError, match="only a failed run can be retried"):
        await run.retry()
    with pytest.raises(wf.RunNotFoundError):
        await engine.get_run("nope").retry()


async def test_a_run_that_failed_while_a_step_ran_is_retried_once_the_step_ended(
    engine: wf.Engine,
) -> None:
    basic.LEDGER.clear()
    run = await engine.start(basic.fails_beside_a_slow_step)
    with pytest.raises(wf.RunFailedError):
        await run.result(timeout=10)
    # The slow step still runs (it is not interrupted), so the run cannot be retried yet.
    with pytest.raises(wf.WorkflowError, match="still finishing"):
        await run.retry()
    for _ in range(200):
        if basic.LEDGER == ["begin 3", "end 3"]:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # its result committed and the lease released
    await run.retry()
    with pytest.raises(wf.RunFailedError):
        await run.result(timeout=10)
    # The slow step's recorded result was kept: the retry did not run it again.
    assert basic.LEDGER == ["begin 3", "end 3"]
    assert basic.CALLS["fatal"] == 2
