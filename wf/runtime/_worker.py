"""The worker: claiming due runs, reading their inboxes, keeping leases, leaving runs it
cannot execute, and stopping when its database can no longer be used.

It reaches the runs in memory only through the run host, and writes only through the
committer. Leases expire if a worker stops heart-beating; a lease held by a dead
process on this host is taken over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, NoReturn

from wf._errors import SerializationError, StoreError, WorkflowError
from wf._options import workflow_options
from wf.runtime import _serde
from wf.runtime._clock import Clock
from wf.runtime._committer import Committer
from wf.runtime._events import RUN_STARTED, Event
from wf.runtime._host import RunHost
from wf.runtime._registry import resolve
from wf.store._commands import ConsumeInbox, UpdateRun
from wf.store._faults import BROKEN, REFUSED, Backoff
from wf.store._protocol import RunRecord, Store, local_owner_gone

__all__ = ["Worker"]

log = logging.getLogger("wf")


class Worker:
    """Polls for due runs and inbox items, renews leases, reaps dead local workers."""

    def __init__(
        self,
        store: Store,
        committer: Committer,
        host: RunHost,
        clock: Clock,
        *,
        worker_id: str,
        lease: float,
        poll_interval: float,
        wakeup: asyncio.Event,
    ) -> None:
        self._store = store
        self._committer = committer
        self._host = host
        self._clock = clock
        self.worker_id = worker_id
        self._lease = lease
        self._poll_interval = poll_interval
        self._wakeup = wakeup
        #: How long this worker leaves a run it cannot execute (another version, a module
        #: it cannot import) before it claims that run again; doubled each time, up to
        #: ``leave_max``. Other workers may claim the run at once.
        self.leave_for = 30.0
        self.leave_max = 600.0
        # run id -> (when this worker may claim it again, the wait that led there).
        self._left: dict[str, tuple[float, float]] = {}
        #: Why the worker stopped (its database cannot be used any more), if it did.
        self.failure: StoreError | None = None
        self._stopped: asyncio.Future[StoreError] | None = None
        self._inbox_taken: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._renew_now = asyncio.Event()

    def renew_now(self) -> None:
        """Renew the leases at once (the run host waits to know which it still holds)."""
        self._renew_now.set()

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._poller(), name="wf-poller"))
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="wf-heartbeat"))

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel the poller and the heartbeat; the tasks to await."""
        for task in self._tasks:
            task.cancel()
        return list(self._tasks)

    async def release(self, run_ids: list[str] | None) -> None:
        """Give up the leases of ``run_ids`` (None: all of this worker's; the engine
        closes), so other workers need not wait for them to expire."""
        try:
            await self._store.release(self.worker_id, run_ids)
        except Exception as exc:
            log.warning(
                "wf: could not release the leases of %s runs (%s: %s); other workers"
                " take them over when the leases expire",
                "its" if run_ids is None else len(run_ids),
                type(exc).__name__,
                exc,
            )

    # -- polling ---------------------------------------------------------------------------

    async def _poller(self) -> None:
        reap_every = max(1, int(2.0 / self._poll_interval))
        check_every = max(1, int(1.0 / self._poll_interval))
        rounds = 0
        polling = Backoff("polling the database for due runs")
        reaping = Backoff("looking for leases of dead workers")
        while True:
            if rounds % check_every == 0:
                try:
                    await self._store.check_database()
                except StoreError as exc:
                    self.stop(exc)
                    return
            if rounds % reap_every == 0:
                try:
                    await self._reap_dead_owners()
                except Exception as exc:
                    if self._broken(exc):
                        return
                    reaping.failed(exc)
                else:
                    if reaping.failures:
                        reaping.succeeded()
            rounds += 1
            try:
                claimed = await self._claim_some()
                await self._read_inbox()
            except Exception as exc:
                if self._broken(exc):
                    return
                # Not sooner than the next poll would have been.
                await asyncio.sleep(max(polling.failed(exc), self._poll_interval))
                continue
            if polling.failures:
                polling.succeeded()
            if claimed and self._host.room() > 0:
                await asyncio.sleep(0)
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
            # cancellation from close() when the event was just set (gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wakeup.wait()
            self._wakeup.clear()

    async def _claim_some(self) -> int:
        free = self._host.room()
        if free <= 0:
            return 0
        now = self._clock.now()
        records = await self._store.claim(
            self.worker_id, free, now, self._lease, self._excluded(now)
        )
        if not records:
            return 0
        failed: Exception | None = None
        for record in records:
            if record.run_id in self._host:
                continue
            if failed is None:
                try:
                    events = await self._store.load_events(record.run_id)
                except Exception as exc:
                    if self._store.classify(exc).kind == REFUSED:
                        self._cannot_resume(record.run_id, exc)  # its log is unreadable
                        continue
                    failed = exc  # the database failed, not the run
                else:
                    self._resume(record, events)
                    continue
            # Given back, for a later poll or another worker: held by no one in memory,
            # its lease would be renewed forever.
            self._committer.add(UpdateRun(record.run_id, status="pending", release=True))
        try:
            if failed is None:
                await self._read_inbox()
        finally:
            # An inbox not read now is read by the next poll; a run evicted meanwhile is
            # woken again by what waits in its inbox.
            for record in records:
                self._host.resumed(record.run_id)
        if failed is not None:
            raise failed
        return len(records)

    def _resume(self, record: RunRecord, events: list[Event]) -> None:
        """Bring a run this worker holds into memory and replay it from ``events``,
        or leave it to a worker that has its code."""
        try:
            try:
                fn = resolve(record.workflow_id)
            except Exception as exc:
                # This worker's code or sys.path lacks the workflow (started from another
                # directory, an older deploy): another worker may have it, so the run is
                # left to it rather than failed.
                self._leave(record, self._cannot_import(record.workflow_id, exc))
                return
            try:
                payload: dict[str, Any] = _serde.loads(record.input)
            except SerializationError as exc:
                if not isinstance(exc.__cause__, ImportError):
                    raise  # a corrupt input: no other worker can do better
                self._leave(
                    record, f"worker {self.worker_id} cannot rebuild the run's input: {exc}"
                )
                return
            version = payload.get("version")
            mine = workflow_options(fn).version
            if version != mine:
                # This worker has other code for the workflow than the run started with:
                # leave the run to a worker that has its version, rather than fail it.
                self._leave(
                    record,
                    f"run {record.run_id} needs version {version!r} of {record.workflow_id};"
                    f" worker {self.worker_id} has version {mine!r}",
                )
                return
            self._host.activate(record, events, fn, payload)
        except Exception as exc:
            self._cannot_resume(record.run_id, exc)

    def _cannot_resume(self, run_id: str, exc: Exception) -> None:
        # Its code or its log cannot be used (module gone, corrupt input): failing it
        # says so, instead of handing it from worker to worker forever. Recorded by the
        # group commit, which retries it if the database fails meanwhile.
        log.exception("wf: cannot resume run %s", run_id)
        self._host.fail(run_id, exc)

    def _leave(self, record: RunRecord, reason: str) -> None:
        """Give a claimed run back for a worker that can execute it, with ``reason`` as
        its note, and claim it no sooner than ``leave_for`` seconds (doubled each time
        it is left again): other workers get it, and this one does not loop on it."""
        now = self._clock.now()
        previous = self._left.get(record.run_id)
        wait = self.leave_for if previous is None else min(2 * previous[1], self.leave_max)
        self._left[record.run_id] = (now + wait, wait)
        log.warning(
            "wf: run %s left for a worker that can run it: %s (this worker looks again in %g s)",
            record.run_id,
            reason,
            wait,
        )
        note = WorkflowError(f"{reason}; left for a worker that can run it")
        self._committer.add(
            UpdateRun(
                record.run_id,
                # Due as before, held by nobody: pending, as a run waiting for a worker is.
                status="pending",
                error=_serde.dumps(_serde.encode_exception(note)),
                release=True,
            )
        )

    def _excluded(self, now: float) -> list[str]:
        """The runs this worker left and must not claim yet."""
        if not self._left:
            return []
        # A run left long ago (done elsewhere since, most likely) starts afresh.
        for run_id in [r for r, (until, _) in self._left.items() if until + self.leave_max < now]:
            del self._left[run_id]
        return [run_id for run_id, (until, _) in self._left.items() if until > now]

    def _cannot_import(self, workflow_id: str, exc: Exception) -> str:
        module, _, qualname = workflow_id.partition(":")
        cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
        if isinstance(cause, AttributeError):
            return f"worker {self.worker_id}: module {module!r} has no {qualname!r}"
        return (
            f"worker {self.worker_id} cannot import module {module!r}:"
            f" {type(cause).__name__}: {cause}"
        )

    def adopt(self, run_id: str, workflow_id: str, payload: str, created_at: float) -> None:
        """Run a run this engine just created already leased to itself: no claim, no log
        to load, no wait for the next poll."""
        record = RunRecord(
            run_id,
            workflow_id,
            "running",
            payload,
            None,
            None,
            created_at,
            created_at,
            created_at,
            self.worker_id,
            1,
        )
        self._resume(record, [Event(0, RUN_STARTED, None, workflow_id, payload, created_at)])
        self._host.resumed(run_id)  # a new run has nothing in its inbox yet

    async def _read_inbox(self) -> None:
        items = await self._store.inbox(self.worker_id)
        # An item taken here is deleted by the next commit; until then a second read
        # still returns it, and it must not be delivered twice.
        taken = self._inbox_taken
        taken &= {item.id for item in items}
        for item in items:
            if item.id in taken or not self._host.receive(item):
                continue
            taken.add(item.id)
            self._committer.add(ConsumeInbox(item.run_id, item.id))

    # -- leases ----------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        margin = min(1.0, self._lease / 4)
        every = self._lease / 3
        renewing = Backoff("renewing this worker's leases", cap=every)
        while True:
            try:
                renewed_at = time.time()
                held = set(await self._store.renew(self.worker_id, renewed_at, self._lease))
            except Exception as exc:
                if self._broken(exc):
                    return
                # Sooner than the next beat: the leases run out meanwhile.
                await asyncio.sleep(renewing.failed(exc))
                continue
            if renewing.failures:
                renewing.succeeded()
            # After a stall, another worker may have taken runs we still hold in
            # memory: drop them before trusting our leases again.
            self._host.retain(held)
            self._committer.trust_leases_until(renewed_at + self._lease - margin)
            # asyncio.timeout, not wait_for (see _poller).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await self._renew_now.wait()
            self._renew_now.clear()

    async def _reap_dead_owners(self) -> None:
        """Expire leases held by worker processes of this host that no longer exist."""
        for owner in await self._store.lease_owners():
            if owner != self.worker_id and local_owner_gone(owner):
                await self._store.expire_owner(owner)

    # -- stopping --------------------------------------------------------------------------

    def _broken(self, exc: Exception) -> bool:
        """Whether ``exc`` says the database cannot be written at all (read-only, full,
        not a database any more): then the worker has stopped."""
        fault = self._store.classify(exc)
        if fault.kind != BROKEN:
            return False
        self.stop(StoreError(fault.message))
        return True

    def stop(self, exc: StoreError) -> None:
        """Stop working on a database this worker cannot use any more (its file was
        removed or replaced, it became read-only or full): nothing more is claimed,
        renewed or committed, and runs in memory are dropped (their steps are
        cancelled); ``wait_stopped`` raises ``exc``."""
        if self.failure is not None:
            return
        self.failure = exc
        self._committer.discard()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._host.drop_all()
        if self._stopped is not None:
            if not self._stopped.done():
                self._stopped.set_result(exc)
        else:
            log.error("wf: the worker stopped: %s", exc)

    async def wait_stopped(self) -> NoReturn:
        """Wait while the worker runs; raise the ``StoreError`` that stopped it."""
        if self.failure is not None:
            raise self.failure
        stopped = self._stopped
        if stopped is None:
            stopped = self._stopped = asyncio.get_running_loop().create_future()
        raise await stopped
