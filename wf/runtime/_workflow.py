"""The API a workflow body uses: durable sleeps, races, and replay-safe time and randomness."""

from __future__ import annotations

import asyncio
import datetime as _dt
import uuid as _uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

from wf._errors import NotInWorkflowError
from wf.runtime import _glue
from wf.runtime._duration import wake_time
from wf.runtime._loop import WorkflowLoop, current_loop

__all__ = ["now", "race", "random", "sleep", "sleep_until", "uuid4"]

T = TypeVar("T")


def _require(what: str) -> WorkflowLoop:
    loop = current_loop()
    if loop is None:
        raise NotInWorkflowError(f"{what} can only be awaited inside a workflow")
    return loop


async def sleep(duration: float | int | _dt.timedelta | _dt.datetime | str) -> None:
    """Durable sleep: seconds, a timedelta, an aware datetime or a string such as ``"7 days"``.

    The run is written back to the store while it sleeps (if long enough) and
    resumes on any worker when the time comes.
    """
    loop = _require("wf.sleep()")
    when = wake_time(duration, loop.time())
    fut: asyncio.Future[None] = loop.create_future()
    handle = loop.call_at(when, _resolve, fut)
    try:
        await fut
    finally:
        handle.cancel()


async def sleep_until(moment: _dt.datetime) -> None:
    """Durable sleep until an aware datetime (returns at once if it is past)."""
    if not isinstance(moment, _dt.datetime):
        raise TypeError(f"wf.sleep_until() takes an aware datetime, not {type(moment).__name__}")
    await sleep(moment)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def race(*aws: Awaitable[T]) -> T:
    """Return (or raise) the outcome of the first awaitable to settle.

    The others keep running and their outcomes are discarded. Ties cannot
    happen on replay: events arrive one at a time, in log order.
    """
    _require("wf.race()")
    if not aws:
        raise ValueError("wf.race() needs at least one awaitable")
    futures = [asyncio.ensure_future(a) for a in aws]
    await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    winner = next(f for f in futures if f.done())
    for f in futures:
        if f is not winner:
            f.add_done_callback(_discard)
    return winner.result()


def _discard(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # retrieved, so asyncio does not report it


def now() -> _dt.datetime:
    """The current time as an aware UTC datetime; in a workflow, the replayed clock."""
    loop = current_loop()
    if loop is None:
        return _dt.datetime.now(_dt.UTC)
    return _dt.datetime.fromtimestamp(loop.time(), _dt.UTC)


def random() -> float:
    """A float in [0, 1); in a workflow, from the run's seeded generator."""
    return _glue.rng().random()


def uuid4() -> _uuid.UUID:
    """A random UUID; in a workflow, from the run's seeded generator."""
    return _glue.uuid4()
