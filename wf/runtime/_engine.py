"""The engine: one store, and (by default) a worker that executes runs from it.

Three parts, each in its own module: the committer (``_committer.py``) writes every
command of a loop tick in one transaction; the run host (``_host.py``) holds the runs
in memory and carries each from activation to its end; the worker (``_worker.py``)
claims due runs, reads their inboxes and keeps their leases. ``EngineCore`` builds
them, wires them, and opens and closes them; ``wf.Engine`` is the public face.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import os
import secrets
from typing import NoReturn

from wf._errors import StoreError
from wf.runtime._clock import Clock, RealClock
from wf.runtime._committer import Committer
from wf.runtime._duration import to_seconds
from wf.runtime._host import RunHost, current_engine_var
from wf.runtime._worker import Worker
from wf.store._protocol import Store, display_url, host_id, open_store

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_URL", "EngineCore", "current_engine_var"]

log = logging.getLogger("wf")

DEFAULT_URL = "sqlite:///.wf/wf.db"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class EngineCore:
    """The committer, the run host and the worker over one store."""

    def __init__(
        self,
        url: str | None = None,
        *,
        worker: bool = True,
        concurrency: int = 1000,
        durability: str = "normal",
        lease: float | str | _dt.timedelta = 15.0,
        poll_interval: float = 0.25,
        evict_after: float = 2.0,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        url = url or os.environ.get("WF_DATABASE_URL") or DEFAULT_URL
        self.store: Store = open_store(url, durability=durability)
        #: The database's URL as it may be printed (a password in it hidden).
        self.url = display_url(url)
        self.worker = worker
        self.concurrency = concurrency
        #: Seconds a run survives its worker's death (seconds, a timedelta or "3s").
        self.lease = to_seconds(lease)
        if self.lease <= 0:
            raise ValueError(f"lease must be a positive duration, not {lease!r}")
        self.poll_interval = poll_interval
        self.evict_after = evict_after
        #: Where this deployment's HTTP app is reached; webhook URLs start with it.
        self.base_url = (base_url or os.environ.get("WF_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.clock: Clock = clock or RealClock()
        worker_id = f"{host_id()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wakeup = asyncio.Event()
        self._committer = Committer(self.store, self.clock, worker_id)
        self._host = RunHost(
            self._committer,
            self.clock,
            engine=self,
            concurrency=concurrency,
            evict_after=evict_after,
            base_url=self.base_url,
            poke=self._wakeup.set,
        )
        self._worker = Worker(
            self.store,
            self._committer,
            self._host,
            self.clock,
            worker_id=worker_id,
            lease=self.lease,
            poll_interval=poll_interval,
            wakeup=self._wakeup,
        )
        self._committer.connect(self._host.committed, self._worker.stop)
        self._host.ask_renewal = self._worker.renew_now
        self._closing = False
        self._opened = False

    # Settings that live in a part, and may be changed before (or while) it runs.

    @property
    def worker_id(self) -> str:
        """The lease owner this engine claims and commits as."""
        return self._worker.worker_id

    @worker_id.setter
    def worker_id(self, value: str) -> None:
        self._worker.worker_id = value
        self._committer.owner = value

    @property
    def leave_for(self) -> float:
        """How long this worker leaves a run it cannot execute (another version, a module
        it cannot import) before it claims that run again; doubled each time, up to
        ``leave_max``. Other workers may claim the run at once."""
        return self._worker.leave_for

    @leave_for.setter
    def leave_for(self, value: float) -> None:
        self._worker.leave_for = value

    @property
    def leave_max(self) -> float:
        return self._worker.leave_max

    @leave_max.setter
    def leave_max(self, value: float) -> None:
        self._worker.leave_max = value

    @property
    def failure(self) -> StoreError | None:
        """Why the worker stopped (its database cannot be used any more), if it did."""
        return self._worker.failure

    # -- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        if self._opened:
            return
        await self.store.open()
        self._opened = True
        self._host.open()
        self._committer.open()
        if self.worker:
            self._worker.start()
            await self.store.subscribe(self._heard)

    def _heard(self, notice: str) -> None:
        """Another process told the database's listeners something (see
        ``Store.subscribe``): a run ended, or one became due or has mail."""
        if notice.startswith("end:"):
            self._host.wake_waiters(notice[4:])
        else:
            self._wakeup.set()

    async def close(self) -> None:
        if not self._opened or self._closing:
            return
        self._closing = True
        tasks = [*self._committer.cancel(), *self._worker.cancel(), *self._host.cancel_steps()]
        await asyncio.gather(*tasks, return_exceptions=True)
        # Not into a database that was removed or replaced: nothing more is written.
        await self._committer.close(final=self.failure is None)
        held = self._host.drop_all()
        if self.failure is None and (held or self.worker):
            # Every lease of this worker, not only those of the runs in memory: a claim
            # whose answer the closing cancelled away (a network store finishes it on its
            # own thread) took runs that no one here knows of.
            await self._worker.release(None if self.worker else held)
        self._host.close()
        await self.store.close()
        self._opened = False
        self._closing = False
        # A closed engine opens again as a client only (a ``Run`` handle asked for its
        # status after the ``async with``): a worker started then would never be
        # closed, and would claim runs only to abandon them.
        self.worker = False

    def busy(self) -> bool:
        """Whether anything is under way in memory: a commit pending, a step running,
        an event not yet delivered, a run being resumed (wf.testing waits on it)."""
        return self._committer.pending() or self._host.busy()

    def has_room(self) -> bool:
        """Whether the worker may take one more run into memory."""
        return self._host.room() > 0

    def holds(self, run_id: str) -> bool:
        """Whether this engine is executing the run now (and will notify its waiters)."""
        return self._host.holds(run_id)

    def poke(self) -> None:
        """Wake the poller now (a run was started or became due)."""
        self._wakeup.set()

    async def adopt_new_run(
        self, run_id: str, workflow_id: str, payload: str, created_at: float
    ) -> None:
        """Run a run this engine just created already leased to itself (``Engine.start``
        with room to spare): no claim, no log to load, no wait for the next poll."""
        self._worker.adopt(run_id, workflow_id, payload, created_at)

    async def wait_finished(self, run_id: str, timeout: float) -> None:
        """Wait until ``run_id`` ends (here, or in another process that says so through
        the database) or ``timeout`` passes, whichever first."""
        await self.store.subscribe(self._heard)
        await self._host.wait_finished(run_id, timeout)

    async def wait_stopped(self) -> NoReturn:
        """Wait while the worker runs; raise the ``StoreError`` that stopped it (its
        database file was removed or replaced). ``wf worker`` waits here."""
        await self._worker.wait_stopped()
