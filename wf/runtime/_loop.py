"""The deterministic event loop a workflow run executes on.

It does no I/O and never blocks: the runtime pushes one event at a time into
the run and then calls :meth:`WorkflowLoop.run_ready`, which runs callbacks
from a FIFO queue until none is left (quiescence). ``time()`` is the replayed
clock and every ``call_at`` / ``call_later`` is a durable timer issued through
the run context, so ``asyncio.sleep``, ``wait_for`` and ``timeout`` replay
exactly.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from asyncio import events
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple, Unpack

from wf._errors import NotInWorkflowError

if TYPE_CHECKING:
    from wf.runtime._context import RunContext

__all__ = ["WorkflowLoop", "current_loop"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_get_running_loop = events._get_running_loop
_set_running_loop = events._set_running_loop


def current_loop() -> WorkflowLoop | None:
    """The workflow loop running the caller, or None outside a workflow."""
    loop = _get_running_loop()
    return loop if type(loop) is WorkflowLoop else None


class WorkflowLoop(asyncio.AbstractEventLoop):
    """An asyncio loop driven step by step by the runtime, one per run."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._ready: deque[asyncio.Handle] = deque()
        self._running = False
        self._exception_handler: Callable[..., Any] | None = None
        # This run's tasks, for teardown: asyncio.all_tasks() would scan every task
        # of every run in the process, making N evictions cost O(N²).
        self.tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    # -- driving ------------------------------------------------------------

    def run_ready(self) -> None:
        """Run queued callbacks until none is left."""
        previous = _get_running_loop()
        _set_running_loop(self)
        self._running = True
        ready = self._ready
        try:
            while ready:
                handle = ready.popleft()
                if not handle._cancelled:
                    handle._run()
        finally:
            self._running = False
            _set_running_loop(previous)

    # -- scheduling -----------------------------------------------------------

    def time(self) -> float:
        return self.ctx.clock

    def call_soon(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_later(
        self,
        delay: float,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        return self.call_at(self.ctx.clock + delay, callback, *args, context=context)

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        handle = asyncio.TimerHandle(when, callback, args, self, context)
        self.ctx.issue_timer(handle)
        return handle

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        self.ctx.timer_cancelled(handle)

    def _fire_timer(self, handle: asyncio.TimerHandle) -> None:
        if not handle._cancelled:
            self._ready.append(handle)

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)

    def create_task(
        self,
        coro: Coroutine[Any, Any, T] | Generator[Any, None, T],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[T]:
        task = asyncio.Task(coro, loop=self, name=name, context=context)
        self.tasks.add(task)
        return task

    # -- state ------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._running

    def is_closed(self) -> bool:
        return False

    def get_debug(self) -> bool:
        return False

    def set_debug(self, enabled: bool) -> None:
        pass

    def close(self) -> None:
        self._ready.clear()

    def get_exception_handler(self) -> Callable[..., Any] | None:
        return self._exception_handler

    def set_exception_handler(self, handler: Callable[..., Any] | None) -> None:
        self._exception_handler = handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        # An exception nobody retrieved (a race loser that failed, say) has no
        # effect on the run; the real loop's handler would only log it.
        pass

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        if self._exception_handler is not None:
            self._exception_handler(self, context)

    # -- what a workflow may not do ---------------------------------------------

    def _forbidden(self, what: str) -> NotInWorkflowError:
        return NotInWorkflowError(
            f"{what} is not allowed in a workflow body: it is not deterministic on replay."
            ' Move it into a step (a function marked "use step").'
        )

    def call_soon_threadsafe(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        raise self._forbidden("call_soon_threadsafe")

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[Unpack[Ts]], T], *args: *Ts
    ) -> asyncio.Future[T]:
        raise self._forbidden("run_in_executor (threads)")

    def run_forever(self) -> None:
        raise self._forbidden("run_forever")

    def run_until_complete(self, future: Any) -> Any:
        raise self._forbidden("run_until_complete")

    def stop(self) -> None:
        raise self._forbidden("loop.stop")
