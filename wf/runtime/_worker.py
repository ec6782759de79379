"""The worker half of the engine: claiming due runs, reading their inboxes, keeping leases,
leaving runs it cannot execute, and stopping when its database file goes away.

A mixin of ``EngineCore`` (which holds the state and the run machinery these
methods drive); kept apart so each module reads in one sitting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import NoReturn, Protocol

from wf._errors import StoreError, WorkflowError
from wf.runtime import _serde
from wf.runtime._clock import Clock
from wf.runtime._events import (
    CANCEL_REQUESTED,
    CHILD_FINISHED,
    HOOK_RECEIVED,
    MESSAGE_RECEIVED,
    RUN_STARTED,
    Event,
)
from wf.runtime._live import Live
from wf.store._commands import Batch, ConsumeInbox, UpdateRun
from wf.store._faults import BROKEN, REFUSED, Backoff
from wf.store._protocol import InboxKind, RunRecord, Store, local_owner_gone

__all__ = ["WorkerMixin"]

log = logging.getLogger("wf")


class _Engine(Protocol):
    """What the worker methods use of the engine they are mixed into."""

    store: Store
    worker_id: str
    concurrency: int
    lease: float
    poll_interval: float
    clock: Clock
    _runs: dict[str, Live]
    _batch: Batch
    _after: list[Callable[[], None]]
    _wakeup: asyncio.Event
    _inbox_taken: set[int]
    _leases_safe_until: float
    _tasks: list[asyncio.Task[None]]
    _shut: bool
    leave_for: float
    leave_max: float
    _left: dict[str, tuple[float, float]]
    failure: StoreError | None
    _stopped: asyncio.Future[StoreError] | None

    def _activate(self, record: RunRecord, events: list[Event]) -> None: ...
    def _forget(self, live: Live) -> None: ...
    def _record_failure(self, run_id: str, exc: BaseException) -> None: ...
    def _notify(self, run_id: str) -> None: ...
    def _kick(self) -> None: ...
    def _maybe_evict(self, live: Live) -> None: ...
    def _append_delivery(
        self, live: Live, kind: str, cid: int | None, name: str | None, data: str | None
    ) -> Event: ...
    async def _claim_some(self) -> int: ...
    async def _resume(self, record: RunRecord, events: list[Event]) -> None: ...
    async def _cannot_resume(self, run_id: str, exc: Exception) -> None: ...
    async def _read_inbox(self) -> None: ...
    async def _reap_dead_owners(self) -> None: ...
    def _excluded(self, now: float) -> list[str]: ...
    def _stop_worker(self, exc: StoreError) -> None: ...
    def _broken(self, exc: Exception) -> bool: ...


class WorkerMixin:
    """Polls for due runs and inbox items, renews leases, reaps dead local workers."""

    failure: StoreError | None
    _stopped: asyncio.Future[StoreError] | None

    async def _poller(self: _Engine) -> None:
        reap_every = max(1, int(2.0 / self.poll_interval))
        check_every = max(1, int(1.0 / self.poll_interval))
        rounds = 0
        polling = Backoff("polling the database for due runs")
        reaping = Backoff("looking for leases of dead workers")
        while True:
            if rounds % check_every == 0:
                try:
                    await self.store.check_database()
                except StoreError as exc:
                    self._stop_worker(exc)
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
                await asyncio.sleep(max(polling.failed(exc), self.poll_interval))
                continue
            if polling.failures:
                polling.succeeded()
            if claimed and len(self._runs) < self.concurrency:
                await asyncio.sleep(0)
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
            # cancellation from close() when the event was just set (gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wakeup.wait()
            self._wakeup.clear()

    async def _claim_some(self: _Engine) -> int:
        free = self.concurrency - len(self._runs)
        if free <= 0:
            return 0
        now = self.clock.now()
        records = await self.store.claim(self.worker_id, free, now, self.lease, self._excluded(now))
        if not records:
            return 0
        failed: Exception | None = None
        for record in records:
            if record.run_id in self._runs:
                continue
            if failed is None:
                try:
                    events = await self.store.load_events(record.run_id)
                except Exception as exc:
                    if self.store.classify(exc).kind == REFUSED:
                        await self._cannot_resume(record.run_id, exc)  # its log is unreadable
                        continue
                    failed = exc  # the database failed, not the run
                else:
                    await self._resume(record, events)
                    continue
            # Given back, for a later poll or another worker: held by no one in memory,
            # its lease would be renewed forever.
            self._batch.add(UpdateRun(record.run_id, status="pending", release=True))
            self._kick()
        try:
            if failed is None:
                await self._read_inbox()
        finally:
            # An inbox not read now is read by the next poll; a run evicted meanwhile is
            # woken again by what waits in its inbox.
            for record in records:
                live = self._runs.get(record.run_id)
                if live is not None and live.resuming:
                    live.resuming = False
                    self._maybe_evict(live)
        if failed is not None:
            raise failed
        return len(records)

    async def _resume(self: _Engine, record: RunRecord, events: list[Event]) -> None:
        """Bring a run this worker holds into memory and replay it from ``events``."""
        try:
            self._activate(record, events)
        except Exception as exc:
            await self._cannot_resume(record.run_id, exc)

    async def _cannot_resume(self: _Engine, run_id: str, exc: Exception) -> None:
        # Its code or its log cannot be used (module gone, corrupt input): failing it
        # says so, instead of handing it from worker to worker forever. Recorded by the
        # group commit, which retries it if the database fails meanwhile.
        log.exception("wf: cannot resume run %s", run_id)
        live = self._runs.pop(run_id, None)
        if live is not None:
            self._forget(live)
        self._record_failure(run_id, exc)

    def _leave(self: _Engine, record: RunRecord, reason: str) -> None:
        """Give a claimed run back for a worker that can execute it, with ``reason`` as
        its note, and claim it no sooner than ``leave_for`` seconds (doubled each time
        it is left again): other workers get it, and this one does not loop on it."""
        now = self.clock.now()
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
        self._batch.add(
            UpdateRun(
                record.run_id,
                # Due as before, held by nobody: pending, as a run waiting for a worker is.
                status="pending",
                error=_serde.dumps(_serde.encode_exception(note)),
                release=True,
            )
        )
        self._kick()

    def _excluded(self: _Engine, now: float) -> list[str]:
        """The runs this worker left and must not claim yet."""
        if not self._left:
            return []
        # A run left long ago (done elsewhere since, most likely) starts afresh.
        for run_id in [r for r, (until, _) in self._left.items() if until + self.leave_max < now]:
            del self._left[run_id]
        return [run_id for run_id, (until, _) in self._left.items() if until > now]

    def _cannot_import(self: _Engine, workflow_id: str, exc: Exception) -> str:
        module, _, qualname = workflow_id.partition(":")
        cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
        if isinstance(cause, AttributeError):
            return f"worker {self.worker_id}: module {module!r} has no {qualname!r}"
        return (
            f"worker {self.worker_id} cannot import module {module!r}:"
            f" {type(cause).__name__}: {cause}"
        )

    def _broken(self: _Engine, exc: Exception) -> bool:
        """Whether ``exc`` says the database cannot be written at all (read-only, full,
        not a database any more): then the worker has stopped."""
        fault = self.store.classify(exc)
        if fault.kind != BROKEN:
            return False
        self._stop_worker(StoreError(fault.message))
        return True

    def _stop_worker(self: _Engine, exc: StoreError) -> None:
        """Stop working on a database this worker cannot use any more (its file was
        removed or replaced, it became read-only or full): nothing more is claimed,
        renewed or committed, and runs in memory are dropped (their steps are
        cancelled); ``wait_stopped`` raises ``exc``."""
        if self.failure is not None:
            return
        self.failure = exc
        self._shut = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for live in list(self._runs.values()):
            self._forget(live)
        self._runs.clear()
        self._batch = Batch()
        self._after.clear()
        if self._stopped is not None:
            if not self._stopped.done():
                self._stopped.set_result(exc)
        else:
            log.error("wf: the worker stopped: %s", exc)

    async def wait_stopped(self: _Engine) -> NoReturn:
        """Wait while the worker runs; raise the ``StoreError`` that stopped it (its
        database file was removed or replaced). ``wf worker`` waits here."""
        if self.failure is not None:
            raise self.failure
        stopped = self._stopped
        if stopped is None:
            stopped = self._stopped = asyncio.get_running_loop().create_future()
        raise await stopped

    async def adopt_new_run(
        self: _Engine, run_id: str, workflow_id: str, payload: str, created_at: float
    ) -> None:
        """Run a run this engine just created already leased to itself (``Engine.start``
        with room to spare): no claim, no log to load, no wait for the next poll."""
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
        await self._resume(record, [Event(0, RUN_STARTED, None, workflow_id, payload, created_at)])
        live = self._runs.get(run_id)
        if live is not None and live.resuming:
            live.resuming = False  # a new run has nothing in its inbox yet
            self._maybe_evict(live)

    async def _read_inbox(self: _Engine) -> None:
        items = await self.store.inbox(self.worker_id)
        # An item taken here is deleted by the next commit; until then a second read
        # still returns it, and it must not be delivered twice.
        self._inbox_taken &= {item.id for item in items}
        for item in items:
            live = self._runs.get(item.run_id)
            if live is None or item.id in self._inbox_taken:
                continue
            self._inbox_taken.add(item.id)
            if item.kind == InboxKind.CANCEL and not live.ctx.cancel_requested:
                live.ctx.cancel_requested = True
                self._append_delivery(live, CANCEL_REQUESTED, None, None, item.data)
            elif item.kind == InboxKind.HOOK and item.name in live.ctx.hook_cids:
                cid = live.ctx.hook_cids[item.name]
                self._append_delivery(live, HOOK_RECEIVED, cid, item.name, item.data)
            elif item.kind == InboxKind.CHILD and item.name in live.ctx.child_cids:
                cid = live.ctx.child_cids[item.name]
                self._append_delivery(live, CHILD_FINISHED, cid, item.name, item.data)
            elif item.kind == InboxKind.WATCH and _watch_cid(item.name) in live.ctx.children:
                watched = json.loads(item.data or "{}").get("run_id")
                cid = _watch_cid(item.name)
                self._append_delivery(live, CHILD_FINISHED, cid, watched, item.data)
            elif item.kind == InboxKind.MESSAGE:
                self._append_delivery(live, MESSAGE_RECEIVED, None, item.name, item.data)
            elif item.kind != InboxKind.CANCEL:
                log.warning(
                    "wf: run %s has no use for inbox item %s %r; dropped",
                    item.run_id,
                    item.kind,
                    item.name,
                )
            self._batch.add(ConsumeInbox(item.run_id, item.id))
            self._kick()

    def _must_verify(self: _Engine) -> bool:
        return time.time() >= self._leases_safe_until

    async def _heartbeat(self: _Engine) -> None:
        margin = min(1.0, self.lease / 4)
        every = self.lease / 3
        renewing = Backoff("renewing this worker's leases", cap=every)
        while True:
            try:
                renewed_at = time.time()
                held = set(await self.store.renew(self.worker_id, renewed_at, self.lease))
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
            for run_id in [r for r in self._runs if r not in held]:
                log.warning("wf: run %s was taken over by another worker", run_id)
                self._forget(self._runs.pop(run_id))
            self._leases_safe_until = renewed_at + self.lease - margin
            await asyncio.sleep(every)

    async def _reap_dead_owners(self: _Engine) -> None:
        """Expire leases held by worker processes of this host that no longer exist."""
        for owner in await self.store.lease_owners():
            if owner != self.worker_id and local_owner_gone(owner):
                await self.store.expire_owner(owner)


def _watch_cid(name: str | None) -> int:
    """The operation a ``watch`` inbox item answers (its name), or -1 if it names none."""
    return int(name) if name is not None and name.isdigit() else -1
