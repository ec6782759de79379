"""The runs held in memory: replaying them, delivering committed events, and doing
what they ask for (steps, timers, retries), until they end or are evicted.

Flow of a live run: a completion (step result, timer firing, cancellation) is
appended to the committer's batch; once committed, it is delivered to its run in
log order. Each delivery runs the workflow to quiescence, which issues more
operations (``_drain``): written with the next commit, their steps and timers
started.

Runs stay in memory between steps. A run whose next wake-up is further away than
``evict_after`` seconds (a long sleep or retry backoff) is written back as
``sleeping`` and dropped from memory; when it is due, a worker claims it and
replays it from its log.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as _dt
import functools
import json
import logging
import random
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from wf._errors import (
    DeadlineExceededError,
    FatalError,
    HookConflictError,
    RetryableError,
    SerializationError,
    StoreError,
)
from wf._options import StepOptions, backoff_delay
from wf.runtime import _serde
from wf.runtime._clock import Clock
from wf.runtime._context import ArmTimer, CancelTimer, Record, RunContext, StartStep
from wf.runtime._duration import to_seconds
from wf.runtime._events import (
    CANCEL_REQUESTED,
    CHILD_FINISHED,
    HOOK_RECEIVED,
    MESSAGE_RECEIVED,
    RUN_CANCELLED,
    RUN_COMPLETED,
    RUN_FAILED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_RETRYING,
    TIMER_FIRED,
    Event,
)
from wf.runtime._live import (
    ACTIVE,
    DRAINING,
    DROPPED,
    PARKED,
    QUIET,
    RESUMING,
    Live,
    Resume,
    with_timeout,
)
from wf.runtime._metadata import step_metadata_var
from wf.runtime._registry import StepSpec, resolve_step
from wf.store._commands import (
    AppendEvent,
    CommitResult,
    RegisterHook,
    StartChild,
    UpdateRun,
    WatchRun,
)
from wf.store._protocol import InboxItem, InboxKind, RunRecord

if TYPE_CHECKING:
    from wf.runtime._committer import Committer
    from wf.runtime._engine import EngineCore

__all__ = ["RunHost", "current_engine_var"]

log = logging.getLogger("wf")

#: The engine of the innermost ``async with wf.Engine()``; inside a step, the engine
#: executing it, so ``wf.start`` / ``wf.send`` from a step reach the step's database.
current_engine_var: contextvars.ContextVar[EngineCore | None] = contextvars.ContextVar(
    "wf_engine", default=None
)
_STATUS = {RUN_COMPLETED: "completed", RUN_FAILED: "failed", RUN_CANCELLED: "cancelled"}
_GONE = (DRAINING, DROPPED)
_EVICTABLE = (ACTIVE, PARKED, QUIET)


class RunHost:
    """Holds the runs in memory and carries each from its activation to its end."""

    def __init__(
        self,
        committer: Committer,
        clock: Clock,
        *,
        engine: EngineCore,
        concurrency: int,
        evict_after: float,
        base_url: str,
        poke: Callable[[], None],
    ) -> None:
        self._committer = committer
        # Bound once: each is called for every event.
        self._add = committer.add
        self._after = committer.after
        self._now = clock.now
        self._clock = clock
        self._engine = engine
        self._concurrency = concurrency
        self._evict_after = evict_after
        self._base_url = base_url
        self._poke = poke
        self._runs: dict[str, Live] = {}
        self._issued: dict[type, Callable[[Live, Any], bool]] = {
            Record: self._on_record,
            RegisterHook: self._on_register_hook,
            StartChild: self._on_start_child,
            WatchRun: self._on_watch_run,
        }
        self._effects: dict[type, Callable[[Live, Any, bool], None]] = {
            StartStep: self._on_start_step,
            ArmTimer: self._on_arm_timer,
            CancelTimer: self._on_cancel_timer,
        }
        self._receivers: dict[str, Callable[[Live, InboxItem], bool]] = {
            InboxKind.CANCEL: self._receive_cancel,
            InboxKind.HOOK: self._receive_hook,
            InboxKind.CHILD: self._receive_child,
            InboxKind.WATCH: self._receive_watch,
            InboxKind.MESSAGE: self._receive_message,
        }
        # Runs failed because the database refused their writes, whose failure is
        # being recorded (if that is refused too, they are given up).
        self._refusing: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._threads: ThreadPoolExecutor | None = None
        self._random = random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        #: Wakes the worker's heartbeat to confirm this worker's leases now (set by the
        #: engine once its worker exists).
        self.ask_renewal: Callable[[], None] = _nothing
        # Set (and replaced) each time the heartbeat confirms which runs are held.
        self._confirmed = asyncio.Event()

    def open(self) -> None:
        self._loop = asyncio.get_running_loop()

    # -- what the engine and its worker ask -------------------------------------------

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._runs

    def room(self) -> int:
        """How many more runs may come into memory."""
        return self._concurrency - len(self._runs)

    def holds(self, run_id: str) -> bool:
        """Whether this run is being executed here (and its end will be notified)."""
        live = self._runs.get(run_id)
        return live is not None and live.state is not DRAINING

    def busy(self) -> bool:
        """Whether a step runs, an event waits for delivery or a run is being resumed."""
        return any(
            live.steps or live.undelivered or live.state is RESUMING for live in self._runs.values()
        )

    def activate(
        self, record: RunRecord, events: list[Event], fn: Callable[..., Any], payload: Any
    ) -> None:
        """Bring a run this worker holds into memory and replay its log ``events``;
        ``fn`` is its workflow, ``payload`` its decoded input."""
        ctx = RunContext(
            run_id=record.run_id,
            workflow_id=record.workflow_id,
            fn=fn,
            args=tuple(payload.get("args", ())),
            kwargs=dict(payload.get("kwargs", {})),
            started_at=events[0].at if events else record.created_at,
            attempt=record.attempt,
            version=payload.get("version"),
            base_url=self._base_url,
            seed=payload.get("seed"),
        )
        live = Live(ctx, seq=events[-1].seq + 1 if events else 1)
        self._runs[record.run_id] = live
        deadline = payload.get("deadline")
        if deadline is not None:
            live.deadline = float(deadline)
            if live.deadline <= self._now():
                self._deadline_passed(live)  # no replay: nothing more may run
                return
            live.deadline_timer = self._clock.call_at(live.deadline, self._deadline_passed, live)
        ctx.replay(events[1:])
        self._drain(live)

    def resumed(self, run_id: str) -> None:
        """The run's inbox was read since it came into memory: it may be evicted now."""
        live = self._runs.get(run_id)
        if live is not None and live.state is RESUMING:
            live.move(ACTIVE)
            self._maybe_evict(live)

    def receive(self, item: InboxItem) -> bool:
        """Turn an inbox item into an event of its run; False if the run is not here."""
        live = self._runs.get(item.run_id)
        if live is None:
            return False
        receiver = self._receivers.get(item.kind)
        if receiver is not None and receiver(live, item):
            return True
        if item.kind != InboxKind.CANCEL:  # a second cancellation changes nothing
            log.warning(
                "wf: run %s has no use for inbox item %s %r; dropped",
                item.run_id,
                item.kind,
                item.name,
            )
        return True

    # One method per inbox kind (``_receivers``): True if the run had a use for the item.

    def _receive_cancel(self, live: Live, item: InboxItem) -> bool:
        if live.ctx.cancel_requested:
            return False
        live.ctx.cancel_requested = True
        self._append_delivery(live, CANCEL_REQUESTED, None, None, item.data)
        return True

    def _receive_hook(self, live: Live, item: InboxItem) -> bool:
        cid = live.ctx.hook_cids.get(item.name or "")
        if cid is None:
            return False
        self._append_delivery(live, HOOK_RECEIVED, cid, item.name, item.data)
        return True

    def _receive_child(self, live: Live, item: InboxItem) -> bool:
        cid = live.ctx.child_cids.get(item.name or "")
        if cid is None:
            return False
        self._append_delivery(live, CHILD_FINISHED, cid, item.name, item.data)
        return True

    def _receive_watch(self, live: Live, item: InboxItem) -> bool:
        cid = _watch_cid(item.name)
        if cid not in live.ctx.children:
            return False
        watched = json.loads(item.data or "{}").get("run_id")
        self._append_delivery(live, CHILD_FINISHED, cid, watched, item.data)
        return True

    def _receive_message(self, live: Live, item: InboxItem) -> bool:
        self._append_delivery(live, MESSAGE_RECEIVED, None, item.name, item.data)
        return True

    def fail(self, run_id: str, exc: BaseException) -> None:
        """End a run as failed (its row, not its log), whether or not it is in memory."""
        live = self._runs.pop(run_id, None)
        if live is not None:
            self._forget(live)
        self._record_failure(run_id, exc)

    def retain(self, held: set[str]) -> None:
        """Drop the runs in memory whose leases this worker no longer holds; the steps
        that waited for this answer start (see ``_start_step``)."""
        for run_id in [r for r in self._runs if r not in held]:
            log.warning("wf: run %s was taken over by another worker", run_id)
            self._forget(self._runs.pop(run_id))
        confirmed, self._confirmed = self._confirmed, asyncio.Event()
        confirmed.set()

    def drop_all(self) -> list[str]:
        """Drop every run from memory (their steps cancelled); the ids they had."""
        held = list(self._runs)
        for live in self._runs.values():
            self._forget(live)
        self._runs.clear()
        return held

    def cancel_steps(self) -> list[asyncio.Task[None]]:
        """The engine closes: cancel every running step; the tasks to await."""
        self._closing = True
        tasks = [t for live in self._runs.values() for t in live.steps.values()]
        for task in tasks:
            task.cancel()
        return tasks

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)

    # -- what a commit says ------------------------------------------------------------

    def committed(self, result: CommitResult) -> None:
        """Act on what the store said of a commit, before its deliveries."""
        if result.refused or self._refusing:
            self._refused(result.refused)
        for token, holder in result.conflicts.items():
            for held in list(self._runs.values()):
                if held.ctx.hook_cids.get(token) is not None and held.ctx.run_id != holder:
                    self._runs.pop(held.ctx.run_id, None)
                    self._fail_run(
                        held,
                        HookConflictError(
                            f"run {held.ctx.run_id} created a hook with token {token!r}, which"
                            f" run {holder} already holds; a token belongs to one live run"
                            " at a time (it is released when that run ends)"
                        ),
                    )
        for run_id in result.lost:
            live = self._runs.pop(run_id, None)
            if live is not None:
                log.warning("wf: run %s was taken over by another worker", run_id)
                self._forget(live)

    def _refused(self, refused: dict[str, Exception]) -> None:
        """The database refused the writes of these runs (the others were committed):
        each fails, with the refusal as its error, and leaves memory."""
        for run_id, exc in refused.items():
            if run_id in self._refusing:
                # Even the failure was refused: nothing more can be written for it.
                log.error(
                    "wf: the database refused to record that run %s failed (%s: %s); it is"
                    " left as it stands (the log up to its last committed event)",
                    run_id,
                    type(exc).__name__,
                    exc,
                )
                continue
            error = StoreError(
                f"run {run_id} failed: the database refused to record its progress"
                f" ({type(exc).__name__}: {exc})"
            )
            live = self._runs.get(run_id)
            if live is not None:
                self._fail_run(live, error)
            else:
                # It had left memory (its end or eviction was among the refused writes).
                log.error("wf: %s", error)
                self._record_failure(run_id, error)
        self._refusing = set(refused) - self._refusing

    # -- the log ---------------------------------------------------------------------------

    def _append(
        self, live: Live, kind: str, cid: int | None, name: str | None, data: str | None
    ) -> Event:
        event = Event(live.seq, kind, cid, name, data, self._now())
        live.seq += 1
        self._add(AppendEvent(live.ctx.run_id, event))
        return event

    def _append_delivery(
        self, live: Live, kind: str, cid: int | None, name: str | None, data: str | None
    ) -> Event:
        event = self._append(live, kind, cid, name, data)
        live.undelivered += 1
        self._after(functools.partial(self._deliver, live, event))
        return event

    def _deliver(self, live: Live, event: Event) -> None:
        live.undelivered -= 1
        state = live.state
        if state is DRAINING or state is DROPPED:
            return
        if state is PARKED:
            # It was listening in memory, shown as waiting: it works again.
            if live.park_timer is not None:
                live.park_timer.cancel()
                live.park_timer = None
            live.move(ACTIVE)
            self._add(UpdateRun(live.ctx.run_id, status="running"))
        elif state is QUIET:
            live.move(ACTIVE)
        live.ctx.deliver(event)
        self._drain(live)

    def _drain(self, live: Live) -> None:
        """Write what the run just did and start the work it asked for."""
        ctx = live.ctx
        if ctx.failure is not None:
            self._fail_nondeterministic(live)
            return
        commands, effects = ctx.take()
        # The operations go into the log before any of their steps starts: a step
        # whose first turn finishes at once appends its result right away, after
        # its step_scheduled and in the same commit.
        commit_first = False
        for command in commands:
            if self._issued[type(command)](live, command):
                commit_first = True
        if commit_first:
            # A step may hand a hook's token out, or wait for a child: the steps start
            # once the commit made them durable.
            live.registering += 1
            self._after(functools.partial(self._registered, live))
        for effect in effects:
            self._effects[type(effect)](live, effect, commit_first)
        if ctx.finished is not None:
            self._finish(live)
        else:
            self._maybe_evict(live)

    # What the run context issued, one handler per kind; True if the steps issued with
    # it must wait for its commit.

    def _on_record(self, live: Live, record: Record) -> bool:
        self._append(live, record.kind, record.cid, record.name, record.data)
        return False

    def _on_register_hook(self, live: Live, command: RegisterHook) -> bool:
        self._add(command)
        return True

    def _on_start_child(self, live: Live, command: StartChild) -> bool:
        self._add(command)
        self._after(self._poke)
        return True  # the child exists before any later step runs

    def _on_watch_run(self, live: Live, command: WatchRun) -> bool:
        self._add(command)
        return False

    # The work the run asked for, one handler per kind.

    def _on_start_step(self, live: Live, effect: StartStep, commit_first: bool) -> None:
        if commit_first:
            self._after(functools.partial(self._start_step_live, live, effect))
        else:
            self._start_step(live, effect)

    def _on_arm_timer(self, live: Live, effect: ArmTimer, commit_first: bool) -> None:
        live.wake_at[effect.cid] = effect.fire_at
        live.timers[effect.cid] = self._clock.call_at(
            effect.fire_at, self._timer_fired, live, effect.cid
        )

    def _on_cancel_timer(self, live: Live, effect: CancelTimer, commit_first: bool) -> None:
        handle = live.timers.pop(effect.cid, None)
        live.wake_at.pop(effect.cid, None)
        if handle is not None:
            handle.cancel()

    def _registered(self, live: Live) -> None:
        live.registering -= 1
        if live.state not in _GONE and live.ctx.finished is None:
            self._maybe_evict(live)

    # -- steps -------------------------------------------------------------------------

    def _start_step(self, live: Live, effect: StartStep) -> None:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the engine is not open (use `async with wf.Engine(...)`)")
        if effect.at is not None and effect.at > self._now():
            live.wake_at[-1 - effect.cid] = effect.at
            live.retries[effect.cid] = self._clock.call_at(
                effect.at,
                self._retry_due,
                live,
                StartStep(effect.cid, effect.step_id, effect.arguments, effect.attempt),
            )
            return
        if live.deadline is not None and self._now() >= live.deadline:
            return  # no new step starts past the deadline; the run is failing
        if not self._committer.leases_trusted():
            # This worker's loop stood still longer than its leases (a stall, a slow
            # import): another worker may have taken the run over and run this very
            # step meanwhile. It starts once the heartbeat has said which runs this
            # worker still holds; a run it lost is dropped with the waiting step.
            live.steps[effect.cid] = loop.create_task(self._start_when_confirmed(live, effect))
            self.ask_renewal()
            return
        try:
            spec = resolve_step(effect.step_id)
            args, kwargs = spec.call_args(_serde.loads(effect.arguments))
        except Exception as exc:
            self._step_error(live, effect, None, exc)
            return
        context = contextvars.copy_context()
        context.run(step_metadata_var.set, (effect, live.ctx.run_id, self._now()))
        context.run(current_engine_var.set, self._engine)
        if not spec.is_async or spec.options.timeout is not None:
            task = loop.create_task(
                self._run_step(live, effect, spec, args, kwargs), context=context
            )
            live.steps[effect.cid] = task
            return
        # Run the step's first turn right here, as Python 3.12's eager tasks do: most
        # steps either finish without suspending (no task, no extra loop turn) or
        # block on real I/O, and only those need a task to carry on.
        coro = spec.fn(*args, **kwargs)
        try:
            yielded = context.run(coro.send, None)
        except StopIteration as stop:
            self._step_done(live, effect, stop.value)
            return
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            self._step_error(live, effect, spec, exc)
            return
        resume = self._resume_step(live, effect, spec, Resume(coro, yielded))
        live.steps[effect.cid] = loop.create_task(resume, context=context)

    async def _start_when_confirmed(self, live: Live, effect: StartStep) -> None:
        while not self._committer.leases_trusted():
            await self._confirmed.wait()
        live.steps.pop(effect.cid, None)
        if live.state not in _GONE:
            self._start_step(live, effect)

    def _start_step_live(self, live: Live, effect: StartStep) -> None:
        if live.state not in _GONE:
            self._start_step(live, effect)

    def _retry_due(self, live: Live, effect: StartStep) -> None:
        live.retries.pop(effect.cid, None)
        live.wake_at.pop(-1 - effect.cid, None)
        if live.state not in _GONE:
            self._start_step(live, effect)

    async def _run_step(
        self,
        live: Live,
        effect: StartStep,
        spec: StepSpec,
        args: list[Any],
        kwargs: dict[str, Any],
    ) -> None:
        """A step that needs a task from the start: a thread step, or one with a timeout."""
        timeout = spec.options.timeout
        if spec.is_async:
            awaitable: Any = spec.fn(*args, **kwargs)
        else:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(thread_name_prefix="wf-step")
            call = functools.partial(contextvars.copy_context().run, spec.fn, *args, **kwargs)
            awaitable = asyncio.get_running_loop().run_in_executor(self._threads, call)
        if timeout is not None:
            awaitable = with_timeout(awaitable, timeout)
        await self._resume_step(live, effect, spec, awaitable)

    async def _resume_step(
        self, live: Live, effect: StartStep, spec: StepSpec, awaitable: Awaitable[Any]
    ) -> None:
        try:
            result = await awaitable
        except asyncio.CancelledError:
            if self._closing or live.state in _GONE:
                raise
            self._step_error(live, effect, spec, asyncio.CancelledError("the step was cancelled"))
            return
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            self._step_error(live, effect, spec, exc)
            return
        finally:
            live.steps.pop(effect.cid, None)
        self._step_done(live, effect, result)

    def _step_done(self, live: Live, effect: StartStep, result: Any) -> None:
        state = live.state
        if state is DROPPED:
            return
        try:
            data = _serde.dumps(result, where=f"result of step {effect.step_id}")
        except SerializationError as exc:
            self._step_error(live, effect, None, exc)
            return
        if state is DRAINING:
            self._append(live, STEP_COMPLETED, effect.cid, effect.step_id, data)
            self._drained(live)
            return
        self._append_delivery(live, STEP_COMPLETED, effect.cid, effect.step_id, data)

    def _step_error(
        self, live: Live, effect: StartStep, spec: StepSpec | None, exc: BaseException
    ) -> None:
        state = live.state
        if state is DROPPED:
            return
        options = spec.options if spec is not None else StepOptions()
        error = _serde.encode_exception(exc)
        final = (
            isinstance(exc, FatalError | SerializationError)
            or effect.attempt >= options.max_attempts
        )
        if state is DRAINING:
            # The run has ended: the failure is recorded, no retry is scheduled.
            data = _serde.dumps({"error": error, "attempt": effect.attempt})
            self._append(live, STEP_FAILED, effect.cid, effect.step_id, data)
            self._drained(live)
            return
        if final:
            data = _serde.dumps({"error": error, "attempt": effect.attempt})
            self._append_delivery(live, STEP_FAILED, effect.cid, effect.step_id, data)
            return
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            delay = to_seconds(exc.retry_after)
        else:
            delay = backoff_delay(options, effect.attempt, self._random)
        retry_at = self._now() + delay
        if live.deadline is not None and retry_at >= live.deadline:
            # A retry that would land after the deadline is not scheduled.
            data = _serde.dumps({"error": error, "attempt": effect.attempt})
            self._append_delivery(live, STEP_FAILED, effect.cid, effect.step_id, data)
            return
        data = _serde.dumps({"error": error, "attempt": effect.attempt, "retry_at": retry_at})
        self._append(live, STEP_RETRYING, effect.cid, effect.step_id, data)
        retry = StartStep(
            effect.cid, effect.step_id, effect.arguments, effect.attempt + 1, retry_at
        )
        self._after(functools.partial(self._schedule_retry, live, retry))

    def _schedule_retry(self, live: Live, retry: StartStep) -> None:
        if live.state not in _GONE:
            self._start_step(live, retry)
            self._maybe_evict(live)

    # -- timers and deadlines ----------------------------------------------------------

    def _timer_fired(self, live: Live, cid: int) -> None:
        live.timers.pop(cid, None)
        live.wake_at.pop(cid, None)
        if live.state not in _GONE:
            self._append_delivery(live, TIMER_FIRED, cid, "timer", None)

    def _deadline_passed(self, live: Live) -> None:
        if live.state in _GONE:
            return
        deadline = _dt.datetime.fromtimestamp(live.deadline or 0, _dt.UTC)
        error = DeadlineExceededError(
            f"run {live.ctx.run_id} did not finish by its deadline ({deadline.isoformat()})"
        )
        self._finish(live, (RUN_FAILED, _serde.dumps(_serde.encode_exception(error))))

    # -- the end of a run in memory ----------------------------------------------------

    def _finish(self, live: Live, outcome: tuple[str, str | None] | None = None) -> None:
        ctx = live.ctx
        outcome = outcome or ctx.finished
        if outcome is None:
            return
        kind, data = outcome
        status = _STATUS[kind]
        self._append(live, kind, None, None, data)
        self._add(
            UpdateRun(
                ctx.run_id,
                status=status,
                result=data if kind == RUN_COMPLETED else None,
                error=data if kind == RUN_FAILED else None,
                set_wake=True,
                wake_at=None,
                release=not live.steps,
            )
        )
        self._after(functools.partial(self.wake_waiters, ctx.run_id))
        if live.steps:
            # Steps already running are not interrupted (a cancellation, a deadline,
            # a race's losers): they finish, and their results are recorded.
            live.move(DRAINING)
            self._forget(live, keep_steps=True)
            return
        self._runs.pop(ctx.run_id, None)
        self._forget(live)

    def _drained(self, live: Live) -> None:
        """A step of an ended run finished: once none is left, let the run go."""
        if live.steps:
            return
        live.move(DROPPED)
        self._add(UpdateRun(live.ctx.run_id, release=True))
        if self._runs.get(live.ctx.run_id) is live:
            del self._runs[live.ctx.run_id]

    def _fail_nondeterministic(self, live: Live) -> None:
        live.ctx.take()  # nothing the failed replay issued is written
        if live.ctx.failure is not None:
            self._fail_run(live, live.ctx.failure)

    def _fail_run(self, live: Live, exc: BaseException) -> None:
        """End a run as failed without writing to its log."""
        log.error("wf: %s", exc)
        self._record_failure(live.ctx.run_id, exc)
        self._runs.pop(live.ctx.run_id, None)
        self._forget(live)

    def _record_failure(self, run_id: str, exc: BaseException) -> None:
        """Commit that the run failed with ``exc`` (its row only, not its log), release it
        and tell whoever waits for it."""
        error = _serde.dumps(_serde.encode_exception(exc))
        self._add(
            UpdateRun(
                run_id, status="failed", error=error, set_wake=True, wake_at=None, release=True
            )
        )
        self._after(functools.partial(self.wake_waiters, run_id))

    def _maybe_evict(self, live: Live) -> None:
        state = live.state
        if live.steps or live.undelivered or live.registering or state not in _EVICTABLE:
            return
        ctx = live.ctx
        if ctx.steps_in_flight() > len(live.retries):
            return  # a step's result is on its way
        next_wake = min(live.wake_at.values(), default=None)
        if live.deadline is not None and (next_wake is None or live.deadline < next_wake):
            next_wake = live.deadline  # woken in time to fail it
        now = self._now()
        if next_wake is not None and next_wake - now <= self._evict_after:
            return
        listening = ctx.listening()
        status = "waiting" if next_wake is None or listening else "sleeping"
        if listening and self._evict_after > 0 and state is not QUIET:
            # More payloads may follow soon (a webhook's requests, a message loop):
            # stay in memory, shown as waiting, and evict only after evict_after quiet.
            if state is ACTIVE:
                live.move(PARKED)
                live.park_timer = self._clock.call_at(
                    now + self._evict_after, self._park_over, live
                )
                self._add(UpdateRun(ctx.run_id, status="waiting"))
            return
        self._add(
            UpdateRun(ctx.run_id, status=status, set_wake=True, wake_at=next_wake, release=True)
        )
        self._runs.pop(ctx.run_id, None)
        self._forget(live)
        if next_wake is not None and self._loop is not None:
            self._clock.call_at(next_wake, self._poke)

    def _park_over(self, live: Live) -> None:
        live.park_timer = None
        if live.state is PARKED:
            live.move(QUIET)
            self._maybe_evict(live)

    def _forget(self, live: Live, *, keep_steps: bool = False) -> None:
        """Stop everything the run holds; with ``keep_steps`` (it is DRAINING), its
        running steps carry on."""
        if not keep_steps and live.state is not DROPPED:
            live.move(DROPPED)
        if live.park_timer is not None:
            live.park_timer.cancel()
        if live.deadline_timer is not None:
            live.deadline_timer.cancel()
        for handle in (*live.timers.values(), *live.retries.values()):
            handle.cancel()
        if not keep_steps:
            for task in live.steps.values():
                task.cancel()
        live.timers.clear()
        live.retries.clear()
        live.ctx.close()

    # -- waiting for results -------------------------------------------------------------

    def wake_waiters(self, run_id: str) -> None:
        """Wake whoever waits for ``run_id`` to end (it ended here, or another process
        said it ended)."""
        for fut in self._waiters.pop(run_id, ()):
            if not fut.done():
                fut.set_result(None)

    async def wait_finished(self, run_id: str, timeout: float) -> None:
        """Wait until this engine finishes ``run_id`` or ``timeout`` passes (whichever first)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.setdefault(run_id, []).append(fut)
        # A plain timer, not asyncio.timeout (a Timeout object and a task cancellation
        # to undo): the wait ends the same way whichever comes first.
        timer = loop.call_later(timeout, _wake, fut)
        try:
            await fut
        finally:
            timer.cancel()
            waiters = self._waiters.get(run_id)
            if waiters is not None and fut in waiters:
                waiters.remove(fut)
                if not waiters:
                    del self._waiters[run_id]


def _nothing() -> None:
    pass


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _watch_cid(name: str | None) -> int:
    """The operation a ``watch`` inbox item answers (its name), or -1 if it names none."""
    return int(name) if name is not None and name.isdigit() else -1
