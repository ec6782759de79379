"""The state of one workflow run: issuing operations, replaying the log, delivering events.

A ``RunContext`` does no I/O. Workflow code issues durable operations through
it (``issue_step``, timers via the loop); each gets a correlation id (``cid``)
from its order of issue. New operations go to ``commands`` (what must be written:
``Record`` an event, register a hook, start a child, wait for a run; frozen command
objects, see ``wf.store._commands``) and ``effects`` (work for the engine: run a
step, arm a timer). The engine commits the commands, then hands committed
completions back with ``deliver``,
one at a time, and the workflow runs to quiescence between deliveries.

Replay feeds a committed log through the same path, so a replayed run reaches
exactly the state the live run had; an operation that differs from the one
the log recorded at the same position raises ``NondeterminismError``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import sys
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from wf._errors import NondeterminismError, SerializationError, StepFailedError
from wf._names import canonical, type_name
from wf.runtime import _serde
from wf.runtime._events import (
    CANCEL_REQUESTED,
    CHILD_FINISHED,
    CHILD_STARTED,
    DELIVERIES,
    HOOK_CREATED,
    HOOK_RECEIVED,
    MESSAGE_RECEIVED,
    OPERATIONS,
    PROGRESS,
    RUN_CANCELLED,
    RUN_COMPLETED,
    RUN_FAILED,
    RUN_WATCHED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_RETRYING,
    STEP_SCHEDULED,
    TIMER_FIRED,
    TIMER_SCHEDULED,
    Event,
)
from wf.runtime._loop import WorkflowLoop
from wf.store._commands import RegisterHook, StartChild, WatchRun

__all__ = [
    "ArmTimer",
    "CancelTimer",
    "Closed",
    "Inbox",
    "Issued",
    "Record",
    "RunContext",
    "StartStep",
    "type_name",
]

_WF_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))
_LOOP_FILE = os.path.join(_WF_DIR, "runtime", "_loop.py")


class Closed(BaseException):
    """Raised into workflow code that keeps running after its run was evicted or ended.

    Closing a suspended coroutine runs its ``finally`` blocks; this signal stops
    any durable operation they try, so tearing a run down never runs a step.
    """


@dataclass(frozen=True, slots=True)
class Record:
    """Append an event to the run's log; the engine gives it its sequence number and time."""

    kind: str
    cid: int | None
    name: str | None
    data: str | None


#: What the run context asks to be written: an event, or a store command that goes
#: with the event of the same operation (in the same commit).
Issued = Record | RegisterHook | StartChild | WatchRun


@dataclass(frozen=True, slots=True)
class StartStep:
    cid: int
    step_id: str
    arguments: str
    attempt: int
    at: float | None = None  # epoch seconds to start at (a retry), None for now


@dataclass(frozen=True, slots=True)
class ArmTimer:
    cid: int
    fire_at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    cid: int


Effect = StartStep | ArmTimer | CancelTimer


class RunContext:
    """One run's deterministic state machine."""

    def __init__(
        self,
        *,
        run_id: str,
        workflow_id: str,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        started_at: float,
        attempt: int = 1,
        version: str | None = None,
        base_url: str = "",
        seed: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.workflow_id = workflow_id
        self.started_at = started_at
        self.attempt = attempt
        self.version = version
        self.base_url = base_url
        self.clock = started_at
        self.seed = seed
        self._random: random.Random | None = None  # made on first use (see ``random``)
        # The loop implements what workflow code can reach; the I/O half of
        # AbstractEventLoop stays abstract on purpose (it raises NotImplementedError).
        self.loop = WorkflowLoop(self)  # type: ignore[abstract]
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self.task: asyncio.Task[Any] | None = None

        self.next_cid = 0
        self.commands: list[Issued] = []
        self.effects: list[Effect] = []
        self.futures: dict[int, asyncio.Future[Any]] = {}
        self.step_names: dict[int, str] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self._timer_cids: dict[int, int] = {}  # id(handle) -> cid
        self.failure: NondeterminismError | None = None
        self.finished: tuple[str, str | None] | None = None
        self.cancel_requested = False
        self.closed = False
        # Hooks by correlation id and token; payloads and messages not yet taken.
        self.hooks: dict[int, Inbox] = {}
        self.hook_cids: dict[str, int] = {}
        self.messages: dict[str, Inbox] = {}
        # Child runs by correlation id and run id: the outcome once it arrives.
        self.children: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.child_cids: dict[str, int] = {}

        # Replay state: the operations the log recorded, by correlation id.
        self._recorded: dict[int, Event] = {}
        self._retries: dict[int, tuple[int, float]] = {}

    @property
    def random(self) -> random.Random:
        """The run's seeded generator, seeded on first use: most runs never draw from it,
        and seeding costs ~5 µs."""
        if self._random is None:
            # Runs started before seeds existed replay with the run id alone, as they ran.
            seed = self.run_id if self.seed is None else f"{self.run_id}:{self.seed}"
            self._random = random.Random(seed)
        return self._random

    # -- issuing operations (called from workflow code on the workflow loop) -----

    def issue_step(self, step_id: str, arguments: dict[str, Any]) -> asyncio.Future[Any]:
        if self.closed:
            raise Closed()
        data = _serde.dumps(arguments, where=f"arguments of step {step_id}")
        cid = self._claim(STEP_SCHEDULED, step_id)
        fut = self.loop.create_future()
        self.futures[cid] = fut
        self.step_names[cid] = step_id
        if cid not in self._recorded:
            self.commands.append(Record(STEP_SCHEDULED, cid, step_id, data))
            self.effects.append(StartStep(cid, step_id, data, 1))
        return fut

    def issue_hook(
        self, token: str | None, type_path: str | None = None, webhook: str | None = None
    ) -> tuple[int, str, Inbox]:
        """Create a hook: a durable operation whose token is registered with its commit.
        ``webhook`` (JSON: how its HTTP caller is answered) makes it reachable over HTTP."""
        if self.closed:
            raise Closed()
        if token is None:
            # Drawn from the run's seeded generator: the same token on every replay.
            token = f"hook_{self.random.getrandbits(96):024x}"
        elif not isinstance(token, str) or not token:
            raise ValueError(f"a hook token must be a non-empty string, not {token!r}")
        if token in self.hook_cids:
            raise ValueError(f"this run already created a hook with token {token!r}")
        cid = self._claim(HOOK_CREATED, token)
        inbox = Inbox(self.loop)
        self.hooks[cid] = inbox
        self.hook_cids[token] = cid
        if cid not in self._recorded:
            self.commands.append(Record(HOOK_CREATED, cid, token, None))
            self.commands.append(RegisterHook(self.run_id, token, cid, type_path, webhook))
        return cid, token, inbox

    def issue_child(
        self, workflow_id: str, payload: str, run_id: str | None, wake_at: float
    ) -> tuple[str, asyncio.Future[dict[str, Any]]]:
        """Start a child run: an operation; the child is created with its commit."""
        if self.closed:
            raise Closed()
        if run_id is None:
            run_id = f"{self.run_id}.{self.next_cid}"  # stable across replays
        cid = self._claim(CHILD_STARTED, run_id)
        outcome: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.children[cid] = outcome
        self.child_cids[run_id] = cid
        if cid not in self._recorded:
            data = _serde.dumps({"workflow": workflow_id, "input": payload, "wake_at": wake_at})
            self.commands.append(Record(CHILD_STARTED, cid, run_id, data))
            self.commands.append(
                StartChild(self.run_id, run_id, workflow_id, payload, wake_at, cid)
            )
        return run_id, outcome

    def issue_watch(self, run_id: str) -> asyncio.Future[dict[str, Any]]:
        """Wait for another run to end: an operation; the store tells this run when it
        has (at once if it already had), as it tells a parent of its child's end."""
        if self.closed:
            raise Closed()
        cid = self._claim(RUN_WATCHED, run_id)
        outcome: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.children[cid] = outcome
        if cid not in self._recorded:
            self.commands.append(Record(RUN_WATCHED, cid, run_id, None))
            self.commands.append(WatchRun(self.run_id, run_id, cid))
        return outcome

    def issue_progress(self, message: str) -> None:
        """Record a progress note: an operation (so replay neither repeats nor loses it)."""
        if self.closed:
            raise Closed()
        cid = self._claim(PROGRESS, message)
        if cid not in self._recorded:
            self.commands.append(Record(PROGRESS, cid, message, None))

    def message_inbox(self, name: str) -> Inbox:
        inbox = self.messages.get(name)
        if inbox is None:
            inbox = self.messages[name] = Inbox(self.loop)
        return inbox

    def listening(self) -> bool:
        """Whether the workflow waits on a hook or a message (its status is then waiting)."""
        return any(i.waiters for i in self.hooks.values()) or any(
            i.waiters for i in self.messages.values()
        )

    def issue_timer(self, handle: asyncio.TimerHandle) -> None:
        if self.closed:
            raise Closed()
        cid = self._claim(TIMER_SCHEDULED, "timer")
        self.timers[cid] = handle
        self._timer_cids[id(handle)] = cid
        if cid not in self._recorded:
            when = handle.when()
            self.commands.append(
                Record(TIMER_SCHEDULED, cid, "timer", _serde.dumps({"fire_at": when}))
            )
            self.effects.append(ArmTimer(cid, when))

    def timer_cancelled(self, handle: asyncio.TimerHandle) -> None:
        cid = self._timer_cids.pop(id(handle), None)
        if cid is not None and self.timers.pop(cid, None) is not None:
            self.effects.append(CancelTimer(cid))

    def _claim(self, kind: str, name: str) -> int:
        cid = self.next_cid
        recorded = self._recorded.get(cid)
        if recorded is not None and (
            recorded.kind != kind or not _same_name(kind, recorded.name, name)
        ):
            self._nondeterminism(
                f"operation #{cid}: the log recorded {_describe(recorded.kind, recorded.name)}"
                f" (event {recorded.seq}) but the code now issues {_describe(kind, name)}"
            )
        # An operation past the end of the recorded ones is new work, even while
        # recorded deliveries remain: one commit may hold several completions (or
        # timers), and a crash before the next commit loses the operations that
        # the first of them caused. Every log a crash can leave must resume.
        self.next_cid = cid + 1
        return cid

    def _nondeterminism(self, message: str) -> None:
        where = _user_frame(self.task)
        error = NondeterminismError(
            f"run {self.run_id} ({self.workflow_id}): {message}{where}. The workflow code changed"
            " since this run started, or it is not deterministic; the run's log is kept unchanged"
            " so it can be retried once the code is fixed."
        )
        if self.failure is None:
            self.failure = error
        raise error

    # -- driving ------------------------------------------------------------------

    def start(self) -> None:
        """Create the workflow's main task and run it to its first durable wait."""
        self.task = self.loop.create_task(self._fn(*self._args, **self._kwargs))
        self._run()

    def replay(self, events: Iterable[Event]) -> None:
        """Rebuild the run's state from its committed log (excluding ``run_started``)."""
        log = list(events)
        self._recorded = {e.cid: e for e in log if e.kind in OPERATIONS and e.cid is not None}
        self.start()
        for event in log:
            if self.failure is not None:
                return
            if event.kind in OPERATIONS:
                if event.cid is not None and event.cid >= self.next_cid:
                    if self._raised():
                        # The code raised where the recorded run went on: that
                        # exception (a changed module, say) is the run's failure,
                        # with its own traceback, not a divergence of operations.
                        return
                    try:
                        self._nondeterminism(
                            f"operation #{event.cid}: the log recorded"
                            f" {_describe(event.kind, event.name)} (event {event.seq}) but the code"
                            " did not issue it"
                        )
                    except NondeterminismError:
                        return
            elif event.kind == STEP_RETRYING:
                info = _serde.loads(event.data or "{}")
                if event.cid is not None:
                    self._retries[event.cid] = (int(info["attempt"]), float(info["retry_at"]))
            elif event.kind in DELIVERIES:
                self.deliver(event)
        self._recorded_pending_effects()

    def _raised(self) -> bool:
        """Whether the workflow's main task ended with an exception of its own."""
        task = self.task
        return (
            task is not None
            and task.done()
            and not task.cancelled()
            and (task.exception() is not None)
        )

    def _recorded_pending_effects(self) -> None:
        """After replay: restart steps and re-arm timers the log issued but never finished."""
        for cid, fut in self.futures.items():
            if fut.done() or cid not in self._recorded:
                continue
            recorded = self._recorded[cid]
            retry = self._retries.get(cid)
            if retry is None:
                self.effects.append(StartStep(cid, self.step_names[cid], recorded.data or "{}", 1))
            else:
                attempt, retry_at = retry
                self.effects.append(
                    StartStep(
                        cid, self.step_names[cid], recorded.data or "{}", attempt + 1, retry_at
                    )
                )
        for cid in self.timers:
            timer = self._recorded.get(cid)
            if timer is not None:
                fire_at = float(_serde.loads(timer.data or "{}")["fire_at"])
                self.effects.append(ArmTimer(cid, fire_at))
        self._recorded = {}

    def deliver(self, event: Event) -> None:
        """Hand one committed event to the workflow and run it to quiescence."""
        if event.at > self.clock:
            self.clock = event.at
        handler = _DELIVER.get(event.kind)
        if handler is not None:
            handler(self, event)
        self._run()

    # One method per kind of delivered event (``_DELIVER``); an event for an operation
    # this run no longer waits on (a step of a cancelled branch) changes nothing.

    def _step_completed(self, event: Event) -> None:
        fut = self.futures.pop(event.cid, None) if event.cid is not None else None
        if fut is not None and not fut.done():
            fut.set_result(_serde.loads(event.data or "null"))

    def _step_failed(self, event: Event) -> None:
        fut = self.futures.pop(event.cid, None) if event.cid is not None else None
        if fut is not None and not fut.done():
            fut.set_exception(_step_error(event))

    def _timer_fired(self, event: Event) -> None:
        handle = self.timers.pop(event.cid, None) if event.cid is not None else None
        if handle is not None:
            self._timer_cids.pop(id(handle), None)
            self.loop._fire_timer(handle)

    def _hook_received(self, event: Event) -> None:
        hook = self.hooks.get(event.cid) if event.cid is not None else None
        if hook is not None:
            hook.put(_serde.loads(event.data or "null"))

    def _child_finished(self, event: Event) -> None:
        outcome = self.children.get(event.cid) if event.cid is not None else None
        if outcome is not None and not outcome.done():
            outcome.set_result(_serde.loads(event.data or "{}"))

    def _message_received(self, event: Event) -> None:
        if event.name is not None:
            self.message_inbox(event.name).put(_serde.loads(event.data or "null"))

    def _cancel_requested(self, event: Event) -> None:
        self.cancel_requested = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _run(self) -> None:
        self.loop.run_ready()
        task = self.task
        if task is None or not task.done() or self.finished is not None or self.failure is not None:
            return
        if task.cancelled():
            self.finished = (RUN_CANCELLED, None)
            return
        exc = task.exception()
        if exc is not None:
            self.finished = (RUN_FAILED, _serde.dumps(_serde.encode_exception(exc)))
            return
        try:
            data = _serde.dumps(task.result(), where=f"result of workflow {self.workflow_id}")
        except SerializationError as err:
            self.finished = (RUN_FAILED, _serde.dumps(_serde.encode_exception(err)))
            return
        self.finished = (RUN_COMPLETED, data)

    # -- queries for the engine -------------------------------------------------------

    def steps_in_flight(self) -> int:
        return sum(1 for fut in self.futures.values() if not fut.done())

    def take(self) -> tuple[list[Issued], list[Effect]]:
        commands, effects = self.commands, self.effects
        self.commands, self.effects = [], []
        return commands, effects

    def close(self) -> None:
        """Tear down the run's coroutines without letting them issue operations."""
        if self.closed:
            return
        self.closed = True
        tasks = [task for task in self.loop.tasks if not task.done()]
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(self.loop)
        try:
            for task in tasks:
                task._log_destroy_pending = False  # type: ignore[attr-defined]
                # A finally block that tried to keep working raises here; it is abandoned.
                with contextlib.suppress(BaseException):
                    task.get_coro().close()
        finally:
            asyncio.events._set_running_loop(previous)
        self.loop.close()
        self.futures.clear()
        self.timers.clear()


class Inbox:
    """Payloads delivered to a hook or a message name, handed out in arrival order."""

    __slots__ = ("items", "loop", "waiters")

    def __init__(self, loop: WorkflowLoop) -> None:
        self.loop = loop
        self.items: collections.deque[Any] = collections.deque()
        self.waiters: collections.deque[asyncio.Future[Any]] = collections.deque()

    def put(self, item: Any) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        self.items.append(item)

    async def get(self) -> Any:
        if self.items:
            return self.items.popleft()
        waiter: asyncio.Future[Any] = self.loop.create_future()
        self.waiters.append(waiter)
        try:
            return await waiter
        finally:
            if waiter in self.waiters:
                self.waiters.remove(waiter)


#: How a nondeterminism message names each kind of operation (``{name}``: its name).
_OPERATION_NAMES: dict[str, str] = {
    STEP_SCHEDULED: "step {name}",
    TIMER_SCHEDULED: "a timer (sleep or timeout)",
    HOOK_CREATED: "hook {name!r}",
    PROGRESS: "progress note {name!r}",
    CHILD_STARTED: "child run {name!r}",
    RUN_WATCHED: "a wait for run {name!r}",
}


def _describe(kind: str, name: str | None) -> str:
    template = _OPERATION_NAMES.get(kind)
    if template is None:
        return f"{kind} {name or ''}".strip()
    return template.format(name=name)


def _user_frame(task: asyncio.Task[Any] | None) -> str:
    """Where the workflow issued the operation, in the user's code.

    The stack is walked only up to the run loop's ``run_ready``: above it are the
    engine and whatever drives it (a CLI, a test runner), never the workflow. A
    compiled step calls ``__wf__.call_step`` from its own first line, so the frame
    right above that call is the step itself; the call site is above it. When wf's
    own helpers issued the operation from their tasks (``wf.map``, ``wf.race``), the
    user's line is where the workflow's main task awaits them.
    """
    frame = sys._getframe(2)
    skip_step_frame = False
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        if filename == _LOOP_FILE and code.co_name == "run_ready":
            break
        if _is_internal(filename):
            skip_step_frame = skip_step_frame or code.co_name == "call_step"
        elif skip_step_frame:
            skip_step_frame = False
        else:
            return f", at {filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return _await_site(task)


def _await_site(task: asyncio.Task[Any] | None) -> str:
    """The innermost user frame of the coroutines the main task is suspended in."""
    where = ""
    awaitable: Any = task.get_coro() if task is not None else None
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            break
        if not _is_internal(frame.f_code.co_filename):
            where = f", at {frame.f_code.co_filename}:{frame.f_lineno}"
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return where


def _is_internal(filename: str) -> bool:
    return filename.startswith((_WF_DIR, _ASYNCIO_DIR)) or "<frozen" in filename


def _same_name(kind: str, recorded: str | None, name: str) -> bool:
    """Whether the log's name of an operation is ``name``; a step recorded under a
    legacy name of a built-in step (``wf.runtime._builtin:send``) is its stable one."""
    if recorded == name:
        return True
    return kind == STEP_SCHEDULED and recorded is not None and canonical(recorded) == name


def _step_error(event: Event) -> BaseException:
    info = _serde.loads(event.data or "{}")
    error = info.get("error", {})
    rebuilt = _serde.decode_exception(error)
    if rebuilt is not None:
        return rebuilt
    return StepFailedError(
        event.name or "?",
        type_name(str(error.get("type", "Exception"))),
        str(error.get("message", "")),
        str(error.get("traceback", "")),
    )


#: How each kind of delivered event reaches the workflow (``RunContext.deliver``).
_DELIVER: dict[str, Callable[[RunContext, Event], None]] = {
    STEP_COMPLETED: RunContext._step_completed,
    STEP_FAILED: RunContext._step_failed,
    TIMER_FIRED: RunContext._timer_fired,
    HOOK_RECEIVED: RunContext._hook_received,
    CHILD_FINISHED: RunContext._child_finished,
    MESSAGE_RECEIVED: RunContext._message_received,
    CANCEL_REQUESTED: RunContext._cancel_requested,
}
