"""Starting and observing runs: ``wf.Engine``, ``wf.start``, ``wf.get_run``, ``wf.Run``."""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import inspect
import secrets
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, TypeVar, TypeVarTuple, Unpack

from wf._errors import (
    HookNotFoundError,
    RunCancelledError,
    RunFailedError,
    RunIdConflictError,
    RunNotFoundError,
    WorkflowError,
)
from wf._names import type_name
from wf._options import workflow_options
from wf.runtime import _builtin, _serde
from wf.runtime._engine import EngineCore, current_engine_var
from wf.runtime._events import Event
from wf.runtime._limits import check_moment, check_run_id
from wf.runtime._loop import current_loop
from wf.runtime._registry import resolve, workflow_id_of
from wf.runtime._validate import coerce_payload, signature_and_hints, validate_input
from wf.runtime._webhooks import Request, answer_of
from wf.store._protocol import FINISHED, InboxKind, RunRecord

__all__ = [
    "ChildRun",
    "Engine",
    "Run",
    "check_start_options",
    "get_run",
    "resume_hook",
    "send",
    "start",
]

Ts = TypeVarTuple("Ts")
T = TypeVar("T")

_defaults: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Engine] = (
    weakref.WeakKeyDictionary()
)


class Engine(EngineCore):
    """A store plus, by default, an in-process worker. Use it as an async context manager::

        async with wf.Engine("sqlite:///.wf/wf.db") as engine:
            run = await engine.start(process_order, "o-1")
            print(await run.result())

    ``url`` defaults to ``WF_DATABASE_URL``, then ``sqlite:///.wf/wf.db``.
    ``worker=False`` only enqueues and observes (another process executes).
    ``durability="full"`` fsyncs every commit.
    """

    async def __aenter__(self) -> Engine:
        await self.open()
        self._token = current_engine_var.set(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            current_engine_var.reset(self._token)
        except ValueError:
            current_engine_var.set(None)  # exited from another context; still stop being current
        await self.close()

    async def start(
        self,
        fn: Callable[[Unpack[Ts]], Awaitable[T]],
        *args: *Ts,
        run_id: str | None = None,
        start_at: Any = None,
        deadline: Any = None,
        version: str | None = None,
        **kwargs: Any,
    ) -> Run[T]:
        """Start a run of workflow ``fn`` on this engine (see :func:`wf.start`)."""
        workflow_id, call_args, call_kwargs = _checked_call(fn, args, kwargs)
        if run_id is not None:
            check_run_id(run_id)
        now = time.time()
        # The run's secret seed: default hook and webhook tokens and wf.random() derive
        # from it, so they cannot be guessed from the run id (which may be chosen).
        start: dict[str, Any] = {
            "args": list(call_args),
            "kwargs": call_kwargs,
            "seed": secrets.token_hex(16),
        }
        wake_at = _start_time(start_at, now)
        if deadline is not None:
            start["deadline"] = _start_time(deadline, now, what="deadline")
        else:
            _default_deadline(fn, start, wake_at)
        if version is None:
            version = workflow_options(fn).version
        else:
            _check_version(version)
        if version is not None:
            start["version"] = version
        # The arguments sit two levels down: {"args": [...], "kwargs": {...}}.
        payload = _serde.dumps(start, where=f"input of workflow {workflow_id}", nesting_below=2)
        if run_id is None:
            run_id = uuid.uuid4().hex
        await self.open()
        # A worker with room runs a run due now itself: created leased to it, so no
        # claim, log read or poll stands between the start and the first step.
        adopt = (
            self.worker
            and start_at is None
            and not self._closing
            and self.failure is None
            and self.has_room()
        )
        created = await self.store.create_run(
            run_id,
            workflow_id,
            payload,
            now,
            wake_at,
            owner=self.worker_id if adopt else None,
            lease_expires=self.clock.now() + self.lease if adopt else None,
        )
        if not created:
            existing = await self.store.get_run(run_id, now=self.clock.now())
            if existing is not None and existing.workflow_id != workflow_id:
                raise RunIdConflictError(
                    f"run id {run_id!r} is already used by a run of {existing.workflow_id};"
                    f" starting {workflow_id} with it was refused (choose another id)"
                )
        elif adopt:
            await self.adopt_new_run(run_id, workflow_id, payload, now)
            return Run(self, run_id)
        self.poke()
        return Run(self, run_id)

    def get_run(self, run_id: str) -> Run[Any]:
        return Run(self, run_id)

    # -- webhook requests (what the HTTP app asks of the engine) ---------------------

    async def webhook_answer(self, token: str) -> dict[str, Any] | None:
        """How the caller of webhook ``token`` is answered (``mode``, and for a static
        answer the response), or None when no live run holds a webhook with it."""
        await self.open()
        info = await self.store.hook_info(token)
        return None if info is None or info.webhook is None else answer_of(info.webhook)

    async def deliver_webhook_request(self, request: Request) -> str | None:
        """Queue ``request`` for the run holding its webhook; that run's id, or None
        when no live run holds the token any more (nothing is written then)."""
        await self.open()
        run_id = await self.store.post_to_hook(
            request.token, _serde.dumps(request), now=self.clock.now()
        )
        if run_id is not None:
            self.poke()
        return run_id

    async def webhook_response(self, request_id: str) -> tuple[int, str, bytes] | None:
        """The answer a step gave to webhook request ``request_id`` (status, headers as
        JSON, body), taken as it is read; None while no step has answered."""
        return await self.store.take_webhook_response(request_id)

    async def forget_webhook_request(self, request_id: str) -> None:
        """The caller of ``request_id`` stopped waiting: a later answer is not kept."""
        await self.store.discard_webhook_response(request_id, now=self.clock.now())

    async def hook_held(self, token: str) -> bool:
        """Whether a live run holds hook (or webhook) ``token``."""
        return await self.store.hook_info(token) is not None

    # -- reading runs ------------------------------------------------------------------

    async def list_runs(
        self, *, status: str | None = None, workflow: str | None = None, limit: int = 100
    ) -> list[RunRecord]:
        """The newest runs, newest first: all, or those with ``status`` (as it reads now:
        a run whose worker is gone reads ``pending``) and of ``workflow`` (an id, or a
        function name)."""
        await self.open()
        return await self.store.list_runs(
            status=status, workflow=workflow, limit=limit, now=self.clock.now()
        )

    async def resume_hook(self, token: str, payload: Any = None) -> str:
        """Deliver ``payload`` to the run holding hook ``token``; returns that run's id.
        Raises ``wf.HookNotFoundError`` when no live run holds the token."""
        data = _serde.dumps(payload, where=f"payload for hook {token!r}", nesting_below=0)
        await self.open()
        info = await self.store.hook_info(token)
        if info is not None and info.webhook is not None:
            raise ValueError(
                f"hook token {token!r} belongs to a webhook: its requests arrive over HTTP at"
                " its URL (webhook.url), not through resume_hook"
            )
        if info is not None and info.type is not None:
            cls = resolve(info.type)
            try:
                coerce_payload(cls, payload)
            except ValueError as exc:
                raise ValueError(
                    f"payload for hook {token!r} does not fit {cls.__name__}: {exc}"
                ) from None
        run_id = (
            None
            if info is None
            else await self.store.post_to_hook(token, data, now=self.clock.now())
        )
        if run_id is None:
            raise HookNotFoundError(
                f"no live run holds hook token {token!r} (never created, or released when"
                " its run ended)"
            )
        self.poke()
        return run_id

    async def send(self, run_id: str, name: str, payload: Any = None) -> None:
        """Queue message ``name`` for run ``run_id`` (taken by ``wf.receive(name)``)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a message name must be a non-empty string, not {name!r}")
        data = _serde.dumps(payload, where=f"message {name!r}", nesting_below=0)
        record = await self.get_run(run_id).describe()
        if record.status in FINISHED:
            raise WorkflowError(f"run {run_id} already ended ({record.status}); message not sent")
        await self.store.post(run_id, InboxKind.MESSAGE, name, data, now=self.clock.now())
        self.poke()


def _checked_call(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The workflow's id and its arguments, once they fit its signature and its schema
    (``@wf.options(schema=...)``: the one argument becomes an instance of it) or type hints."""
    workflow_id = workflow_id_of(fn)
    schema = workflow_options(fn).schema
    try:
        if schema is not None:
            args, kwargs = _apply_schema(fn, schema, args, kwargs)
        else:
            signature_and_hints(fn)[0].bind(*args, **kwargs)
            validate_input(fn, args, kwargs)
    except TypeError as exc:
        raise TypeError(f"wrong arguments for workflow {workflow_id}: {exc}") from None
    return workflow_id, args, kwargs


def _apply_schema(
    fn: Callable[..., Any], schema: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call with its one argument validated against ``schema`` and made an instance of it."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    if len(params) != 1 or params[0].kind in variadic:
        shown = ", ".join(str(p) for p in params) or "none"
        raise TypeError(
            f"a workflow with schema={schema.__name__} takes exactly one parameter (the input"
            f" to validate), but it takes {shown}"
        )
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    name = params[0].name
    try:
        bound.arguments[name] = coerce_payload(schema, bound.arguments.get(name))
    except ValueError as exc:
        raise TypeError(f"argument {name!r} does not fit {schema.__name__}: {exc}") from None
    return bound.args, bound.kwargs


def _start_time(start_at: Any, now: float, *, what: str = "start_at") -> float:
    """Epoch seconds of ``start_at`` / ``deadline`` (an aware datetime, or a duration
    from ``now``), refused unless it is a real date (1970 to 9999) that every view
    can show."""
    if start_at is None:
        return now
    if isinstance(start_at, _dt.datetime):
        if start_at.tzinfo is None:
            raise ValueError(f"{what} must be a timezone-aware datetime (or a duration from now)")
        return check_moment(start_at.timestamp(), what, start_at)
    from wf.runtime._duration import to_seconds

    try:
        moment = now + to_seconds(start_at)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what}: {exc}") from None
    return check_moment(moment, what, start_at)


def _check_version(version: Any) -> None:
    if not isinstance(version, str) or not version:
        raise ValueError(f"version must be a non-empty string, not {version!r}")


def check_start_options(*, run_id: Any, start_at: Any, deadline: Any, version: Any) -> None:
    """Refuse bad ``wf.start`` options (``ValueError`` / ``TypeError`` naming the option)
    before a run's arguments are looked at: the HTTP API answers these with 400. The
    rules are the ones ``Engine.start`` applies; this only runs them first."""
    if run_id is not None:
        check_run_id(run_id)
    now = time.time()
    _start_time(start_at, now)
    if deadline is not None:
        _start_time(deadline, now, what="deadline")
    if version is not None:
        _check_version(version)


class Run(Generic[T]):
    """A handle on one run, by id. Cheap to create; every method reads the store."""

    def __init__(self, engine: Engine, run_id: str) -> None:
        self._engine = engine
        self.id = run_id

    def __repr__(self) -> str:
        return f"<wf.Run {self.id}>"

    async def describe(self) -> RunRecord:
        """The run's row as it reads now: status, input, result or error, times, lease.
        Raises ``wf.RunNotFoundError`` for an unknown id."""
        await self._engine.open()
        record = await self._engine.store.get_run(self.id, now=self._engine.clock.now())
        if record is None:
            raise RunNotFoundError(f"no run with id {self.id!r} in {self._engine.url}")
        return record

    async def status(self) -> str:
        """One of pending, running, sleeping, waiting, completed, failed, cancelled."""
        return (await self.describe()).status

    async def result(self, timeout: float | None = None) -> T:
        """Wait for the run to end and return its result.

        Raises ``RunFailedError`` or ``RunCancelledError``, and ``TimeoutError``
        when ``timeout`` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        # This engine wakes us the moment it finishes the run; the store is polled
        # for runs another process executes, less and less often (50 ms up to 1 s).
        poll = 0.05
        while True:
            if not self._engine.holds(self.id):
                record = await self.describe()
                if record.status in FINISHED:
                    return _outcome(record)  # type: ignore[no-any-return]
            wait = poll
            poll = min(poll * 1.5, 1.0)
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"run {self.id} did not finish within {timeout} s")
                wait = min(wait, remaining)
            await self._engine.wait_finished(self.id, wait)

    async def retry(self) -> None:
        """Run a failed run again from its log with the current code (after fixing a
        step or a NondeterminismError). Steps whose failure ended the run run again;
        everything before stays as recorded."""
        await self._engine.open()
        await self._engine.store.retry_run(self.id, now=self._engine.clock.now())
        self._engine.poke()

    async def cancel(self) -> None:
        """Ask the run to stop: its workflow sees ``asyncio.CancelledError`` at its next
        durable await, so ``try/finally`` compensation still runs."""
        record = await self.describe()
        if record.status in FINISHED:
            raise WorkflowError(f"run {self.id} already ended ({record.status}); nothing to cancel")
        await self._engine.store.post(
            self.id, InboxKind.CANCEL, None, None, now=self._engine.clock.now()
        )
        self._engine.poke()

    async def events(self, *, after: int = -1) -> AsyncIterator[Event]:
        """The run's log, oldest first; with ``after``, only the events whose ``seq`` is
        greater (to follow a run without reading its log again)."""
        await self.describe()
        for event in await self._engine.store.load_events(self.id, after=after):
            yield event


def _outcome(record: RunRecord) -> Any:
    if record.status == "completed":
        return _serde.loads(record.result or "null")
    if record.status == "cancelled":
        raise RunCancelledError(record.run_id)
    error = _serde.loads(record.error) if record.error else {}
    raise RunFailedError(
        record.run_id, type_name(str(error.get("type", "Exception"))), str(error.get("message", ""))
    )


class ChildRun(Run[T]):
    """A run started from inside a workflow. ``await child.result()`` there is a
    durable wait: it survives crashes and replays, and a failed child raises
    ``wf.RunFailedError`` in the parent, which may catch it."""

    def __init__(self, run_id: str, outcome: asyncio.Future[dict[str, Any]]) -> None:
        self.id = run_id
        self._outcome = outcome

    def __repr__(self) -> str:
        return f"<wf.Run {self.id} (child)>"

    async def result(self, timeout: float | None = None) -> T:
        if current_loop() is None:
            raise WorkflowError("a child run's handle is for the workflow that started it")
        async with asyncio.timeout(timeout):  # on the workflow loop: a durable timer
            outcome = await asyncio.shield(self._outcome)
        return _ended(self.id, outcome)  # type: ignore[no-any-return]

    async def status(self) -> str:
        raise WorkflowError("a child run's status cannot be read from inside a workflow")

    async def describe(self) -> RunRecord:
        raise WorkflowError("a child run's row cannot be read from inside a workflow")

    async def cancel(self) -> None:
        """Ask the child to stop: a durable operation of the parent (a built-in step,
        recorded, never repeated by replay). The child's workflow sees
        ``asyncio.CancelledError`` and ``await handle.result()`` then raises
        ``wf.RunCancelledError``. A child that already ended is left as it is (no error)."""
        loop = current_loop()
        if loop is None:
            raise WorkflowError("a child run's handle is for the workflow that started it")
        await _builtin.call_builtin(loop, _builtin.CANCEL_RUN, {"run_id": self.id})

    async def retry(self) -> None:
        raise WorkflowError("a child run cannot be retried from inside a workflow")

    async def events(self, *, after: int = -1) -> AsyncIterator[Event]:
        raise WorkflowError("a child run's log cannot be read from inside a workflow")
        yield  # pragma: no cover


def _ended(run_id: str, outcome: dict[str, Any]) -> Any:
    """A run's result from its recorded outcome (status, result, error), or its error."""
    status = outcome.get("status")
    if status == "completed":
        return _serde.loads(outcome.get("result") or "null")
    if status == "cancelled":
        raise RunCancelledError(run_id)
    error = _serde.loads(outcome["error"]) if outcome.get("error") else {}
    raise RunFailedError(
        run_id, type_name(str(error.get("type", "Exception"))), str(error.get("message", ""))
    )


class WatchedRun(Run[T]):
    """``wf.get_run(id)`` inside a workflow: another run, observed durably. ``result()``
    is a durable wait, like a child's (the other run's end wakes this one, nothing is
    polled); ``status()`` and ``cancel()`` are built-in steps on the engine executing
    the workflow. Each is recorded once and never repeated by replay."""

    def __init__(self, run_id: str) -> None:
        self.id = run_id

    def __repr__(self) -> str:
        return f"<wf.Run {self.id} (seen from a workflow)>"

    def _loop(self) -> Any:
        loop = current_loop()
        if loop is None:
            raise WorkflowError("this handle was made inside a workflow; use it there")
        return loop

    async def result(self, timeout: float | None = None) -> T:
        waiting = self._loop().ctx.issue_watch(self.id)
        async with asyncio.timeout(timeout):  # on the workflow loop: a durable timer
            outcome = await asyncio.shield(waiting)
        if outcome.get("status") == "missing":
            raise RunNotFoundError(f"no run with id {self.id!r} to wait for")
        return _ended(self.id, outcome)  # type: ignore[no-any-return]

    async def status(self) -> str:
        status: str = await _builtin.call_builtin(
            self._loop(), _builtin.RUN_STATUS, {"run_id": self.id}
        )
        return status

    async def cancel(self) -> None:
        await _builtin.call_builtin(self._loop(), _builtin.CANCEL_RUN, {"run_id": self.id})

    async def retry(self) -> None:
        raise WorkflowError("a run cannot be retried from inside a workflow")

    async def describe(self) -> RunRecord:
        raise WorkflowError("a run's row cannot be read from inside a workflow; use status()")

    async def events(self, *, after: int = -1) -> AsyncIterator[Event]:
        raise WorkflowError("a run's log cannot be read from inside a workflow")
        yield  # pragma: no cover


def _start_child(
    loop: Any,
    fn: Callable[..., Awaitable[T]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    run_id: str | None,
    start_at: Any,
    deadline: Any,
    version: str | None,
) -> ChildRun[T]:
    if version is not None:
        raise WorkflowError("a child run takes its version from its workflow's code")
    workflow_id, args, kwargs = _checked_call(fn, args, kwargs)
    if run_id is not None:
        check_run_id(run_id)  # refused in the workflow, before anything is recorded
    now = loop.time()  # the replayed clock: the same times on every replay
    # Derived from the parent's seed and the operation's position: secret, and the
    # same on every replay of the parent.
    ctx = loop.ctx
    seed = hashlib.sha256(f"{ctx.seed or ctx.run_id}:{ctx.next_cid}".encode()).hexdigest()[:32]
    start: dict[str, Any] = {"args": list(args), "kwargs": kwargs, "seed": seed}
    wake_at = _start_time(start_at, now)
    if deadline is not None:
        start["deadline"] = _start_time(deadline, now, what="deadline")
    else:
        _default_deadline(fn, start, wake_at)
    child_version = workflow_options(fn).version
    if child_version is not None:
        start["version"] = child_version
    payload = _serde.dumps(start, where=f"input of workflow {workflow_id}", nesting_below=2)
    child_id, outcome = loop.ctx.issue_child(workflow_id, payload, run_id, wake_at)
    return ChildRun(child_id, outcome)


def _default_deadline(fn: Callable[..., Any], start: dict[str, Any], starts_at: float) -> None:
    """A workflow's ``@wf.options(timeout=...)``: its deadline, counted from when the run
    starts (``start_at``, else now), unless ``deadline=`` was given."""
    timeout = workflow_options(fn).timeout
    if timeout is not None:
        start["deadline"] = starts_at + timeout


def current_engine() -> Engine:
    """The engine of the innermost ``async with wf.Engine()``, else this loop's default one."""
    engine = current_engine_var.get()
    if isinstance(engine, Engine):
        return engine
    loop = asyncio.get_running_loop()
    engine = _defaults.get(loop)
    if engine is None:
        engine = Engine()
        _defaults[loop] = engine
    return engine


async def start(
    fn: Callable[[Unpack[Ts]], Awaitable[T]],
    *args: *Ts,
    run_id: str | None = None,
    start_at: Any = None,
    deadline: Any = None,
    version: str | None = None,
    **kwargs: Any,
) -> Run[T]:
    """Start a run of a workflow and return its :class:`Run` handle.

    Positional arguments and the result are typed from ``fn`` (a TypeVarTuple:
    ParamSpec would not allow the keyword options after ``*args``).

    ``run_id=`` (keyword) makes the start idempotent: a second start with the
    same id returns the existing run; an id a run of another workflow has raises
    ``wf.RunIdConflictError``. A run id is 1 to 200 characters from ASCII letters,
    digits and ``-_.:@+=`` (``ValueError`` otherwise). ``start_at=`` (an aware
    datetime or a duration) delays it; it and ``deadline=`` must fall between 1970
    and the end of year 9999. Input is checked against the signature, nested at
    most 100 levels deep, and serialized before anything is written.
    """
    loop = current_loop()
    if loop is not None:
        return _start_child(loop, fn, args, kwargs, run_id, start_at, deadline, version)
    return await current_engine().start(
        fn, *args, run_id=run_id, start_at=start_at, deadline=deadline, version=version, **kwargs
    )


async def resume_hook(token: str, payload: Any = None) -> str:
    """Deliver ``payload`` to the run holding hook ``token`` (from any process); returns
    that run's id. Inside a workflow this is a durable operation (a built-in step):
    recorded once, never repeated by replay."""
    loop = current_loop()
    if loop is None:
        return await current_engine().resume_hook(token, payload)
    if not isinstance(token, str) or not token:
        raise ValueError(f"a hook token must be a non-empty string, not {token!r}")
    # Refused before it is issued.
    _serde.dumps(payload, where=f"payload for hook {token!r}", nesting_below=0)
    run_id: str = await _builtin.call_builtin(
        loop, _builtin.RESUME_HOOK, {"token": token, "payload": payload}
    )
    return run_id


async def send(run_id: str, name: str, payload: Any = None) -> None:
    """Send message ``name`` to a run; it waits in the run until ``wf.receive(name)``.
    Inside a workflow this is a durable operation (a built-in step): recorded once,
    never repeated by replay."""
    loop = current_loop()
    if loop is None:
        await current_engine().send(run_id, name, payload)
        return
    if not isinstance(run_id, str) or not run_id:
        raise ValueError(f"a run id must be a non-empty string, not {run_id!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a message name must be a non-empty string, not {name!r}")
    _serde.dumps(payload, where=f"message {name!r}", nesting_below=0)  # refused before it is issued
    await _builtin.call_builtin(
        loop, _builtin.SEND, {"run_id": run_id, "name": name, "payload": payload}
    )


def get_run(run_id: str) -> Run[Any]:
    """A handle on an existing run of the current engine. Inside a workflow, looking at
    it is durable: ``status()`` and ``result()`` are recorded operations of the workflow."""
    if current_loop() is not None:
        return WatchedRun(run_id)
    return current_engine().get_run(run_id)
