"""What a failed store call means, and how background work waits before it tries again.

A store sorts every exception it raises into one of three kinds
(``Store.classify``), and the engine acts on the kind alone:

* ``TRANSIENT``: the same call may well succeed later (a lock another process
  holds too long, an I/O hiccup, a lost connection). The work is kept and
  tried again after an exponential back-off with jitter.
* ``BROKEN``: this database cannot be written by this process at all (read-only,
  disk full, not a database any more). Trying again only fills the log: the
  worker stops, as it does when its database file is removed, and
  ``engine.wait_stopped()`` raises a ``StoreError`` saying why.
* ``REFUSED``: the database refused these particular writes (a constraint, a
  value it cannot store). A group commit that meets one is applied again run
  by run, and only the runs whose writes are refused fail.

``Backoff`` paces one piece of background work that keeps failing (a commit,
a poll, a lease renewal) and logs each streak of failures once: the first
failure with its traceback, a short line every ``every`` failures, and one
when it works again.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Literal

__all__ = ["BROKEN", "REFUSED", "TRANSIENT", "Backoff", "Fault", "FaultKind"]

log = logging.getLogger("wf")

FaultKind = Literal["transient", "broken", "refused"]
TRANSIENT: FaultKind = "transient"
BROKEN: FaultKind = "broken"
REFUSED: FaultKind = "refused"


@dataclass(frozen=True, slots=True)
class Fault:
    """A store exception as the engine sees it: its kind and one sentence for the user."""

    kind: FaultKind
    message: str


class Backoff:
    """Delays between attempts of one failing piece of background work, and its log.

    ``failed`` returns how long to wait before the next attempt: ``first`` seconds,
    doubled with each failure up to ``cap``, each wait drawn at random from its
    upper half (so workers that failed together do not retry together).
    """

    def __init__(
        self, what: str, *, first: float = 0.05, cap: float = 5.0, every: int = 10
    ) -> None:
        self.what = what
        self.first = first
        self.cap = cap
        self.every = every
        #: Failures in a row so far (0: the last attempt worked).
        self.failures = 0
        self._since = 0.0
        self._random = random.Random()

    def failed(self, exc: BaseException) -> float:
        self.failures += 1
        if self.failures == 1:
            self._since = time.monotonic()
            log.warning(
                "wf: %s failed; trying again with back-off: %s: %s",
                self.what,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
        elif self.failures % self.every == 0:
            log.warning(
                "wf: %s still failing (%d attempts over %.1f s): %s: %s",
                self.what,
                self.failures,
                time.monotonic() - self._since,
                type(exc).__name__,
                exc,
            )
        delay = min(self.cap, self.first * 2.0 ** min(self.failures - 1, 30))
        return delay / 2 + self._random.random() * delay / 2

    def succeeded(self) -> None:
        if self.failures:
            log.warning(
                "wf: %s works again after %d failed attempts (%.1f s)",
                self.what,
                self.failures,
                time.monotonic() - self._since,
            )
            self.failures = 0
