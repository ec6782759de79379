"""Leases: a stalled worker's runs are taken over when its lease expires, and fenced."""

from __future__ import annotations

import asyncio
import datetime
import socket
import subprocess
import sys
import time

import pytest

import wf
from flows import basic
from wf.runtime._events import STEP_COMPLETED


async def test_expired_lease_is_taken_over_and_the_stale_worker_is_fenced(db_url: str) -> None:
    basic.CALLS.clear()
    basic.GATE = asyncio.Event()  # the stalled worker's step waits until the rescue is over
    stalled = wf.Engine(db_url, lease=0.4, poll_interval=0.02)
    # Pretend it runs on another machine, so it is not recognised as a dead local process.
    stalled.worker_id = "elsewhere:1:stale0"
    try:
        async with stalled:
            run = await stalled.start(basic.gated_flow)
            for _ in range(500):
                if basic.CALLS["gated"] == 1:
                    break
                await asyncio.sleep(0.01)
            assert run.id in stalled._host
            # The machine stops heart-beating (a long GC pause, a partition...).
            for task in stalled._worker._tasks:
                if task.get_name() == "wf-heartbeat":
                    task.cancel()
            async with wf.Engine(db_url, poll_interval=0.02) as rescuer:
                assert await rescuer.get_run(run.id).result(timeout=10) == "done!"
                # Now the stalled worker's step finishes, and its write is refused.
                basic.GATE.set()
                for _ in range(500):
                    if run.id not in stalled._host:
                        break
                    await asyncio.sleep(0.01)
                assert run.id not in stalled._host
                events = [e async for e in rescuer.get_run(run.id).events()]
    finally:
        basic.GATE = None
    assert basic.CALLS["gated"] == 2  # the interrupted step ran again on the rescuer
    assert [e.kind for e in events].count(STEP_COMPLETED) == 1
    assert [e.seq for e in events] == list(range(len(events)))


async def test_a_run_whose_worker_process_on_this_host_is_gone_reads_as_pending(
    db_url: str,
) -> None:
    # A worker SIGKILLed a moment ago: its lease has most of its time left, but its
    # process is gone, so the run is not running (whether or not a worker is up).
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    owner = f"{socket.gethostname()}:{gone.pid}:dead01"
    async with wf.Engine(db_url, worker=False) as client:
        now = time.time()
        await client.store.create_run(
            "orphan",
            "flows.basic:sequential",
            '{"args": [3], "kwargs": {}}',
            now,
            now,
            owner=owner,
            lease_expires=now + 3600,
        )
        await client.store.create_run(
            "held",
            "flows.basic:sequential",
            '{"args": [3], "kwargs": {}}',
            now,
            now,
            owner=client.worker_id,
            lease_expires=now + 3600,
        )
        assert await client.get_run("orphan").status() == "pending"
        assert await client.get_run("held").status() == "running"
        listed = {r.run_id: r.status for r in await client.list_runs()}
    assert listed == {"orphan": "pending", "held": "running"}


def test_an_engine_takes_its_lease_as_seconds_a_timedelta_or_a_duration_string() -> None:
    assert wf.Engine("sqlite:///unused.db", lease="3s").lease == 3.0
    assert wf.Engine("sqlite:///unused.db", lease=datetime.timedelta(minutes=1)).lease == 60.0
    assert wf.Engine("sqlite:///unused.db", lease=2).lease == 2.0
    with pytest.raises(ValueError, match="duration"):
        wf.Engine("sqlite:///unused.db", lease="soon")
    with pytest.raises(ValueError, match="positive"):
        wf.Engine("sqlite:///unused.db", lease=0)
