"""``wf.get_run(id).result()`` and ``.status()`` inside a workflow: durable, on its engine."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from worker_support import wf_worker

import wf
from flows import children
from wf.runtime._events import STEP_COMPLETED, Event


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
    # Each look at its status is one recorded step; the wait is one recorded operation
    # whose end was delivered to it (nothing polled).
    assert [e.name for e in log if e.kind == STEP_COMPLETED] == [
        "wf:run_status",
        "flows.children:record",
        "wf:run_status",
    ]
    assert [(e.kind, e.name) for e in log if e.kind in ("run_watched", "child_finished")] == [
        ("run_watched", other.id),
        ("child_finished", other.id),
    ]


async def test_a_waiting_run_is_evicted_and_woken_by_the_other_runs_end(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.0) as engine:
        other = await engine.start(children.slow_child, 0.6)
        waiter = await engine.start(children.waits_for, other.id)
        for _ in range(200):
            if await waiter.status() == "waiting" and not engine.holds(waiter.id):
                break
            await asyncio.sleep(0.01)
        assert await waiter.status() == "waiting"
        assert not engine.holds(waiter.id)  # written back, not held in memory
        result = await waiter.result(timeout=10)
    assert result["value"] == "slow child done"
    assert children.CALLS["waiter between"] == 1


async def test_waiting_for_a_run_that_already_ended_returns_at_once(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        other = await engine.start(children.child, 4)
        assert await other.result(timeout=10) == 8
        waiter = await engine.start(children.waits_for, other.id)
        result = await waiter.result(timeout=10)
    assert result == {"before": "completed", "value": 8, "after": "completed"}


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
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    assert not (tmp_path / ".wf").exists()


async def _events(db_url: str, run_id: str) -> list[Event]:
    async with wf.Engine(db_url, worker=False) as client:
        return [e async for e in client.get_run(run_id).events()]


def test_the_wait_survives_a_sigkilled_worker(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'wf.db'}"

    async def start() -> tuple[str, str]:
        async with wf.Engine(db_url, worker=False) as client:
            other = await client.start(children.slow_child, 3.0)
            waiter = await client.start(children.waits_for, other.id)
            return other.id, waiter.id

    other_id, waiter_id = asyncio.run(start())
    worker = wf_worker(db_url, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not any(e.kind == "run_watched" for e in asyncio.run(_events(db_url, waiter_id))):
            assert worker.poll() is None, worker.communicate()[1]
            assert time.monotonic() < deadline, "the waiter never reached its wait"
            time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
    rescuer = wf_worker(db_url, tmp_path)

    async def outcome() -> Any:
        async with wf.Engine(db_url, worker=False) as client:
            return await client.get_run(waiter_id).result(timeout=60)

    try:
        result = asyncio.run(outcome())
    finally:
        rescuer.send_signal(signal.SIGTERM)
        rescuer.communicate(timeout=30)
    assert result["value"] == "slow child done"
    log = asyncio.run(_events(db_url, waiter_id))
    # The wait was recorded once and answered once; the step before it ran once.
    assert [e.kind for e in log].count("run_watched") == 1
    assert [(e.kind, e.name) for e in log if e.kind == "child_finished"] == [
        ("child_finished", other_id)
    ]
    between = [e for e in log if e.kind == STEP_COMPLETED and e.data == '"waiter between"']
    assert len(between) == 1
