"""The engine: one store, and (by default) a worker that executes runs from it.

Flow of a live run: a completion (step result, timer firing, cancellation) is
appended to the engine-wide commit buffer; the flusher writes the whole buffer
in one transaction per tick (group commit), then delivers the committed events
to their runs in log order. Each delivery runs the workflow to quiescence,
which appends the operations it issued and starts their steps and timers.

Runs stay in memory between steps. A run whose next wake-up is further away
than ``evict_after`` seconds (a long sleep or retry backoff) is written back
as ``sleeping`` and dropped from memory; when it is due, a worker claims it
and replays it from its log. Leases expire if a worker stops heart-beating; a
lease held by a dead process on this host is taken over at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as _dt
import functools
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wf._errors import (
    DeadlineExceededError,
    FatalError,
    HookConflictError,
    RetryableError,
    SerializationError,
    StoreError,
)
from wf._options import StepOptions, backoff_delay, workflow_options
from wf.runtime import _serde
from wf.runtime._clock import Clock, RealClock
from wf.runtime._context import ArmTimer, CancelTimer, Record, RunContext, StartStep
from wf.runtime._duration import to_seconds
from wf.runtime._events import (
    RUN_CANCELLED,
    RUN_COMPLETED,
    RUN_FAILED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_RETRYING,
    TIMER_FIRED,
    Event,
)
from wf.runtime._live import Live, Resume, with_timeout
from wf.runtime._metadata import step_metadata_var
from wf.runtime._registry import StepSpec, resolve, resolve_step
from wf.runtime._worker import WorkerMixin
from wf.store._commands import (
    AppendEvent,
    Batch,
    CommitResult,
    RegisterHook,
    StartChild,
    UpdateRun,
    WatchRun,
)
from wf.store._faults import BROKEN, Backoff
from wf.store._protocol import RunRecord, Store, open_store

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_URL", "EngineCore", "current_engine_var"]

log = logging.getLogger("wf")

DEFAULT_URL = "sqlite:///.wf/wf.db"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
#: The engine of the innermost ``async with wf.Engine()``; inside a step, the engine
#: executing it, so ``wf.start`` / ``wf.send`` from a step reach the step's database.
current_engine_var: contextvars.ContextVar[EngineCore | None] = contextvars.ContextVar(
    "wf_engine", default=None
)
_STATUS = {RUN_COMPLETED: "completed", RUN_FAILED: "failed", RUN_CANCELLED: "cancelled"}


class EngineCore(WorkerMixin):
    """Store access, group commit and the worker. ``wf.Engine`` is the public face."""

    def __init__(
        self,
        url: str | None = None,
        *,
        worker: bool = True,
        concurrency: int = 1000,
        durability: str = "normal",
        lease: float | str | _dt.timedelta = 15.0,
        poll_interval: float = 0.25,
        evict_after: float = 2.0,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.url = url or os.environ.get("WF_DATABASE_URL") or DEFAULT_URL
        self.store: Store = open_store(self.url, durability=durability)
        self.worker = worker
        self.concurrency = concurrency
        #: Seconds a run survives its worker's death (seconds, a timedelta or "3s").
        self.lease = to_seconds(lease)
        if self.lease <= 0:
            raise ValueError(f"lease must be a positive duration, not {lease!r}")
        self.poll_interval = poll_interval
        self.evict_after = evict_after
        #: Where this deployment's HTTP app is reached; webhook URLs start with it.
        self.base_url = (base_url or os.environ.get("WF_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.clock: Clock = clock or RealClock()
        #: How long this worker leaves a run it cannot execute (another version, a module
        #: it cannot import) before it claims that run again; doubled each time, up to
        #: ``leave_max``. Other workers may claim the run at once.
        self.leave_for = 30.0
        self.leave_max = 600.0
        # run id -> (when this worker may claim it again, the wait that led there).
        self._left: dict[str, tuple[float, float]] = {}
        #: Why the worker stopped (its database file was removed or replaced), if it did.
        self.failure: StoreError | None = None
        self._stopped: asyncio.Future[StoreError] | None = None
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._runs: dict[str, Live] = {}
        self._batch = Batch()
        self._after: list[Callable[[], None]] = []
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
        # Failed commits: paced and logged once per streak.
        self._commit_retry = Backoff("committing to the database")
        # Runs failed because the database refused their writes, whose failure is
        # being recorded (if that is refused too, they are given up).
        self._refusing: set[str] = set()
        self._dirty = asyncio.Event()
        self._flush_pending = False
        self._wakeup = asyncio.Event()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._threads: ThreadPoolExecutor | None = None
        self._random = random.Random()
        self._closing = False
        # Set once close() took the last commit: a flush still scheduled on the loop
        # then has nothing to write to and must not try.
        self._shut = False
        # Until this time no other worker can have taken over our runs (every lease
        # we hold was set or renewed after _renewed_at), so commits skip the check.
        self._leases_safe_until = 0.0
        self._inbox_taken: set[int] = set()
        self._opened = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        if self._opened:
            return
        self._loop = asyncio.get_running_loop()
        await self.store.open()
        self._opened = True
        # A store that commits without suspending (SQLite) is flushed from a plain
        # callback: one loop turn per tick instead of waking a flusher task.
        self._commit_sync: Callable[..., CommitResult] | None = (
            self.store.commit_sync if self.store.sync_commits else None
        )
        if self._commit_sync is None:
            self._tasks.append(asyncio.create_task(self._flusher(), name="wf-flusher"))
        if self.worker:
            self._tasks.append(asyncio.create_task(self._poller(), name="wf-poller"))
            self._tasks.append(asyncio.create_task(self._heartbeat(), name="wf-heartbeat"))

    async def close(self) -> None:
        if not self._opened or self._closing:
            return
        self._closing = True
        for task in self._tasks:
            task.cancel()
        step_tasks = [t for live in self._runs.values() for t in live.steps.values()]
        for task in step_tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *step_tasks, return_exceptions=True)
        # Commit what is already decided; its deliveries happen wherever the runs resume.
        self._shut = True
        # Not into a database file that was removed or replaced: nothing more is written.
        if self._batch and self.failure is None:
            try:
                await self.store.commit(self._batch, self.worker_id, now=self.clock.now())
            except Exception:
                log.exception("wf: final commit failed; the affected steps will run again")
        held = list(self._runs)
        for live in self._runs.values():
            self._forget(live)
        self._runs.clear()
        if held and self.failure is None:
            try:
                await self.store.release(self.worker_id, held)
            except Exception as exc:
                log.warning(
                    "wf: could not release the leases of %d runs (%s: %s); other workers"
                    " take them over when the leases expire",
                    len(held),
                    type(exc).__name__,
                    exc,
                )
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
        await self.store.close()
        self._opened = False

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the engine is not open (use `async with wf.Engine(...)`)")
        return self._loop

    def busy(self) -> bool:
        """Whether anything is under way in memory: a commit pending, a step running,
        an event not yet delivered, a run being resumed (wf.testing waits on it)."""
        if self._batch or self._after or self._flush_pending:
            return True
        return any(live.steps or live.undelivered or live.resuming for live in self._runs.values())

    def has_room(self) -> bool:
        """Whether the worker may take one more run into memory."""
        return len(self._runs) < self.concurrency

    def holds(self, run_id: str) -> bool:
        """Whether this engine is executing the run now (and will notify its waiters)."""
        live = self._runs.get(run_id)
        return live is not None and not live.draining

    def poke(self) -> None:
        """Wake the poller now (a run was started or became due)."""
        self._wakeup.set()

    # -- group commit -------------------------------------------------------------------

    def _append(
        self, live: Live, kind: str, cid: int | None, name: str | None, data: str | None
    ) -> Event:
        event = Event(live.seq, kind, cid, name, data, self.clock.now())
        live.seq += 1
        self._batch.add(AppendEvent(live.ctx.run_id, event))
        self._kick()
        return event

    def _append_delivery(
        self, live: Live, kind: str, cid: int | None, name: str | None, data: str | None
    ) -> Event:
        event = self._append(live, kind, cid, name, data)
        live.undelivered += 1
        self._after.append(functools.partial(self._deliver, live, event))
        return event

    def _kick(self) -> None:
        """Ask for a flush of the commit buffer at the end of this loop turn."""
        if self._flush_pending or self._shut:
            return
        self._flush_pending = True
        if self._commit_sync is None:
            self._dirty.set()
        elif self._loop is not None:
            # Scheduled behind the callbacks already queued, such as the first turn of
            # steps just started, so a step that finishes at once joins this commit.
            self._loop.call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush_pending = False
        if self._shut:
            return  # closed after its final commit: the runs resume elsewhere
        batch, after = self._batch, self._after
        if not batch and not after:
            return
        self._batch, self._after = Batch(), []
        commit_sync = self._commit_sync
        if commit_sync is None:
            return
        try:
            result = commit_sync(
                batch, self.worker_id, now=self.clock.now(), verify_owner=self._must_verify()
            )
        except Exception as exc:
            delay = self._commit_failed(exc, batch, after)
            if delay is not None and self._loop is not None:
                # Kicks wait for the retry: a flush is pending until then.
                self._flush_pending = True
                self._loop.call_later(delay, self._flush_now)
            return
        if self._commit_retry.failures:
            self._commit_retry.succeeded()
        self._committed(result, after)

    def _commit_failed(
        self, exc: Exception, batch: Batch, after: list[Callable[[], None]]
    ) -> float | None:
        """A commit raised ``exc``: the seconds to wait before trying it again, or None
        if the database cannot be written at all (the worker stopped)."""
        fault = self.store.classify(exc)
        if fault.kind == BROKEN:
            self._stop_worker(StoreError(fault.message))
            return None
        # Tried again first, before what was added since.
        batch.extend(self._batch)
        self._batch, self._after = batch, after + self._after
        return self._commit_retry.failed(exc)

    def _committed(self, result: CommitResult, after: list[Callable[[], None]]) -> None:
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
        for callback in after:
            try:
                callback()
            except Exception:
                log.exception("wf: delivering an event failed")

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

    async def _flusher(self) -> None:
        while True:
            await self._dirty.wait()
            # One turn of the loop lets steps started by the last deliveries finish
            # into this same transaction.
            await asyncio.sleep(0)
            self._dirty.clear()
            self._flush_pending = False
            batch, after = self._batch, self._after
            if not batch and not after:
                continue
            self._batch, self._after = Batch(), []
            try:
                result = await self.store.commit(
                    batch, self.worker_id, now=self.clock.now(), verify_owner=self._must_verify()
                )
            except Exception as exc:
                delay = self._commit_failed(exc, batch, after)
                if delay is None:
                    return
                await asyncio.sleep(delay)
                self._dirty.set()
                continue
            if self._commit_retry.failures:
                self._commit_retry.succeeded()
            self._committed(result, after)

    # -- running workflows ---------------------------------------------------------------

    def _activate(self, record: RunRecord, events: list[Event]) -> None:
        try:
            fn = resolve(record.workflow_id)
        except Exception as exc:
            # This worker's code or sys.path lacks the workflow (started from another
            # directory, an older deploy): another worker may have it, so the run is
            # left to it rather than failed.
            self._leave(record, self._cannot_import(record.workflow_id, exc))
            return
        try:
            payload = _serde.loads(record.input)
        except SerializationError as exc:
            if not isinstance(exc.__cause__, ImportError):
                raise  # a corrupt input: no other worker can do better
            self._leave(record, f"worker {self.worker_id} cannot rebuild the run's input: {exc}")
            return
        version = payload.get("version")
        mine = workflow_options(fn).version
        if version != mine:
            # This worker has other code for the workflow than the run started with:
            # leave the run to a worker that has its version, rather than fail it.
            self._leave(
                record,
                f"run {record.run_id} needs version {version!r} of {record.workflow_id};"
                f" worker {self.worker_id} has version {mine!r}",
            )
            return
        ctx = RunContext(
            run_id=record.run_id,
            workflow_id=record.workflow_id,
            fn=fn,
            args=tuple(payload.get("args", ())),
            kwargs=dict(payload.get("kwargs", {})),
            started_at=events[0].at if events else record.created_at,
            attempt=record.attempt,
            version=version,
            base_url=self.base_url,
            seed=payload.get("seed"),
        )
        live = Live(ctx, seq=events[-1].seq + 1 if events else 1, resuming=True)
        self._runs[record.run_id] = live
        deadline = payload.get("deadline")
        if deadline is not None:
            live.deadline = float(deadline)
            if live.deadline <= self.clock.now():
                self._deadline_passed(live)  # no replay: nothing more may run
                return
            live.deadline_timer = self.clock.call_at(live.deadline, self._deadline_passed, live)
        ctx.replay(events[1:])
        self._drain(live)

    def _deliver(self, live: Live, event: Event) -> None:
        live.undelivered -= 1
        if live.dropped:
            return
        if live.parked is not None:
            # It was listening in memory, shown as waiting: it works again.
            live.parked.cancel()
            live.parked = None
            self._batch.add(UpdateRun(live.ctx.run_id, status="running"))
            self._kick()
        live.park_over = False
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
            self._after.append(functools.partial(self._registered, live))
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
        self._batch.add(command)
        return True

    def _on_start_child(self, live: Live, command: StartChild) -> bool:
        self._batch.add(command)
        self._after.append(self.poke)
        return True  # the child exists before any later step runs

    def _on_watch_run(self, live: Live, command: WatchRun) -> bool:
        self._batch.add(command)
        return False

    # The work the run asked for, one handler per kind.

    def _on_start_step(self, live: Live, effect: StartStep, commit_first: bool) -> None:
        if commit_first:
            self._after.append(functools.partial(self._start_step_live, live, effect))
        else:
            self._start_step(live, effect)

    def _on_arm_timer(self, live: Live, effect: ArmTimer, commit_first: bool) -> None:
        self._arm_timer(live, effect)

    def _on_cancel_timer(self, live: Live, effect: CancelTimer, commit_first: bool) -> None:
        handle = live.timers.pop(effect.cid, None)
        live.wake_at.pop(effect.cid, None)
        if handle is not None:
            handle.cancel()

    def _start_step(self, live: Live, effect: StartStep) -> None:
        loop = self._running_loop()
        if effect.at is not None and effect.at > self.clock.now():
            live.wake_at[-1 - effect.cid] = effect.at
            live.retries[effect.cid] = self.clock.call_at(
                effect.at,
                self._retry_due,
                live,
                StartStep(effect.cid, effect.step_id, effect.arguments, effect.attempt),
            )
            return
        if live.deadline is not None and self.clock.now() >= live.deadline:
            return  # no new step starts past the deadline; the run is failing
        try:
            spec = resolve_step(effect.step_id)
            args, kwargs = spec.call_args(_serde.loads(effect.arguments))
        except Exception as exc:
            self._step_error(live, effect, None, exc)
            return
        context = contextvars.copy_context()
        context.run(step_metadata_var.set, (effect, live.ctx.run_id, self.clock.now()))
        context.run(current_engine_var.set, self)
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

    def _registered(self, live: Live) -> None:
        live.registering -= 1
        if not live.dropped and live.ctx.finished is None:
            self._maybe_evict(live)

    def _start_step_live(self, live: Live, effect: StartStep) -> None:
        if not live.dropped:
            self._start_step(live, effect)

    def _retry_due(self, live: Live, effect: StartStep) -> None:
        live.retries.pop(effect.cid, None)
        live.wake_at.pop(-1 - effect.cid, None)
        if not live.dropped:
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
            if self._closing or live.dropped:
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
        if live.dropped and not live.draining:
            return
        try:
            data = _serde.dumps(result, where=f"result of step {effect.step_id}")
        except SerializationError as exc:
            self._step_error(live, effect, None, exc)
            return
        if live.draining:
            self._append(live, STEP_COMPLETED, effect.cid, effect.step_id, data)
            self._drained(live)
            return
        self._append_delivery(live, STEP_COMPLETED, effect.cid, effect.step_id, data)

    def _step_error(
        self, live: Live, effect: StartStep, spec: StepSpec | None, exc: BaseException
    ) -> None:
        if live.dropped and not live.draining:
            return
        options = spec.options if spec is not None else StepOptions()
        error = _serde.encode_exception(exc)
        final = (
            isinstance(exc, FatalError | SerializationError)
            or effect.attempt >= options.max_attempts
        )
        if live.draining:
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
        retry_at = self.clock.now() + delay
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
        self._after.append(functools.partial(self._schedule_retry, live, retry))

    def _schedule_retry(self, live: Live, retry: StartStep) -> None:
        if not live.dropped:
            self._start_step(live, retry)
            self._maybe_evict(live)

    def _arm_timer(self, live: Live, effect: ArmTimer) -> None:
        live.wake_at[effect.cid] = effect.fire_at
        live.timers[effect.cid] = self.clock.call_at(
            effect.fire_at, self._timer_fired, live, effect.cid
        )

    def _timer_fired(self, live: Live, cid: int) -> None:
        live.timers.pop(cid, None)
        live.wake_at.pop(cid, None)
        if not live.dropped:
            self._append_delivery(live, TIMER_FIRED, cid, "timer", None)

    def _deadline_passed(self, live: Live) -> None:
        if live.dropped:
            return
        deadline = _dt.datetime.fromtimestamp(live.deadline or 0, _dt.UTC)
        error = DeadlineExceededError(
            f"run {live.ctx.run_id} did not finish by its deadline ({deadline.isoformat()})"
        )
        self._finish(live, (RUN_FAILED, _serde.dumps(_serde.encode_exception(error))))

    def _finish(self, live: Live, outcome: tuple[str, str | None] | None = None) -> None:
        ctx = live.ctx
        outcome = outcome or ctx.finished
        if outcome is None:
            return
        kind, data = outcome
        status = _STATUS[kind]
        self._append(live, kind, None, None, data)
        self._batch.add(
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
        self._after.append(functools.partial(self._notify, ctx.run_id))
        if live.steps:
            # Steps already running are not interrupted (a cancellation, a deadline,
            # a race's losers): they finish, and their results are recorded.
            live.draining = True
            self._forget(live, keep_steps=True)
            return
        self._runs.pop(ctx.run_id, None)
        self._forget(live)

    def _drained(self, live: Live) -> None:
        """A step of an ended run finished: once none is left, let the run go."""
        if live.steps:
            return
        live.draining = False
        self._batch.add(UpdateRun(live.ctx.run_id, release=True))
        self._kick()
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
        self._batch.add(
            UpdateRun(
                run_id, status="failed", error=error, set_wake=True, wake_at=None, release=True
            )
        )
        self._kick()
        self._after.append(functools.partial(self._notify, run_id))

    def _maybe_evict(self, live: Live) -> None:
        if live.steps or live.undelivered or live.dropped or live.resuming or live.registering:
            return
        ctx = live.ctx
        if ctx.steps_in_flight() > len(live.retries):
            return  # a step's result is on its way
        next_wake = min(live.wake_at.values(), default=None)
        if live.deadline is not None and (next_wake is None or live.deadline < next_wake):
            next_wake = live.deadline  # woken in time to fail it
        now = self.clock.now()
        if next_wake is not None and next_wake - now <= self.evict_after:
            return
        listening = ctx.listening()
        status = "waiting" if next_wake is None or listening else "sleeping"
        if listening and self.evict_after > 0 and not live.park_over:
            # More payloads may follow soon (a webhook's requests, a message loop):
            # stay in memory, shown as waiting, and evict only after evict_after quiet.
            if live.parked is None:
                live.parked = self.clock.call_at(now + self.evict_after, self._park_over, live)
                self._batch.add(UpdateRun(ctx.run_id, status="waiting"))
                self._kick()
            return
        self._batch.add(
            UpdateRun(ctx.run_id, status=status, set_wake=True, wake_at=next_wake, release=True)
        )
        self._kick()
        self._runs.pop(ctx.run_id, None)
        self._forget(live)
        if next_wake is not None and self._loop is not None:
            self.clock.call_at(next_wake, self.poke)

    def _park_over(self, live: Live) -> None:
        live.parked = None
        if live.dropped:
            return
        live.park_over = True
        self._maybe_evict(live)

    def _forget(self, live: Live, *, keep_steps: bool = False) -> None:
        live.dropped = True
        if live.parked is not None:
            live.parked.cancel()
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

    # -- waiting for results ---------------------------------------------------------------

    def _notify(self, run_id: str) -> None:
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


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
