"""The API a workflow body uses: durable sleeps, races, and replay-safe time and randomness."""

from __future__ import annotations

import asyncio
import datetime as _dt
import uuid as _uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from wf._errors import NotInWorkflowError
from wf.runtime import _glue
from wf.runtime._duration import wake_time
from wf.runtime._limits import LATEST, check_moment
from wf.runtime._loop import WorkflowLoop, current_loop

__all__ = ["batch", "map", "now", "progress", "race", "random", "sleep", "sleep_until", "uuid4"]

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
    if not when <= LATEST:  # also NaN: a timer no clock reaches, nor any view can show
        check_moment(when, "wf.sleep()", duration)
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


def progress(message: str) -> None:
    """Record a progress note in the run's log (shown by `wf run` and `wf runs show`).

    A plain call, not awaited. It is an operation of the log: replay checks it
    is issued at the same point and never records it twice.
    """
    loop = current_loop()
    if loop is None:
        raise NotInWorkflowError("wf.progress() can only be called inside a workflow")
    if not isinstance(message, str):
        raise TypeError(f"wf.progress() takes a string, not {type(message).__name__}")
    loop.ctx.issue_progress(message)


def _positive(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return value


async def map(
    items: Iterable[Any],
    fn: Callable[[Any], Awaitable[T]],
    *,
    concurrency: int | None = None,
) -> list[T]:
    """``[await fn(item) for item in items]`` with up to ``concurrency`` calls in flight
    (all at once by default). Results come back in input order; ``fn`` is usually a
    step, so each item is a durable, retried operation. The first failure is
    raised once every call has settled."""
    _require("wf.map()")
    if concurrency is not None:
        _positive("concurrency", concurrency)
    values = list(items)
    limit = asyncio.Semaphore(concurrency) if concurrency is not None else None

    async def one(item: Any) -> T:
        if limit is None:
            return await fn(item)
        async with limit:
            return await fn(item)

    outcomes = await asyncio.gather(*(one(v) for v in values), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes  # type: ignore[return-value]


async def batch(
    items: Iterable[Any],
    fn: Callable[[list[Any]], Awaitable[T]],
    *,
    size: int,
) -> list[T]:
    """Call ``fn`` on consecutive chunks of at most ``size`` items, one chunk after
    another, and return its results in order (one per chunk)."""
    _require("wf.batch()")
    _positive("size", size)
    values = list(items)
    return [await fn(values[i : i + size]) for i in range(0, len(values), size)]
