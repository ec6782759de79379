"""``wf.get_run(id).result()`` and ``.status()`` inside a workflow: durable, on its engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import wf
from flows import children
from wf.runtime._events import STEP_COMPLETED


@pytest.fixture(autouse=True)
def reset_calls() -> Iterator[None]:
    children.CALLS.clear()
    yield


async def test_a_workflow_waits_for_another_run_and_records_what_it_saw(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        other = await engine.start(children.slow_child, 0.3)
        waiter = await engine.start(children.waits_for, other.id)
        result = await waiter.result(timeout=10)
        log = [e async for e in waiter.events()]
    assert result["before"] in {"pending", "running", "sleeping"}  # not ended yet
    assert result["value"] == "slow child done"
    assert result["after"] == "completed"
    # Each look at the other run is one recorded step (status, outcome, status).
    assert [e.name for e in log if e.kind == STEP_COMPLETED] == [
        "wf.runtime._builtin:run_status",
        "flows.children:record",
        "wf.runtime._builtin:run_outcome",
        "wf.runtime._builtin:run_status",
    ]


async def test_a_failed_run_waited_for_raises_run_failed_in_the_workflow(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        other = await engine.start(children.child, -3)
        waiter = await engine.start(children.waits_for, other.id)
        result = await waiter.result(timeout=10)
    assert result["value"] == "failed: ValueError"


async def test_an_unknown_run_is_a_run_not_found_error_in_the_workflow(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        waiter = await engine.start(children.waits_for, "no-such-run")
        with pytest.raises(wf.RunFailedError) as info:
            await waiter.result(timeout=10)
    assert info.value.error_type == "wf.RunNotFoundError"


async def test_the_wait_survives_a_restart_on_a_database_that_is_not_the_default(
    db_url: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run from a directory with no .wf/: the default database must never be touched.
    monkeypatch.chdir(str(tmp_path))
    async with wf.Engine(db_url, poll_interval=0.02) as first:
        other = await first.start(children.slow_child, 1.0)
        waiter = await first.start(children.waits_for, other.id)
        while children.CALLS.get("waiter between") != 1:
            await asyncio.sleep(0.01)
    async with wf.Engine(db_url, poll_interval=0.02) as second:
        result = await second.get_run(waiter.id).result(timeout=15)
    assert result["value"] == "slow child done"
    # The steps before the restart were not run again.
    assert children.CALLS["waiter between"] == 1
    assert not (tmp_path / ".wf").exists()  # type: ignore[operator]
