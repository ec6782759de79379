"""Leases: a stalled worker's runs are taken over when its lease expires, and fenced."""

from __future__ import annotations

import asyncio
import datetime
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from worker_support import wf_worker

import wf
from flows import basic, slow_import
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


async def test_a_worker_that_stalled_past_its_lease_runs_no_completed_step_again(
    pg_url: str, tmp_path: Path
) -> None:
    # Two workers on two hosts. The first claims the run, then imports the workflow's
    # module, which takes longer than the lease (as compiling a large module on a cold
    # cache can): its loop, and so its heartbeat, stand still meanwhile. The second
    # takes the run over when the lease expires and completes it. When the first comes
    # back, it must not start the steps of a run it no longer holds (it would replay the
    # log it read before the stall, and run the completed steps again).
    marks = tmp_path / "marks.log"
    logs = [tmp_path / "stalled.log", tmp_path / "rescuer.log"]
    procs: list[subprocess.Popen[str]] = []
    try:
        with open(logs[0], "w", encoding="utf-8") as err:
            procs.append(
                wf_worker(
                    pg_url,
                    tmp_path,
                    "--lease",
                    "2s",
                    stderr=err,
                    WF_HOST_ID="host-stalled",
                    WF_SLOW_IMPORT="5",
                )
            )
        async with wf.Engine(pg_url, worker=False, poll_interval=0.05) as client:
            for _ in range(600):
                if "started:" in logs[0].read_text(encoding="utf-8"):
                    break
                await asyncio.sleep(0.05)
            run = await client.start(slow_import.two_marks, str(marks))
            for _ in range(200):
                owner = (await run.describe()).lease_owner
                if owner is not None and owner.startswith("host-stalled:"):
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail(f"the first worker did not claim the run: {logs[0].read_text()}")
            claimed = time.monotonic()
            with open(logs[1], "w", encoding="utf-8") as err:
                procs.append(wf_worker(pg_url, tmp_path, stderr=err, WF_HOST_ID="host-rescuer"))
            assert await run.result(timeout=30) == ["first", "second"]
            # The first worker's import ends 5 s after its claim; then it acts at once.
            await asyncio.sleep(max(0.0, claimed + 6.5 - time.monotonic()))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.communicate(timeout=30)
    executions = marks.read_text(encoding="utf-8").splitlines()
    assert executions == ["first host-rescuer", "second host-rescuer"], (
        f"step executions: {executions}; the first worker's log:\n{logs[0].read_text()}"
    )
