"""Child runs: started exactly once from a workflow, awaited durably, independent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import wf
from flows import children


@pytest.fixture(autouse=True)
def reset_calls() -> Iterator[None]:
    children.CALLS.clear()
    yield


async def test_parent_awaits_a_child_and_catches_a_failing_one(engine: wf.Engine) -> None:
    run = await engine.start(children.parent, 21)
    result = await run.result(timeout=20)
    assert result["value"] == 42
    assert result["failure"] == "ValueError: negative -1"
    assert result["child_id"] == f"{run.id}.0"
    child = engine.get_run(result["child_id"])
    assert await child.status() == "completed"
    assert await child.result() == 42
    assert children.CALLS == {"child 21": 1, "parent between": 1, "child -1": 1}


async def test_replayed_parent_never_starts_a_second_child(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.0) as engine:
        run = await engine.start(children.parent, 5)
        assert (await run.result(timeout=20))["value"] == 10
        runs = await engine.list_runs()
    # Evicting the parent while it waited replayed it; still exactly two children.
    assert sorted(r.run_id for r in runs) == sorted([run.id, f"{run.id}.0", f"{run.id}.2"])


async def test_a_background_child_finishes_after_its_parent(engine: wf.Engine) -> None:
    run = await engine.start(children.fire_and_forget)
    assert await run.result(timeout=10) == "background-child"
    child = engine.get_run("background-child")
    assert await child.result(timeout=10) == "slow child done"
    assert children.CALLS == {"slow child done": 1}


async def test_a_child_deadline_fails_the_child_and_the_parent_sees_it(
    engine: wf.Engine,
) -> None:
    run = await engine.start(children.child_with_deadline)
    assert await run.result(timeout=10) == "wf.DeadlineExceededError"


async def test_a_delayed_child_starts_when_its_time_comes() -> None:
    import wf.testing

    async with wf.testing.WorkflowEnvironment() as env:
        run = await env.start(children.delayed_child)
        child = env.get_run(f"{run.id}.0")
        await env.advance("23 hours")
        assert await child.status() == "pending"
        await env.advance("1 hour")
        assert await run.result(timeout=10) == "8"


async def test_a_step_may_start_a_top_level_run_on_its_workers_engine(engine: wf.Engine) -> None:
    run = await engine.start(children.starts_a_run_from_a_step, 4)
    result = await run.result(timeout=20)
    assert result["value"] == 8
    started = engine.get_run(result["run_id"])
    assert await started.status() == "completed"
    assert children.CALLS == {"child 4": 1}


async def test_a_child_started_with_the_id_of_an_existing_run_of_its_workflow_is_that_run(
    engine: wf.Engine,
) -> None:
    existing = await engine.start(children.child, 7, run_id="shared-child")
    assert await existing.result(timeout=10) == 14
    parent = await engine.start(children.adopts, "shared-child")
    # The existing run's outcome, not a wait that never ends.
    assert await parent.result(timeout=10) == "14"


async def test_a_child_started_with_the_id_of_another_workflows_run_fails_as_a_conflict(
    engine: wf.Engine,
) -> None:
    other = await engine.start(children.slow_child, 0.01, run_id="taken-id")
    parent = await engine.start(children.adopts, "taken-id")
    outcome = await parent.result(timeout=10)
    assert outcome.startswith("wf.RunIdConflictError: run id 'taken-id' belongs to a run of")
    assert await other.result(timeout=10) == "slow child done"
