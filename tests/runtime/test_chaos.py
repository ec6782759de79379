"""Chaos: a fan-out of two thousand short steps survives ``wf worker`` being SIGKILLed at random.

The run is started detached; worker processes are started and killed with SIGKILL
again and again at random moments (after a random amount of progress, plus a random
delay), then one is left to finish. Every step appends its index to a file, so the
test counts how often each step ran.

What must hold: the run completes with the crash-free result (no NondeterminismError,
whatever log the kills left); every item's side effect is present; the log records
exactly one completion per step; and a step ran again only if it was in flight at a
kill (at most ``concurrency`` steps per kill).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
from worker_support import wf_worker

import wf
from flows import crashy
from wf.runtime._events import Event

N = 2000
CONCURRENCY = 25
KILLS = 9

pytestmark = pytest.mark.chaos


def _lines(log_path: Path) -> list[int]:
    if not log_path.exists():
        return []
    return [int(line) for line in log_path.read_text(encoding="utf-8").split("\n")[:-1]]


async def _start(db_url: str, log_path: Path) -> str:
    async with wf.Engine(db_url, worker=False) as client:
        run = await client.start(
            crashy.fan_out, N, str(log_path), CONCURRENCY, run_id="chaos-fan-out"
        )
        return run.id


async def _state(db_url: str, run_id: str) -> str:
    async with wf.Engine(db_url, worker=False) as client:
        run = client.get_run(run_id)
        status = await run.status()
        if status != "failed":
            return f"run {status}"
        try:
            await run.result(timeout=0)
        except wf.RunFailedError as exc:
            return f"run failed: {exc}"
        return "run failed"


async def _outcome(db_url: str, run_id: str, timeout: float) -> tuple[int, list[Event]]:
    async with wf.Engine(db_url, worker=False, poll_interval=0.05) as client:
        run = client.get_run(run_id)
        result = await run.result(timeout=timeout)
        return result, [e async for e in run.events()]


def test_fan_out_survives_random_sigkills_of_its_workers(tmp_path: Path, db_url: str) -> None:
    rng = random.Random(int(os.environ.get("WF_CHAOS_SEED", "7")))
    log_path = tmp_path / "marks.log"
    run_id = asyncio.run(_start(db_url, log_path))

    kills = 0
    while kills < KILLS:
        proc = wf_worker(db_url, tmp_path, WF_CRASHY_PAUSE="0.004")
        target = len(_lines(log_path)) + rng.randint(1, 40)
        deadline = time.monotonic() + 30
        while len(_lines(log_path)) < target and proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the worker made no progress: {asyncio.run(_state(db_url, run_id))}")
            time.sleep(0.002)
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(rng.uniform(0, 0.005))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        kills += 1
    assert len(set(_lines(log_path))) < N, "the run finished before the last kill"

    proc = wf_worker(db_url, tmp_path, WF_CRASHY_PAUSE="0.004")
    try:
        result, events = asyncio.run(_outcome(db_url, run_id, timeout=120))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err

    assert result == sum(2 * i for i in range(N))
    lines = _lines(log_path)
    assert set(lines) == set(range(N)), "every item's side effect is present"
    reruns = len(lines) - N
    assert reruns <= kills * CONCURRENCY, f"{reruns} re-executions for {kills} kills"
    completed = collections.Counter(
        json.loads(e.data or "{}")["i"]
        for e in events
        if e.kind == "step_scheduled"
        and e.cid in {c.cid for c in events if c.kind == "step_completed"}
    )
    assert completed == dict.fromkeys(range(N), 1)
    assert [e.kind for e in events].count("step_completed") == N
    assert events[-1].kind == "run_completed"
