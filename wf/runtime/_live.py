"""What the engine keeps per run held in memory, its lifecycle, and small helpers."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

from wf.runtime._clock import TimerHandle
from wf.runtime._context import RunContext

__all__ = ["Live", "Resume", "RunState", "with_timeout"]


class RunState(enum.Enum):
    """Where a run held in memory stands. Its moves are in ``_MOVES``, and only
    ``Live.move`` changes it."""

    #: Claimed (or just started) and replayed, its inbox not read yet: a cancellation
    #: may be waiting there, so it is not evicted.
    RESUMING = "resuming"
    #: Working: delivering, running steps, waiting for timers.
    ACTIVE = "active"
    #: Listening (a hook, a message) with nothing else to do: shown as waiting, kept in
    #: memory until ``evict_after`` passes quietly, so a burst of payloads costs no
    #: replay each.
    PARKED = "parked"
    #: Parked for ``evict_after`` without a payload: evicted as soon as it is idle.
    QUIET = "quiet"
    #: Ended (its outcome is committed) while steps were running: it acts no more, but
    #: those steps finish, their results are recorded, and it keeps its lease until
    #: the last one has.
    DRAINING = "draining"
    #: Out of memory (ended, evicted, failed, taken over): nothing it holds fires.
    DROPPED = "dropped"

    # Enum's own hash is written in Python; members are singletons.
    __hash__ = object.__hash__


RESUMING = RunState.RESUMING
ACTIVE = RunState.ACTIVE
PARKED = RunState.PARKED
QUIET = RunState.QUIET
DRAINING = RunState.DRAINING
DROPPED = RunState.DROPPED

_MOVES: dict[RunState, frozenset[RunState]] = {
    RESUMING: frozenset({ACTIVE, DRAINING, DROPPED}),
    # A parked run may still have a retry due within evict_after: that step can be
    # running when its deadline ends the run, hence PARKED -> DRAINING.
    ACTIVE: frozenset({PARKED, DRAINING, DROPPED}),
    PARKED: frozenset({ACTIVE, QUIET, DRAINING, DROPPED}),
    QUIET: frozenset({ACTIVE, DRAINING, DROPPED}),
    DRAINING: frozenset({DROPPED}),
    DROPPED: frozenset(),
}


@dataclass(eq=False)
class Live:
    """Engine-side bookkeeping of a run held in memory."""

    ctx: RunContext
    seq: int
    state: RunState = RESUMING
    timers: dict[int, TimerHandle] = field(default_factory=dict)
    wake_at: dict[int, float] = field(default_factory=dict)
    steps: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    retries: dict[int, TimerHandle] = field(default_factory=dict)
    # Events appended for it whose delivery waits for their commit.
    undelivered: int = 0
    deadline: float | None = None
    deadline_timer: TimerHandle | None = None
    # Commits under way with hook tokens or children of it: it stays in memory until
    # they say whether another run already held one of the tokens.
    registering: int = 0
    # While PARKED: the timer that ends the quiet wait.
    park_timer: TimerHandle | None = None

    def move(self, to: RunState) -> None:
        """Change state; a move ``_MOVES`` does not list is a bug of the engine."""
        if to not in _MOVES[self.state]:
            raise RuntimeError(f"run {self.ctx.run_id}: no move from {self.state} to {to}")
        self.state = to


async def with_timeout(awaitable: Awaitable[Any], seconds: float) -> Any:
    # asyncio.timeout rather than wait_for, which can lose a cancellation on 3.11.
    async with asyncio.timeout(seconds):
        return await awaitable


class Resume:
    """Carries on a coroutine whose first turn already ran, from inside a task."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self.coro, self.yielded
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value
