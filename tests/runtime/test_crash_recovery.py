"""Crash recovery with real processes: SIGKILL a worker mid-run, start another, check the outcome.

Each test runs ``flows.crash_runner`` as a subprocess. The runner starts a run of a
``flows.crashy`` workflow with a fixed run id and waits for its result, so starting it
again after a kill rejoins the same run. Every step appends its index to a log file
(fsynced), which shows exactly which steps ran and how often.

What must hold after any number of kills:

* the result is the crash-free result;
* every step ran, in order; a step runs twice only if a kill interrupted it after its
  side effect but before its result was committed (at-least-once steps), so there are
  at most as many duplicate lines as kills, each right after the original;
* the event log records exactly one ``step_completed`` per step (exactly-once results).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import wf
from wf.runtime._events import Event

REPO = Path(__file__).resolve().parents[2]
N = 40
EXPECTED = sum(i * i for i in range(N))


def _spawn(
    db_url: str, run_id: str, workflow: str, n: int, log_path: Path, **kwargs: Any
) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), str(REPO / "tests"), *filter(None, [env.get("PYTHONPATH")])]
    )
    args = [db_url, run_id, workflow, str(n), str(log_path), json.dumps(kwargs)]
    return subprocess.Popen(
        [sys.executable, "-m", "flows.crash_runner", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(log_path: Path) -> list[int]:
    if not log_path.exists():
        return []
    # A kill can only cut the last line short if it lands mid-write; ignore a partial tail.
    text = log_path.read_text(encoding="utf-8")
    return [int(line) for line in text.split("\n")[:-1]]


def _wait_for_lines(proc: subprocess.Popen[str], log_path: Path, k: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(_lines(log_path)) < k:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"runner exited ({proc.returncode}) before {k} log lines:\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"log did not reach {k} lines in {timeout} s:\n{err}")
        time.sleep(0.001)


def _kill(proc: subprocess.Popen[str]) -> None:
    assert proc.poll() is None, "the runner finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def _finish(proc: subprocess.Popen[str], timeout: float = 60) -> Any:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"restarted runner did not finish in {timeout} s:\n{err}")
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])["result"]


async def _events(db_url: str, run_id: str) -> list[Event]:
    async with wf.Engine(db_url, worker=False) as engine:
        return [event async for event in engine.get_run(run_id).events()]


def _completed_steps(events: list[Event]) -> collections.Counter[int]:
    """How many ``step_completed`` events each step index has (index from the scheduled args)."""
    index_of = {
        e.cid: json.loads(e.data or "{}")["i"] for e in events if e.kind == "step_scheduled"
    }
    return collections.Counter(index_of[e.cid] for e in events if e.kind == "step_completed")


def _check_log(lines: list[int], n: int, kills: int) -> None:
    assert set(lines) == set(range(n)), "every step ran"
    assert lines == sorted(lines), f"steps ran in order: {lines}"
    counts = collections.Counter(lines)
    assert max(counts.values()) <= 2
    assert len(lines) - n <= kills, f"only a step in flight at a kill may run twice: {counts}"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_sigkilled_run_resumes_without_redoing_completed_steps(
    seed: int, tmp_path: Path, db_url: str
) -> None:
    rng = random.Random(seed)
    log_path = tmp_path / "steps.log"
    run_id = f"crash-{seed}"
    # Even seeds are killed twice, the second time at a later point of the restarted run.
    points = sorted(rng.sample(range(1, N), 2 if seed % 2 == 0 else 1))

    kills = 0
    for point in points:
        proc = _spawn(db_url, run_id, "many_steps", N, log_path)
        _wait_for_lines(proc, log_path, max(point, len(_lines(log_path)) + 1), timeout=30)
        # Killing right after a line appears interrupts that step before its result is
        # committed (so it runs again); a short random delay lands at other moments too.
        time.sleep(rng.uniform(0, 0.012))
        _kill(proc)
        kills += 1
    assert len(set(_lines(log_path))) < N, "the run finished before the last kill"

    result = _finish(_spawn(db_url, run_id, "many_steps", N, log_path))

    assert result == EXPECTED
    _check_log(_lines(log_path), N, kills)
    events = asyncio.run(_events(db_url, run_id))
    assert _completed_steps(events) == dict.fromkeys(range(N), 1)
    assert [e.kind for e in events].count("run_completed") == 1


def test_kill_during_durable_sleep_finishes_the_sleep_after_restart(
    tmp_path: Path, db_url: str
) -> None:
    # Long enough that the new process (which takes about a second to start) still has
    # part of the sleep left to wait: a shorter sleep is simply over on restart.
    pause = "1.5s"
    n = 10
    log_path = tmp_path / "steps.log"
    run_id = "crash-sleep"

    proc = _spawn(db_url, run_id, "steps_with_sleep", n, log_path, pause=pause)
    # The workflow sleeps after step n//2 - 1; kill once the timer is in the log.
    deadline = time.monotonic() + 30
    while not any(e.kind == "timer_scheduled" for e in _poll_events(db_url, run_id)):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the workflow never reached its sleep"
        time.sleep(0.01)
    _kill(proc)
    assert _lines(log_path) == list(range(n // 2)), "killed during the sleep, not after it"

    restarted_at = time.time()
    result = _finish(_spawn(db_url, run_id, "steps_with_sleep", n, log_path, pause=pause))

    assert result == sum(i * i for i in range(n))
    assert _lines(log_path) == list(range(n)), "no step ran twice"
    events = asyncio.run(_events(db_url, run_id))
    assert _completed_steps(events) == dict.fromkeys(range(n), 1)
    (timer,) = [e for e in events if e.kind == "timer_scheduled"]
    (fired,) = [e for e in events if e.kind == "timer_fired"]
    fire_at = json.loads(timer.data or "{}")["fire_at"]
    assert fire_at - timer.at == pytest.approx(wf.parse_duration(pause).total_seconds(), abs=0.05)
    assert restarted_at < fire_at, "the new process had part of the sleep left to wait"
    # The steps after the sleep ran only once the sleep was over.
    after = [e for e in events if e.kind == "step_scheduled" and e.seq > fired.seq]
    assert len(after) == n - n // 2
    assert min(e.at for e in after) >= fire_at


def _poll_events(db_url: str, run_id: str) -> list[Event]:
    try:
        return asyncio.run(_events(db_url, run_id))
    except wf.RunNotFoundError:
        return []  # the runner has not created the run yet
