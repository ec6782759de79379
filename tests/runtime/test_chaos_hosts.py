"""Chaos across hosts: three ``wf worker`` processes share one PostgreSQL database, each
acting as a separate host; one of them is SIGKILLed every few hundred milliseconds and
started again, while a few hundred runs go through sequential steps, gather fan-outs,
durable sleeps, hooks resumed from the test process, and child runs.

Each worker process gets a host id of its own (``WF_HOST_ID=host-a1``, then ``host-a2``
for the process that replaces it in slot ``a``, ...), never reused. A worker takes over
at once the runs of a dead process *of its own host* (it sees the pid is gone); with a
fresh host id per process no worker is ever on the host of a dead one, so only the lease
(``--lease 2s``, the shortest) rescues a killed worker's runs: what a fleet of machines
relies on, and the path this test is about. (Reusing ``host-a`` in slot ``a`` would let
the replacement reap its former self at once, which ``test_leases`` and the SQLite chaos
test cover; it would also hide a lease that never expires.)

The workers run in a directory of their own holding a copy of ``flows.hosts`` compiled
into its bytecode cache beforehand, as a deployment's workers find their code. Where
that cache cannot be written (``PYTHONDONTWRITEBYTECODE=1``, a read-only tree), each new
worker would compile the module with LibCST at its first claim, on its event loop: one
to two seconds on two busy cores, during which its heartbeat cannot renew the 2 s leases
it has just taken, so that live workers lose runs to each other (steps they had in
flight then run again, which this test would blame on no kill). That stall once made a
worker start completed steps again; ``test_leases`` covers it. This test is about kills.

At its start each step appends a line to a ledger file (see ``flows.hosts``): the run,
the step's correlation id, the worker's host id and pid, and a fresh execution id, which
the step also returns, so the log records which execution it kept. The test notes when
each killed process was gone.

What must hold at the end: every run (children included) completed, with the right
result; no run failed (no NondeterminismError, nor any other failure) and no worker
logged a NondeterminismError; each run's log holds exactly one completion per step and
no failed or retried step; every step ran, and the execution the log recorded is the
last one in the ledger; every other execution ran in a worker that was killed
afterwards (so it was in flight at the kill: a completed step never ran again), and
there are no more of them than ``kills × CONCURRENCY × MAX_WIDTH``.

``WF_CHAOS_SEED`` changes the random plan and kill times (default 11).
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from worker_support import REPO, wf_worker

import wf
from flows import hosts
from wf.runtime._events import (
    RUN_COMPLETED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_RETRYING,
    STEP_SCHEDULED,
    TERMINAL,
    Event,
)
from wf.store._postgres import split_postgres_url
from wf.store._protocol import FINISHED, RunRecord

pytestmark = pytest.mark.chaos

#: Top-level runs (the sixty parents among them start about a hundred and twenty more).
RUNS = 300
KILLS = 60
#: Seconds between two kills.
KILL_EVERY = (0.2, 0.6)
#: A worker is killed only once it has worked this long since it said it started (its
#: engine open, polling): kills land on work, not on a process still importing.
MIN_UP = 0.3
#: How long a worker may take to start.
START_TIMEOUT = 30.0
SLOTS = ("a", "b", "c")
LEASE = "2s"
#: Most runs a worker holds in memory; with MAX_WIDTH it bounds the steps in flight.
CONCURRENCY = 60
#: Most steps one run has in flight at once (``fan_out``'s gather).
MAX_WIDTH = 8
#: How long the runs have to finish once the kills stop.
FINISH_TIMEOUT = 90.0
#: Until when the runs are started (a fraction of the kill rounds): the last kills still
#: find runs under way.
START_WITHIN = 0.85
WORK = "flows.hosts:work"


@dataclass
class Plan:
    """A top-level run to start, and what it must return."""

    run_id: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    expected: Any
    #: Hook payloads the test sends, in order (a ``hooked`` run).
    payloads: list[int] = field(default_factory=list)
    sent: int = 0
    children: int = 0


def _plans(rng: random.Random, ledger: str) -> list[Plan]:
    plans = []
    for k in range(RUNS):
        kind = ("sequence", "fan_out", "sleeper", "hooked", "parent")[k % 5]
        run_id = f"{kind}-{k:03d}"
        if kind == "sequence":
            n = rng.randint(3, 6)
            x = 1
            for i in range(n):
                x = (3 * x + i) % 1_000_003
            plans.append(Plan(run_id, hosts.sequence, (ledger, run_id, n), x))
        elif kind == "fan_out":
            n = rng.randint(3, MAX_WIDTH)  # steps in the gather, then one after it
            squares = [i * i for i in range(n)]
            plans.append(Plan(run_id, hosts.fan_out, (ledger, run_id, n), [*squares, sum(squares)]))
        elif kind == "sleeper":
            pauses = [round(rng.uniform(0.2, 1.0), 2) for _ in range(rng.randint(1, 3))]
            expected = {"total": sum(i + 1 for i in range(len(pauses))), "slept": True}
            plans.append(Plan(run_id, hosts.sleeper, (ledger, run_id, pauses), expected))
        elif kind == "hooked":
            payloads = [rng.randint(1, 10_000) for _ in range(rng.randint(1, 3))]
            plans.append(
                Plan(run_id, hosts.hooked, (ledger, run_id, len(payloads)), payloads, payloads)
            )
        else:
            n = rng.randint(1, 3)
            pause = round(rng.uniform(0.2, 0.6), 2)
            # Children are the parent's first operations: ids <parent>.0, <parent>.1, ...
            expected = {
                "children": [f"{run_id}.{i}" for i in range(n)],
                "values": [2 * (i + 1) for i in range(n)],
            }
            plans.append(
                Plan(run_id, hosts.parent, (ledger, run_id, n, pause), expected, children=n)
            )
    return plans


# -- the workers ---------------------------------------------------------------------------


@dataclass
class Proc:
    slot: str
    host: str
    popen: subprocess.Popen[str]
    log: Path
    #: When it said it started (wall clock), once seen.
    up_since: float | None = None

    def up_for(self) -> float | None:
        """How long it has been working (None: still starting)."""
        if self.up_since is None:
            if "started:" not in self.log.read_text(encoding="utf-8"):
                return None
            # The line is the log's first write: a later one only makes this later.
            self.up_since = self.log.stat().st_mtime
        return time.time() - self.up_since


def _deploy(directory: Path) -> Path:
    """A copy of ``flows.hosts`` in ``directory/app``, compiled into its bytecode cache there:
    the workers run in that directory (see the module docstring)."""
    app = directory / "app"
    (app / "flows").mkdir(parents=True)
    for name in ("__init__.py", "hosts.py"):
        shutil.copyfile(REPO / "tests" / "flows" / name, app / "flows" / name)
    # Only the module's own cache is written (here, in tmp), whatever PYTHONDONTWRITEBYTECODE.
    script = (
        "import sys, wf, wf.compiler._transform; wf.install_import_hook();"
        " sys.dont_write_bytecode = False; import flows.hosts"
    )
    compiled = subprocess.run(
        [sys.executable, "-c", script],
        cwd=app,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    assert list((app / "flows" / "__pycache__").glob("hosts.*-wf*.pyc")), "not cached"
    return app


class Fleet:
    """The worker processes: one per slot, each with a host id of its own, working in
    ``app`` (whose flows come first on their path) and logging into ``logs``."""

    def __init__(self, db_url: str, app: Path, logs: Path) -> None:
        self.db_url = db_url
        self.app = app
        self.logs = logs
        self.logs.mkdir()
        self.generations: collections.Counter[str] = collections.Counter()
        self.alive: dict[str, Proc] = {}
        self.every: list[Proc] = []
        #: host id -> when its process was gone (after SIGKILL, once reaped).
        self.deaths: dict[str, float] = {}

    def start(self, slot: str) -> None:
        self.generations[slot] += 1
        host = f"host-{slot}{self.generations[slot]}"
        log = self.logs / f"{host}.log"
        with open(log, "w", encoding="utf-8") as err:
            popen = wf_worker(
                self.db_url,
                self.app,
                "--lease",
                LEASE,
                "--concurrency",
                str(CONCURRENCY),
                stderr=err,
                WF_HOST_ID=host,
            )
        proc = Proc(slot, host, popen, log)
        self.alive[slot] = proc
        self.every.append(proc)

    def kill(self, slot: str) -> None:
        proc = self.alive.pop(slot)
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=10)
        self.deaths[proc.host] = time.time()

    async def victim(self, rng: random.Random) -> str:
        """A slot whose worker has been working at least ``MIN_UP`` (waiting for one)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            ready = []
            for slot, proc in sorted(self.alive.items()):
                if proc.popen.poll() is not None:
                    raise AssertionError(
                        f"worker {proc.host} exited ({proc.popen.returncode}):\n{_tail(proc.log)}"
                    )
                up = proc.up_for()
                if up is not None and up >= MIN_UP:
                    ready.append(slot)
            if ready:
                return rng.choice(ready)
            if time.monotonic() > deadline:
                logs = "\n".join(f"  {p.host}:\n{_tail(p.log)}" for p in self.alive.values())
                raise AssertionError(f"no worker started in {START_TIMEOUT:g} s:\n{logs}")
            await asyncio.sleep(0.02)

    def stop(self) -> list[str]:
        """SIGTERM every live worker, once it has started (a process still importing dies
        of the signal); the complaints of those that did not exit cleanly."""
        deadline = time.monotonic() + START_TIMEOUT
        for proc in self.alive.values():
            while proc.up_for() is None and proc.popen.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            proc.popen.send_signal(signal.SIGTERM)
        problems = []
        for proc in self.alive.values():
            try:
                code = proc.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
                code = None
            if code != 0:
                problems.append(f"worker {proc.host} exited with {code}:\n{_tail(proc.log)}")
        self.alive.clear()
        return problems

    def kill_all(self) -> None:
        for proc in self.alive.values():
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait()
        self.alive.clear()

    def logged(self, text: str) -> list[str]:
        """The workers whose stderr mentions ``text``."""
        return [p.host for p in self.every if text in p.log.read_text(encoding="utf-8")]

    def lost(self) -> dict[str, set[str]]:
        """host id -> the runs its worker said another worker took over from it."""
        found: dict[str, set[str]] = {}
        for proc in self.every:
            runs = set(_TAKEN_OVER.findall(proc.log.read_text(encoding="utf-8")))
            if runs:
                found[proc.host] = runs
        return found


_TAKEN_OVER = re.compile(r"wf: run (\S+) was taken over by another worker")


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(f"    | {line}" for line in text[-lines:]) or "    | (nothing)"


# -- driving the runs --------------------------------------------------------------------


async def _send_payloads(
    client: wf.Engine, plans: list[Plan], rng: random.Random, p: float
) -> None:
    """Resume the hooks of started ``hooked`` runs with their next payload (each with
    probability ``p``); a token not registered yet is tried again later."""
    for plan in plans:
        if plan.sent < len(plan.payloads) and rng.random() < p:
            try:
                await client.resume_hook(f"hosts:{plan.run_id}", plan.payloads[plan.sent])
            except wf.HookNotFoundError:
                continue
            plan.sent += 1


def _unfinished(records: list[RunRecord], plans: list[Plan]) -> list[str]:
    expected_runs = len(plans) + sum(p.children for p in plans)
    ended = [r for r in records if r.status in FINISHED]
    if len(ended) == len(records) == expected_runs:
        return []
    known = {r.run_id for r in records}
    missing = [p.run_id for p in plans if p.run_id not in known]
    return [r.run_id for r in records if r.status not in FINISHED] + missing


def _waiting_for(db_url: str, run_ids: list[str]) -> dict[str, list[str]]:
    """What is queued for each run, read from the database itself: its inbox items,
    and its children's statuses (the store has no call that lists them)."""
    conninfo, schema = split_postgres_url(db_url)
    found: dict[str, list[str]] = collections.defaultdict(list)
    with psycopg.connect(conninfo) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        for run_id, kind, name, at in conn.execute(
            "SELECT run_id, kind, name, at FROM inbox WHERE run_id = ANY(%s) ORDER BY id",
            (run_ids,),
        ):
            found[run_id].append(f"inbox: {kind} {name} (queued at {at:.3f})")
        for parent, child, status, owner in conn.execute(
            "SELECT parent_id, run_id, status, lease_owner FROM runs"
            " WHERE parent_id = ANY(%s) ORDER BY run_id",
            (run_ids,),
        ):
            found[parent].append(f"child {child}: {status}, lease owner {owner}")
    return found


async def _diagnose(client: wf.Engine, db_url: str, run_ids: list[str], plans: list[Plan]) -> str:
    """What each run that did not finish is doing: its row, what is queued for it, and
    its last events."""
    sent = {p.run_id: f" (hook payloads sent {p.sent}/{len(p.payloads)})" for p in plans}
    queued = _waiting_for(db_url, run_ids[:30])
    lines = []
    for run_id in run_ids[:30]:
        run = client.get_run(run_id)
        try:
            record = await run.describe()
        except wf.RunNotFoundError:
            lines.append(f"  {run_id}: never created")
            continue
        lines.append(
            f"  {run_id}: {record.status}, lease owner {record.lease_owner},"
            f" wake_at {record.wake_at}, note {record.error}{sent.get(run_id, '')}"
        )
        lines.extend(f"      {line}" for line in queued.get(run_id, []))
        events = [e async for e in run.events()]
        for e in events[-8:]:
            lines.append(f"      {e.seq:3} {e.kind:16} cid={e.cid} {e.name} {(e.data or '')[:90]}")
    if len(run_ids) > 30:
        lines.append(f"  ... and {len(run_ids) - 30} more")
    return "\n".join(lines)


@dataclass
class Outcome:
    records: dict[str, RunRecord] = field(default_factory=dict)
    events: dict[str, list[Event]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    #: Why the runs could not be checked (some did not finish), if so.
    unfinished: str | None = None
    #: What the workers did wrong (an unclean exit, a NondeterminismError logged).
    problems: list[str] = field(default_factory=list)
    #: host id -> when its process was gone (killed).
    deaths: dict[str, float] = field(default_factory=dict)
    #: host id -> the runs its worker lost while it lived (see ``Fleet.lost``).
    lost: dict[str, set[str]] = field(default_factory=dict)


async def _drive(db_url: str, tmp_path: Path, plans: list[Plan], rng: random.Random) -> Outcome:
    async with wf.Engine(db_url, worker=False, poll_interval=0.05) as client:
        fleet = Fleet(db_url, _deploy(tmp_path), tmp_path / "workers")
        try:
            for slot in SLOTS:
                fleet.start(slot)
            per_round = math.ceil(len(plans) / max(1, int(KILLS * START_WITHIN)))
            started = 0
            for _ in range(KILLS):
                for plan in plans[started : started + per_round]:
                    await client.start(plan.fn, *plan.args, run_id=plan.run_id)
                started = min(len(plans), started + per_round)
                await _send_payloads(client, plans[:started], rng, 0.4)
                await asyncio.sleep(rng.uniform(*KILL_EVERY))
                slot = await fleet.victim(rng)
                fleet.kill(slot)
                fleet.start(slot)
            assert started == len(plans)
            killed_at = time.monotonic()

            # The last three workers stay up until every run has ended.
            deadline = killed_at + FINISH_TIMEOUT
            while True:
                await _send_payloads(client, plans, rng, 1.0)
                records = await client.list_runs(limit=100_000)
                left = _unfinished(records, plans)
                if not left:
                    break
                if time.monotonic() > deadline:
                    report = await _diagnose(client, db_url, left, plans)
                    logs = "\n".join(f"  {p.host}:\n{_tail(p.log)}" for p in fleet.alive.values())
                    return Outcome(
                        unfinished=f"{len(left)} runs did not finish {FINISH_TIMEOUT:g} s after"
                        f" the last of {KILLS} kills:\n{report}\nlive workers' stderr:\n{logs}"
                    )
                await asyncio.sleep(0.25)
            print(
                f"\n{len(records)} runs, {KILLS} kills; every run ended"
                f" {time.monotonic() - killed_at:.1f} s after the last kill"
            )
        finally:
            stopped = fleet.stop()
            fleet.kill_all()
        outcome = Outcome(
            {r.run_id: r for r in records},
            problems=stopped,
            deaths=fleet.deaths,
            lost=fleet.lost(),
        )
        for record in records:
            run = client.get_run(record.run_id)
            outcome.events[record.run_id] = [e async for e in run.events()]
            if record.status == "completed":
                outcome.results[record.run_id] = await run.result(timeout=0)
        nondeterministic = fleet.logged("NondeterminismError")
        if nondeterministic:
            outcome.problems.append(
                f"workers that logged a NondeterminismError: {nondeterministic}"
            )
        return outcome


# -- what must hold ------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    run_id: str
    cid: int
    label: str
    host: str
    pid: int
    execution: str
    at: float


def _ledger(path: Path) -> list[Execution]:
    executions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        run_id, cid, label, host, pid, execution, at = line.split(" ")
        executions.append(Execution(run_id, int(cid), label, host, int(pid), execution, float(at)))
    return executions


def _check_runs(outcome: Outcome, plans: list[Plan]) -> list[str]:
    problems = []
    expected = {p.run_id for p in plans}
    for plan in plans:
        if plan.children:
            expected.update(plan.expected["children"])
    if set(outcome.records) != expected:
        missing, extra = (
            sorted(expected - set(outcome.records)),
            sorted(set(outcome.records) - expected),
        )
        problems.append(f"runs missing: {missing[:20]}; runs no one started: {extra[:20]}")
    not_completed = {
        run_id: f"{r.status}: {r.error}"
        for run_id, r in outcome.records.items()
        if r.status != "completed"
    }
    if not_completed:
        problems.append(f"runs that did not complete: {not_completed}")
    for plan in plans:
        got = outcome.results.get(plan.run_id)
        if got != plan.expected:
            problems.append(f"{plan.run_id} returned {got!r}, not {plan.expected!r}")
    for run_id, events in outcome.events.items():
        kinds = [e.kind for e in events]
        if [e.seq for e in events] != list(range(len(events))):
            problems.append(f"{run_id}: its log's seqs are not 0..{len(events) - 1}")
        if not kinds or kinds[-1] != RUN_COMPLETED or sum(k in TERMINAL for k in kinds) != 1:
            problems.append(f"{run_id}: its log does not end with one run_completed: {kinds}")
        bad = [k for k in kinds if k in (STEP_FAILED, STEP_RETRYING)]
        if bad:
            problems.append(f"{run_id}: a step failed or was retried: {kinds}")
        scheduled = collections.Counter(e.cid for e in events if e.kind == STEP_SCHEDULED)
        completed = collections.Counter(e.cid for e in events if e.kind == STEP_COMPLETED)
        if any(n != 1 for n in scheduled.values()) or completed != scheduled:
            problems.append(
                f"{run_id}: steps scheduled {dict(scheduled)}, completed {dict(completed)}"
            )
    return problems


def _check_ledger(outcome: Outcome, executions: list[Execution]) -> tuple[list[str], int]:
    """The problems the ledger shows, and how many executions were repeated ones."""
    problems = []
    recorded: dict[tuple[str, int], str] = {}
    for run_id, events in outcome.events.items():
        for e in events:
            if e.kind == STEP_COMPLETED and e.name == WORK and e.cid is not None:
                recorded[(run_id, e.cid)] = json.loads(e.data or "null")[1]
    ran: dict[tuple[str, int], list[Execution]] = collections.defaultdict(list)
    for x in executions:
        ran[(x.run_id, x.cid)].append(x)
    never = sorted(set(recorded) - set(ran))
    if never:
        problems.append(f"steps recorded but absent from the ledger: {never[:20]}")
    unrecorded = sorted(set(ran) - set(recorded))
    if unrecorded:
        problems.append(f"steps in the ledger but not completed in a log: {unrecorded[:20]}")
    repeats = 0
    for key, runs in sorted(ran.items()):
        kept = recorded.get(key)
        if kept is None:
            continue
        if runs[-1].execution != kept:
            problems.append(
                f"step {key} ({runs[-1].label}) ran again after the execution its log"
                f" recorded ({kept}): {[(x.host, x.execution) for x in runs]}"
            )
        for x in runs:
            if x.execution == kept:
                continue
            repeats += 1
            died = outcome.deaths.get(x.host)
            if died is None or died < x.at:
                fate = "was never killed" if died is None else f"died at {died:.3f}"
                if x.run_id in outcome.lost.get(x.host, ()):
                    fate += (
                        ", and logged that the run was taken over from it while it lived:"
                        " its lease expired (its loop stood still longer than the lease?)"
                    )
                problems.append(
                    f"step {key} ({x.label}) ran more than once, and its execution"
                    f" {x.execution} on {x.host} (pid {x.pid}, at {x.at:.3f}) was not in"
                    f" flight at a kill (that worker {fate}); executions:"
                    f" {[(y.host, y.execution) for y in runs]}, recorded {kept}"
                )
    return problems, repeats


def test_runs_survive_workers_on_three_hosts_killed_at_random(pg_url: str, tmp_path: Path) -> None:
    seed = int(os.environ.get("WF_CHAOS_SEED", "11"))
    rng = random.Random(seed)
    ledger = tmp_path / "ledger.log"
    plans = _plans(rng, str(ledger))

    outcome = asyncio.run(_drive(pg_url, tmp_path, plans, rng))
    if outcome.unfinished is not None:
        pytest.fail(f"seed {seed}: {outcome.unfinished}", pytrace=False)

    deaths = outcome.deaths
    problems = outcome.problems + _check_runs(outcome, plans)
    executions = _ledger(ledger)
    ledger_problems, repeats = _check_ledger(outcome, executions)
    problems += ledger_problems
    bound = len(deaths) * CONCURRENCY * MAX_WIDTH
    if repeats > bound:
        problems.append(f"{repeats} re-executions for {len(deaths)} kills (at most {bound})")
    hosts_of_run: dict[str, set[str]] = collections.defaultdict(set)
    for x in executions:
        hosts_of_run[x.run_id].add(x.host)
    moved = sum(len(h) > 1 for h in hosts_of_run.values())
    if not moved:
        problems.append("no run's steps ran on two hosts: the kills rescued nothing")
    print(
        f"{len(deaths)} kills; {moved} runs ran on several hosts;"
        f" {repeats} step executions were repeats (in flight at a kill)"
    )
    assert not problems, f"seed {seed}:\n" + "\n".join(problems[:40])
