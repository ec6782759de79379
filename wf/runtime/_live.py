"""What the engine keeps per run held in memory, and small helpers of the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

from wf.runtime._clock import TimerHandle
from wf.runtime._context import RunContext

__all__ = ["Live", "Resume", "with_timeout"]


@dataclass(eq=False)
class Live:
    """Engine-side bookkeeping of a run held in memory."""

    ctx: RunContext
    seq: int
    timers: dict[int, TimerHandle] = field(default_factory=dict)
    wake_at: dict[int, float] = field(default_factory=dict)
    steps: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    retries: dict[int, TimerHandle] = field(default_factory=dict)
    undelivered: int = 0
    dropped: bool = False
    deadline: float | None = None
    deadline_timer: TimerHandle | None = None
    # Set while a claimed run is being resumed: it must not be evicted before its
    # inbox (a cancellation, say) has been read.
    resuming: bool = False
    # Hook tokens sent with the current commit: the run stays in memory until that
    # commit says whether another run already held one of them.
    registering: int = 0
    # A run that listens (a hook, a message) and has nothing else to do stays in
    # memory for ``evict_after`` seconds first, so a burst of payloads costs no
    # replay each: the timer that ends the wait, and whether it already ended.
    parked: TimerHandle | None = None
    park_over: bool = False
    # The run ended (its outcome is committed) while steps were running: it acts no
    # more (``dropped``), but those steps finish and their results are recorded,
    # and the run keeps its lease until the last one has.
    draining: bool = False


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
