"""The engine's sense of time: the real clock, or a virtual one for tests.

Durable timers, retry back-offs, deadlines and wake-ups of evicted runs are
scheduled through the clock, and event timestamps come from it, so a virtual
clock moves a whole run forward (``wf.now()`` included) without waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Clock", "RealClock", "TimerHandle", "VirtualClock"]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float: ...
    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle: ...


class RealClock:
    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, when - time.time()), callback, *args)


class _VirtualTimer:
    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Time that jumps forward when told to, and otherwise follows the real clock.

    It never runs behind real time: the stores stamp requests (a posted message,
    a new run) with the real time, and those must be due at once.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._timers: list[tuple[float, int, _VirtualTimer]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return max(self._now, time.time())

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        timer = _VirtualTimer(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def next_due(self, until: float) -> _VirtualTimer | None:
        """Pop the earliest live timer due by ``until``, moving the clock to its time."""
        while self._timers and self._timers[0][0] <= until:
            when, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self._now = max(self._now, when, time.time())
                return timer
        return None

    def move_to(self, moment: float) -> None:
        self._now = max(self._now, moment, time.time())
