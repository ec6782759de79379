"""Group commit: every command of every run in a loop tick goes into one ``Batch``,
written with one store call, then what waited for that commit runs.

A store that commits without suspending (SQLite, ``sync_commits``) is flushed from a
loop callback: one loop turn per tick instead of waking a task. Any other store is
flushed by a task awaiting ``store.commit``. A commit that fails is tried again,
before what was added since, after a back-off; a database that cannot be written
at all stops the engine (``on_broken``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from wf._errors import StoreError
from wf.runtime._clock import Clock
from wf.store._commands import Batch, Command, CommitResult
from wf.store._faults import BROKEN, Backoff
from wf.store._protocol import Store

__all__ = ["Committer"]

log = logging.getLogger("wf")


def _unconnected(_: object) -> None:
    raise RuntimeError("the committer is not connected")


class Committer:
    """The tick's batch, what waits for its commit, and when and how it is written."""

    def __init__(self, store: Store, clock: Clock, owner: str) -> None:
        self._store = store
        self._now = clock.now
        #: The lease owner the commits are made as (the engine's worker id).
        self.owner = owner
        self._batch = Batch()
        # One list for good, emptied by each flush: ``after`` is its bound append, so
        # queueing a callback (once per delivered event) is a single C call.
        self._after: list[Callable[[], None]] = []
        #: ``after(callback)``: call ``callback`` once the commands added so far are
        #: committed. Whoever queues one also adds a command (asking for that commit).
        self.after: Callable[[Callable[[], None]], None] = self._after.append
        # Each needs the other (the run host commits through this; this reports to the
        # run host), so these are set by connect() once both exist.
        self._on_result: Callable[[CommitResult], None] = _unconnected
        self._on_broken: Callable[[StoreError], None] = _unconnected
        self._retry = Backoff("committing to the database")
        self._pending = False
        self._dirty = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._commit_sync: Callable[..., CommitResult] | None = None
        self._flusher: asyncio.Task[None] | None = None
        # Set once the last commit was taken (closed, or the database broke): a flush
        # still scheduled on the loop then has nothing to write to and must not try.
        self._shut = False
        # Until this time no other worker can have taken over our runs (every lease we
        # hold was set or renewed since), so commits skip the ownership check.
        self._leases_safe_until = 0.0

    def connect(
        self,
        on_result: Callable[[CommitResult], None],
        on_broken: Callable[[StoreError], None],
    ) -> None:
        """``on_result`` hears every ``CommitResult`` (before the after-commit callbacks
        run); ``on_broken`` is told when the database cannot be written at all."""
        self._on_result = on_result
        self._on_broken = on_broken

    def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._shut = False
        self._commit_sync = self._store.commit_sync if self._store.sync_commits else None
        self._flusher = None  # started by the first write (a client engine never writes)

    # -- what the tick writes --------------------------------------------------------------

    def add(self, command: Command) -> None:
        """Write ``command`` with this tick's commit."""
        self._batch.add(command)
        if not self._pending:
            self._kick()

    def pending(self) -> bool:
        """Whether anything waits to be written or for its commit."""
        return self._pending or bool(self._batch) or bool(self._after)

    def trust_leases_until(self, moment: float) -> None:
        """No other worker can take over this owner's runs before ``moment`` (a wall
        clock time): commits until then skip checking that it still holds them."""
        self._leases_safe_until = moment

    def leases_trusted(self) -> bool:
        """Whether no other worker can have taken over this owner's runs yet (the
        heartbeat renewed every lease less than a lease ago)."""
        return time.time() < self._leases_safe_until

    def _kick(self) -> None:
        """Ask for a flush of the batch at the end of this loop turn."""
        if self._pending or self._shut:
            return
        self._pending = True
        if self._commit_sync is None:
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush_loop(), name="wf-flusher")
            self._dirty.set()
        elif self._loop is not None:
            # Scheduled behind the callbacks already queued, such as the first turn of
            # steps just started, so a step that finishes at once joins this commit.
            self._loop.call_soon(self._flush_now)

    # -- writing it --------------------------------------------------------------------

    def _must_verify(self) -> bool:
        # The wall clock, as the heartbeat judges the leases it renews.
        return time.time() >= self._leases_safe_until

    def _flush_now(self) -> None:
        self._pending = False
        if self._shut:
            return  # closed after its final commit: the runs resume elsewhere
        batch, after = self._batch, self._after[:]
        if not batch and not after:
            return
        self._batch = Batch()
        self._after.clear()
        commit_sync = self._commit_sync
        if commit_sync is None:
            return
        try:
            result = commit_sync(
                batch, self.owner, now=self._now(), verify_owner=self._must_verify()
            )
        except Exception as exc:
            delay = self._failed(exc, batch, after)
            if delay is not None and self._loop is not None:
                # Kicks wait for the retry: a flush is pending until then.
                self._pending = True
                self._loop.call_later(delay, self._flush_now)
            return
        if self._retry.failures:
            self._retry.succeeded()
        self._done(result, after)

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            # One turn of the loop lets steps started by the last deliveries finish
            # into this same transaction.
            await asyncio.sleep(0)
            self._dirty.clear()
            self._pending = False
            batch, after = self._batch, self._after[:]
            if not batch and not after:
                continue
            self._batch = Batch()
            self._after.clear()
            try:
                result = await self._store.commit(
                    batch, self.owner, now=self._now(), verify_owner=self._must_verify()
                )
            except Exception as exc:
                delay = self._failed(exc, batch, after)
                if delay is None:
                    return
                await asyncio.sleep(delay)
                self._dirty.set()
                continue
            if self._retry.failures:
                self._retry.succeeded()
            self._done(result, after)

    def _failed(
        self, exc: Exception, batch: Batch, after: list[Callable[[], None]]
    ) -> float | None:
        """A commit raised ``exc``: the seconds to wait before trying it again, or None
        if the database cannot be written at all (the engine stopped)."""
        fault = self._store.classify(exc)
        if fault.kind == BROKEN:
            self._on_broken(StoreError(fault.message))
            return None
        # Tried again first, before what was added since.
        batch.extend(self._batch)
        self._batch = batch
        self._after[:0] = after
        return self._retry.failed(exc)

    def _done(self, result: CommitResult, after: list[Callable[[], None]]) -> None:
        self._on_result(result)
        for callback in after:
            try:
                callback()
            except Exception:
                log.exception("wf: delivering an event failed")

    # -- the end ---------------------------------------------------------------------

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel the flusher task (unless it is the caller); the tasks to await."""
        if self._flusher is None:
            return []
        tasks = [self._flusher]
        if asyncio.current_task() is not self._flusher:
            self._flusher.cancel()
        return tasks

    def discard(self) -> None:
        """Write nothing more: the database cannot be written (the engine stopped)."""
        self._shut = True
        self.cancel()
        self._batch = Batch()
        self._after.clear()

    async def close(self, *, final: bool) -> None:
        """Take the last commit: what is already decided is written (if ``final``); its
        deliveries happen wherever the runs resume."""
        self._shut = True
        if self._batch and final:
            try:
                await self._store.commit(self._batch, self.owner, now=self._now())
            except Exception:
                log.exception("wf: final commit failed; the affected steps will run again")
