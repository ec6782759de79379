"""Versioning: a run keeps its version; a worker without it leaves the run to another."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

import wf
from flows import versioned
from wf._options import workflow_options


async def test_a_run_takes_the_codes_version_and_sees_it(engine: wf.Engine) -> None:
    run = await engine.start(versioned.checkout)
    assert await run.result(timeout=10) == {"version": "v2", "label": "new flow"}


async def test_a_worker_without_the_runs_version_leaves_it_for_another(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        engine.leave_for = 0.05  # looks again after 0.05 s, then 0.1 s, 0.2 s...
        run = await engine.start(versioned.checkout, version="v1")
        await asyncio.sleep(0.3)  # claimed and left several times, never failed
        assert await run.status() in ("pending", "running")
        assert [e.kind async for e in run.events()] == ["run_started"]
        # A worker with the v1 code comes along (simulated by swapping the options).
        old = dataclasses.replace(workflow_options(versioned.checkout), version="v1")
        monkeypatch.setattr(versioned.checkout, "__wf_options__", old)
        assert await run.result(timeout=10) == {"version": "v1", "label": "old flow"}


async def test_a_worker_leaves_a_run_of_another_version_once_and_says_why(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with wf.Engine(db_url, poll_interval=0.01) as engine:
        run = await engine.start(versioned.checkout, version="v1")
        await asyncio.sleep(0.5)  # fifty polls
        record = await engine.store.get_run(run.id, now=engine.clock.now())
    assert record is not None
    assert (record.status, record.lease_owner) == ("pending", None)
    note = json.loads(record.error or "{}")["message"]
    assert f"run {run.id} needs version 'v1' of {record.workflow_id}" in note
    assert f"worker {engine.worker_id} has version 'v2'" in note
    left = [r for r in caplog.records if run.id in r.getMessage()]
    assert len(left) == 1, "claimed once, then left alone"
    assert f"run {run.id} left for a worker that can run it" in left[0].getMessage()


async def test_a_bad_version_is_refused(engine: wf.Engine) -> None:
    with pytest.raises(ValueError, match="version must be a non-empty string"):
        await engine.start(versioned.checkout, version="")
