"""Built-in steps: what a workflow body does to other runs (send, resume a hook, cancel
a run, read another run's status).

Inside a workflow, ``wf.send``, ``wf.resume_hook`` and ``ChildRun.cancel`` are
issued as ordinary steps with the ids below, so they go through the log like
any step: the outcome is recorded, replay returns it without acting again, and
a worker that dies mid-call leaves the step to run again (at-least-once, like
every step). They run on the worker executing the run and act through its
engine (``current_engine()`` inside a step is that engine).

A refusal that retrying cannot change (no live run holds the token, the run
already ended, a payload that does not fit a typed hook) fails the step at once:
it is raised as a ``wf.FatalError`` that carries the original error, and the
workflow receives the original error, of its own type. Anything else (a locked
database...) is retried as a step failure is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from wf._errors import FatalError, RunNotFoundError, WorkflowError
from wf.runtime import _serde

__all__ = [
    "CANCEL_RUN",
    "RESUME_HOOK",
    "RUN_STATUS",
    "SEND",
    "call_builtin",
    "cancel_run",
    "resume_hook",
    "run_status",
    "send",
]

# Their step ids: stable names, found through wf._names (never this module's path).
SEND = "wf:send"
RESUME_HOOK = "wf:resume_hook"
CANCEL_RUN = "wf:cancel_run"
RUN_STATUS = "wf:run_status"

#: Errors a built-in step does not retry: the same call would be refused again.
_REFUSALS = (WorkflowError, ValueError, TypeError, LookupError)


def _refused(exc: BaseException) -> FatalError:
    fatal = FatalError(f"{type(exc).__name__}: {exc}")
    fatal.refused = _serde.encode_exception(exc)  # type: ignore[attr-defined]
    return fatal


def _engine() -> Any:
    from wf.runtime._api import current_engine  # _api imports this module

    return current_engine()


async def send(run_id: str, name: str, payload: Any) -> None:
    """Built-in step: queue message ``name`` for run ``run_id``."""
    try:
        await _engine().send(run_id, name, payload)
    except _REFUSALS as exc:
        raise _refused(exc) from exc


async def resume_hook(token: str, payload: Any) -> str:
    """Built-in step: deliver ``payload`` to the run holding hook ``token``; its run id."""
    try:
        run_id: str = await _engine().resume_hook(token, payload)
    except _REFUSALS as exc:
        raise _refused(exc) from exc
    return run_id


async def cancel_run(run_id: str) -> bool:
    """Built-in step: ask run ``run_id`` to stop. True if a cancellation was posted, False
    if the run had already ended (not an error: a parent cannot know that in advance)."""
    from wf.store._protocol import FINISHED, InboxKind

    engine = _engine()
    await engine.open()
    record = await engine.store.get_run(run_id, now=engine.clock.now())
    if record is None:
        raise _refused(WorkflowError(f"no run with id {run_id!r} to cancel"))
    if record.status in FINISHED:
        return False
    await engine.store.post(run_id, InboxKind.CANCEL, None, None, now=engine.clock.now())
    engine.poke()
    return True


async def run_status(run_id: str) -> str:
    """Built-in step: the status of run ``run_id`` now (recorded, so replay sees the same)."""
    engine = _engine()
    await engine.open()
    record = await engine.store.get_run(run_id, now=engine.clock.now())
    if record is None:
        raise _refused(RunNotFoundError(f"no run with id {run_id!r} in {engine.url}"))
    return str(record.status)


async def call_builtin(loop: Any, step_id: str, arguments: dict[str, Any]) -> Any:
    """Issue built-in step ``step_id`` from the running workflow and wait for its outcome;
    a refusal is raised again as the error the step met."""
    future: asyncio.Future[Any] = loop.ctx.issue_step(step_id, arguments)
    try:
        return await future
    except FatalError as exc:
        refused = getattr(exc, "refused", None)
        original = _serde.decode_exception(refused) if isinstance(refused, dict) else None
        if original is None:
            raise
        raise original from None
