"""The SQL base every relational store shares: wf's rules about runs, written once.

What a run's writes mean is decided here, whatever the database: a child's end
queues its outcome for its parent and for the runs waiting on it, a run's end
releases its hooks, a request posted to a sleeping run makes it due, a retry
trims the failure off the log's tail, a webhook answer nobody fetched is dropped
after a day, a hook token held by another live run is reported as a conflict.

The base is three layers: ``_sql_dialect`` (what a dialect provides), ``_sql_reads``
(reads) and this module (the rules, which write). A dialect (``wf.store._sqlite``,
``wf.store._postgres``) says only what differs between databases: how to
connect and migrate, how a write transaction begins, how placeholders are written
(``_x``/``_xmany`` take ``?``), how an error is classified, a few SQL fragments
(``_OWNER_GONE``, ``_GREATEST``, ``_ENDS_WITH``, ``_SKIP_LOCKED``, ``_FOR_SHARE``)
and how a call is run (``_run``: at once on the loop's thread for SQLite, on a
thread of its own for a network database).

The store never reads the time: every method that writes or judges a lease is
given ``now`` by the engine's clock.

Statements are plain DB-API calls on one connection; the rules run inside one
transaction per call, and ``commit_sync`` applies a whole ``Batch`` in one.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from wf._errors import RunNotFoundError, WorkflowError
from wf.runtime._events import (
    RUN_FAILED,
    RUN_STARTED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_RETRYING,
    RunStatus,
)
from wf.store._commands import (
    AppendEvent,
    Batch,
    CommitResult,
    ConsumeInbox,
    RegisterHook,
    StartChild,
    UpdateRun,
    WatchRun,
)
from wf.store._faults import REFUSED
from wf.store._protocol import (
    ACTIVE,
    FINISHED,
    InboxKind,
    RunRecord,
)
from wf.store._sql_dialect import RUN_COLUMNS, Cursor
from wf.store._sql_reads import SQLReads

__all__ = ["Cursor", "SQLStore"]

_ACTIVE_SQL = ", ".join(f"'{s}'" for s in ACTIVE)
_ASLEEP_SQL = f"'{RunStatus.SLEEPING}', '{RunStatus.WAITING}'"
# A request from outside (a post, a hook payload) also makes a pending run due now.
_ASLEEP_OR_PENDING_SQL = f"{_ASLEEP_SQL}, '{RunStatus.PENDING}'"
#: Answers to webhook requests nobody came back for are kept this long (seconds).
_WEBHOOK_ANSWERS_KEPT = 86400.0


class SQLStore(SQLReads):
    """A store on a SQL database; a dialect subclass connects it and fills in the rest."""

    # -- the group commit -----------------------------------------------------------------

    async def commit(
        self, batch: Batch, owner: str, *, now: float, verify_owner: bool = True
    ) -> CommitResult:
        return await self._run(self.commit_sync, batch, owner, now, verify_owner)

    def commit_sync(
        self, batch: Batch, owner: str, now: float, verify_owner: bool = True
    ) -> CommitResult:
        """Apply ``batch`` in one transaction (see ``Store.commit``)."""
        self._x(self._BEGIN)
        try:
            # Runs this owner no longer holds were taken over by another worker: their
            # writes are dropped, so a stale worker never appends into the new owner's
            # log nor consumes its inbox. The check and the writes share one transaction.
            lost = self._lost_runs(batch, owner) if verify_owner else set()
            result = CommitResult(sorted(lost))
            self._apply(batch, owner, lost, now, result.conflicts)
            self._commit_tx()
        except Exception as exc:
            self._rollback()
            if self.classify(exc).kind != REFUSED:
                raise
            return self._commit_by_run(batch, owner, now, verify_owner)
        except BaseException:
            self._rollback()
            raise
        return result

    def _commit_by_run(
        self, batch: Batch, owner: str, now: float, verify_owner: bool
    ) -> CommitResult:
        """Apply ``batch`` again, each run's part under a savepoint of one transaction: a
        part the database refuses is rolled back and reported in ``refused``, the
        others are committed together."""
        refused: dict[str, Exception] = {}
        parts = batch.by_run()
        while True:
            self._x(self._BEGIN)
            try:
                lost = self._lost_runs(batch, owner) if verify_owner else set()
                result = CommitResult(sorted(lost), refused=refused)
                restart = False
                for run_id, part in parts.items():
                    if run_id in refused:
                        continue
                    found: dict[str, str] = {}
                    self._x("SAVEPOINT wf_run")
                    try:
                        self._apply(part, owner, lost, now, found)
                    except Exception as exc:
                        if self.classify(exc).kind != REFUSED:
                            raise
                        refused[run_id] = exc
                        if not self._in_transaction():
                            # The refusal ended the transaction (a trigger's
                            # RAISE(ROLLBACK)): start again without this run.
                            restart = True
                            break
                        self._x("ROLLBACK TO wf_run")
                    else:
                        result.conflicts.update(found)
                    self._x("RELEASE wf_run")
                if restart:
                    continue
                self._commit_tx()
            except BaseException:
                self._rollback()
                raise
            return result

    def _lost_runs(self, batch: Batch, owner: str) -> set[str]:
        run_ids = batch.run_ids()
        if not run_ids:
            return set()
        # One indexed query per commit, however many runs the batch touches.
        held = {
            row[0]
            for row in self._x("SELECT run_id FROM runs WHERE lease_owner = ?", (owner,)).fetchall()
        }
        return run_ids - held

    def _apply(
        self, batch: Batch, owner: str, lost: set[str], now: float, conflicts: dict[str, str]
    ) -> None:
        """Write ``batch`` (but the writes of ``lost`` runs) in the open transaction, one
        handler per command kind, in ``COMMAND_KINDS`` order."""
        if lost:
            kept = Batch()
            for command in batch:
                if command.run_id not in lost:
                    kept.add(command)
            batch = kept
        events = batch.of(AppendEvent)
        if len(batch.of(UpdateRun)) + len(events) == len(batch):
            # The common tick: events, perhaps run changes, nothing else.
            if events:
                self._append_events(events)
            self._update_runs(batch.of(UpdateRun), now)
            return
        self._start_children(batch.of(StartChild), now)
        self._watch_runs(batch.of(WatchRun), now)
        self._register_hooks(batch.of(RegisterHook), now, conflicts)
        self._append_events(events)
        self._consume_inbox(batch.of(ConsumeInbox), owner)
        self._update_runs(batch.of(UpdateRun), now)

    def _start_children(self, commands: list[StartChild], now: float) -> None:
        for child in commands:
            cur = self._x(
                "INSERT INTO runs (run_id, workflow_id, status, input, created_at,"
                " updated_at, wake_at, parent_id) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (
                    child.child_id,
                    child.workflow_id,
                    child.input,
                    now,
                    now,
                    child.wake_at,
                    child.run_id,
                ),
            )
            if cur.rowcount == 1:
                self._x(
                    "INSERT INTO events VALUES (?, 0, ?, NULL, ?, ?, ?)",
                    (child.child_id, RUN_STARTED, child.workflow_id, child.input, now),
                )
                self._notify((child.child_id,))
            else:
                self._child_exists(child, now)

    def _child_exists(self, child: StartChild, now: float) -> None:
        """A workflow started a child with the id of a run that already exists. A run of
        the same workflow is the child (starting with an id is idempotent): the parent
        is told when it ends, as for any run it waits for. A run of another workflow
        is a conflict: the parent's handle fails with ``wf.RunIdConflictError``."""
        row = self._x(
            "SELECT workflow_id, parent_id FROM runs WHERE run_id = ?", (child.child_id,)
        ).fetchone()
        if row[1] == child.run_id:
            return  # created by this very parent earlier: it reports as a child does
        if row[0] == child.workflow_id:
            self._watch(child.child_id, child.run_id, child.cid, now)
            return
        error = {
            "type": "wf:RunIdConflictError",  # a stable name (wf._names)
            "message": (
                f"run id {child.child_id!r} belongs to a run of {row[0]},"
                f" not of {child.workflow_id}"
            ),
        }
        outcome = {"status": "failed", "result": None, "error": json.dumps(error)}
        self._tell_watcher(child.run_id, child.cid, child.child_id, outcome, now)

    def _watch_runs(self, commands: list[WatchRun], now: float) -> None:
        for watch in commands:
            self._watch(watch.watched, watch.run_id, watch.cid, now)

    def _watch(self, watched: str, watcher: str, cid: int, now: float) -> None:
        """Run ``watcher`` waits (operation ``cid``) for run ``watched`` to end: told at
        once if it already has (or never existed), else when it does."""
        row = self._x(
            "SELECT status, result, error FROM runs WHERE run_id = ?", (watched,)
        ).fetchone()
        if row is not None and row[0] not in FINISHED:
            self._x(
                "INSERT INTO watchers (run_id, watcher_id, cid) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (watched, watcher, cid),
            )
            return
        outcome = (
            {"status": "missing"}
            if row is None
            else {"status": row[0], "result": row[1], "error": row[2]}
        )
        self._tell_watcher(watcher, cid, watched, outcome, now)

    def _register_hooks(
        self, commands: list[RegisterHook], now: float, conflicts: dict[str, str]
    ) -> None:
        for hook in commands:
            self._x(
                "INSERT INTO hooks (token, run_id, cid, created_at, type, webhook)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (hook.token, hook.run_id, hook.cid, now, hook.type, hook.webhook),
            )
            holder = self._x("SELECT run_id FROM hooks WHERE token = ?", (hook.token,)).fetchone()
            if holder[0] != hook.run_id:
                conflicts[hook.token] = holder[0]

    def _append_events(self, commands: list[AppendEvent]) -> None:
        if commands:
            self._xmany(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (c.run_id, e.seq, e.kind, e.cid, e.name, e.data, e.at)
                    for c in commands
                    for e in (c.event,)
                ],
            )

    def _consume_inbox(self, commands: list[ConsumeInbox], owner: str) -> None:
        if commands:
            self._xmany(
                "DELETE FROM inbox WHERE id = ?"
                " AND run_id IN (SELECT run_id FROM runs WHERE lease_owner = ?)",
                [(c.item_id, owner) for c in commands],
            )

    def _update_runs(self, commands: list[UpdateRun], now: float) -> None:
        for u in commands:
            sets = ["updated_at = ?"]
            params: list[object] = [now]
            if u.status is not None:
                sets.append("status = ?")
                params.append(u.status)
            if u.result is not None:
                sets.append("result = ?")
                params.append(u.result)
            if u.error is not None:
                sets.append("error = ?")
                params.append(u.error)
            if u.set_wake:
                sets.append("wake_at = ?")
                params.append(u.wake_at)
            if u.release:
                sets.append("lease_owner = NULL, lease_expires = NULL")
            params.append(u.run_id)
            self._x(f"UPDATE runs SET {', '.join(sets)} WHERE run_id = ?", params)
            if u.status in FINISHED:
                self._ended(u.run_id, u.status, u.result, u.error, now)
            if u.release and u.status not in FINISHED:  # an ended run is woken by nothing
                # A request posted while the run was held and not yet read must
                # still wake it once it is released.
                cur = self._x(
                    f"UPDATE runs SET wake_at = ? WHERE run_id = ? AND status IN"
                    f" ({_ACTIVE_SQL}) AND (wake_at IS NULL OR wake_at > ?)"
                    f" AND EXISTS (SELECT 1 FROM inbox WHERE inbox.run_id = runs.run_id)",
                    (now, u.run_id, now),
                )
                if cur.rowcount:
                    self._notify((u.run_id,))

    # -- a run's end -------------------------------------------------------------------

    def _ended(
        self, run_id: str, status: str, result: str | None, error: str | None, now: float
    ) -> None:
        """Run ``run_id`` ended: its hooks and waits are released, its parent and the
        runs waiting for it are told."""
        self._announce_end(run_id)
        self._x("DELETE FROM hooks WHERE run_id = ?", (run_id,))
        self._x("DELETE FROM watchers WHERE watcher_id = ?", (run_id,))
        outcome = {"status": status, "result": result, "error": error}
        row = self._x(
            f"SELECT p.run_id FROM runs r JOIN runs p ON p.run_id = r.parent_id"
            f" WHERE r.run_id = ? AND p.status IN ({_ACTIVE_SQL})",
            (run_id,),
        ).fetchone()
        if row is not None:
            self._to_inbox(row[0], InboxKind.CHILD, run_id, json.dumps(outcome), now)
        watchers = self._x(
            "DELETE FROM watchers WHERE run_id = ? RETURNING watcher_id, cid", (run_id,)
        ).fetchall()
        for watcher, cid in watchers:
            self._tell_watcher(watcher, cid, run_id, outcome, now)

    def _tell_watcher(
        self, watcher: str, cid: int, watched: str, outcome: Mapping[str, object], now: float
    ) -> None:
        data = json.dumps({**outcome, "run_id": watched})
        self._to_inbox(watcher, InboxKind.WATCH, str(cid), data, now)

    def _to_inbox(
        self,
        run_id: str,
        kind: str,
        name: str | None,
        data: str | None,
        now: float,
        *,
        statuses: str = _ASLEEP_SQL,
    ) -> None:
        """Queue an item for run ``run_id``, and make the run due if it is written back
        (in one of ``statuses``) and no worker holds it. Either way a worker must act:
        the one holding the run reads its inbox, or one claims it."""
        if self._FOR_SHARE:
            # The worker holding the run may be releasing it at this very moment (an
            # eviction): its release makes the run due if an item is waiting, but cannot
            # see this one before we commit, and the wake-up below cannot see the
            # release before it commits; without a lock both miss, and the run waits
            # forever with its item unread. Holding the row makes the release wait for
            # our commit (it then sees the item), or us wait for the release's commit
            # (the wake-up then sees the run released).
            self._x(f"SELECT 1 FROM runs WHERE run_id = ?{self._FOR_SHARE}", (run_id,))
        self._x(
            "INSERT INTO inbox (run_id, kind, name, data, at) VALUES (?, ?, ?, ?, ?)",
            (run_id, kind, name, data, now),
        )
        self._x(
            f"UPDATE runs SET wake_at = ? WHERE run_id = ? AND lease_owner IS NULL"
            f" AND status IN ({statuses})",
            (now, run_id),
        )
        self._notify((run_id,))

    # -- runs ------------------------------------------------------------------------------

    async def create_run(
        self,
        run_id: str,
        workflow_id: str,
        input: str,
        now: float,
        wake_at: float,
        *,
        owner: str | None = None,
        lease_expires: float | None = None,
    ) -> bool:
        return await self._run(
            self._write,
            self._create_run,
            run_id,
            workflow_id,
            input,
            now,
            wake_at,
            owner,
            lease_expires,
        )

    def _create_run(
        self,
        run_id: str,
        workflow_id: str,
        input: str,
        now: float,
        wake_at: float,
        owner: str | None,
        lease_expires: float | None,
    ) -> bool:
        status = RunStatus.PENDING if owner is None else RunStatus.RUNNING
        cur = self._x(
            "INSERT INTO runs (run_id, workflow_id, status, input, created_at,"
            " updated_at, wake_at, lease_owner, lease_expires)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (run_id, workflow_id, str(status), input, now, now, wake_at, owner, lease_expires),
        )
        if cur.rowcount != 1:
            return False
        self._x(
            "INSERT INTO events VALUES (?, 0, ?, NULL, ?, ?, ?)",
            (run_id, RUN_STARTED, workflow_id, input, now),
        )
        if owner is None:
            self._notify((run_id,))
        return True

    async def retry_run(self, run_id: str, *, now: float) -> list[int]:
        return await self._run(self._write, self._retry_run, run_id, now)

    def _retry_run(self, run_id: str, now: float) -> list[int]:
        row = self._x(
            "SELECT status, lease_owner, lease_expires FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in {self.url}")
        if row[0] != RunStatus.FAILED:
            raise WorkflowError(f"run {run_id} is {row[0]}: only a failed run can be retried")
        if row[1] is not None and (row[2] or 0) > now:
            raise WorkflowError(
                f"run {run_id} is still finishing the steps that were running when it"
                " failed; retry it once they have ended"
            )
        tail = self._x(
            "SELECT seq, kind FROM events WHERE run_id = ? ORDER BY seq DESC", (run_id,)
        ).fetchall()
        dropped = _failure_tail(tail)
        self._xmany(
            "DELETE FROM events WHERE run_id = ? AND seq = ?", [(run_id, s) for s in dropped]
        )
        self._x(
            "UPDATE runs SET status = 'pending', error = NULL, result = NULL, wake_at = ?,"
            " updated_at = ?, lease_owner = NULL, lease_expires = NULL,"
            " attempt = attempt + 1 WHERE run_id = ?",
            (now, now, run_id),
        )
        self._notify((run_id,))
        return dropped

    async def fail_run(self, run_id: str, owner: str, error: str, *, now: float) -> None:
        await self._run(self._write, self._fail_run, run_id, owner, error, now)

    def _fail_run(self, run_id: str, owner: str, error: str, now: float) -> None:
        cur = self._x(
            "UPDATE runs SET status = 'failed', error = ?, updated_at = ?, lease_owner = NULL,"
            " lease_expires = NULL, wake_at = NULL WHERE run_id = ? AND lease_owner = ?",
            (error, now, run_id, owner),
        )
        if cur.rowcount == 1:
            self._ended(run_id, RunStatus.FAILED, None, error, now)

    # -- leases --------------------------------------------------------------------------

    async def claim(
        self, owner: str, limit: int, now: float, lease: float, exclude: Collection[str] = ()
    ) -> list[RunRecord]:
        return await self._run(self._claim, owner, limit, now, lease, tuple(exclude))

    def _claim(
        self, owner: str, limit: int, now: float, lease: float, exclude: tuple[str, ...]
    ) -> list[RunRecord]:
        # Runs this worker left (it cannot execute them) stay due for the others.
        skip = f" AND run_id NOT IN ({', '.join('?' * len(exclude))})" if exclude else ""
        due = (
            f"status IN ({_ACTIVE_SQL}) AND wake_at <= ?"
            # Not our own expired leases: a worker whose heartbeat stalled must not
            # renew its runs by claiming them again while another takes them over.
            f" AND (lease_owner IS NULL OR (lease_expires < ? AND lease_owner != ?)){skip}"
        )
        # Most polls find nothing due: a read answers that without taking the write
        # lock, which every worker process and every commit contends for.
        if (
            self._x(
                f"SELECT 1 FROM runs WHERE {due} LIMIT 1", (now, now, owner, *exclude)
            ).fetchone()
            is None
        ):
            return []

        def take() -> list[Any]:
            return self._x(
                # error: the note of a worker that left the run; whoever holds it now
                # is not that worker (it never claims a run it left).
                f"UPDATE runs SET lease_owner = ?, lease_expires = ?, status = 'running',"
                f" updated_at = ?, error = NULL WHERE run_id IN (SELECT run_id FROM runs"
                f" WHERE {due} ORDER BY wake_at LIMIT ?{self._SKIP_LOCKED})"
                f" RETURNING {RUN_COLUMNS}",
                (owner, now + lease, now, now, now, owner, *exclude, limit),
            ).fetchall()

        # UPDATE ... RETURNING gives its rows in no particular order: earliest due first.
        return sorted((RunRecord(*row) for row in self._write(take)), key=_due)

    async def renew(self, owner: str, now: float, lease: float) -> list[str]:
        return await self._run(self._renew, owner, now, lease)

    def _renew(self, owner: str, now: float, lease: float) -> list[str]:
        rows = self._x(
            "UPDATE runs SET lease_expires = ? WHERE lease_owner = ? RETURNING run_id",
            (now + lease, owner),
        ).fetchall()
        return [row[0] for row in rows]

    async def release(self, owner: str, run_ids: Sequence[str] | None) -> None:
        await self._run(
            self._write, self._release, owner, None if run_ids is None else list(run_ids)
        )

    def _release(self, owner: str, run_ids: list[str] | None) -> None:
        update = (
            "UPDATE runs SET lease_owner = NULL, lease_expires = NULL,"
            " status = CASE status WHEN 'running' THEN 'pending' ELSE status END"
            " WHERE lease_owner = ?"
        )
        if run_ids is None:
            if self._x(update, (owner,)).rowcount:
                self._notify(())
            return
        self._xmany(f"{update} AND run_id = ?", [(owner, r) for r in run_ids])
        self._notify(run_ids)

    async def expire_owner(self, owner: str) -> None:
        await self._run(
            lambda: self._x("UPDATE runs SET lease_expires = 0 WHERE lease_owner = ?", (owner,))
        )

    async def lease_owners(self) -> list[str]:
        rows = await self._run(
            lambda: self._x(
                "SELECT DISTINCT lease_owner FROM runs WHERE lease_owner IS NOT NULL"
            ).fetchall()
        )
        return [r[0] for r in rows]

    # -- the inbox ----------------------------------------------------------------------------

    async def post(
        self, run_id: str, kind: str, name: str | None, data: str | None, *, now: float
    ) -> None:
        await self._run(
            self._write,
            lambda: self._to_inbox(run_id, kind, name, data, now, statuses=_ASLEEP_OR_PENDING_SQL),
        )

    # -- hooks and webhook answers -------------------------------------------------------------

    async def post_to_hook(self, token: str, data: str | None, *, now: float) -> str | None:
        return await self._run(self._write, self._post_to_hook, token, data, now)

    def _post_to_hook(self, token: str, data: str | None, now: float) -> str | None:
        row = self._x("SELECT run_id FROM hooks WHERE token = ?", (token,)).fetchone()
        if row is None:
            return None
        run_id = str(row[0])
        self._to_inbox(run_id, InboxKind.HOOK, token, data, now, statuses=_ASLEEP_OR_PENDING_SQL)
        return run_id

    async def set_webhook_response(
        self, request_id: str, status: int, headers: str, body: bytes, *, now: float
    ) -> bool:
        return await self._run(
            self._write, self._set_webhook_response, request_id, status, headers, body, now
        )

    def _set_webhook_response(
        self, request_id: str, status: int, headers: str, body: bytes, now: float
    ) -> bool:
        cur = self._x(
            "INSERT INTO webhook_responses VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (request_id, status, headers, body, now),
        )
        # Answers nobody came back for (the caller timed out, its server died): kept a
        # day, then dropped with the next answer.
        self._x("DELETE FROM webhook_responses WHERE at < ?", (now - _WEBHOOK_ANSWERS_KEPT,))
        return cur.rowcount == 1

    async def discard_webhook_response(self, request_id: str, *, now: float) -> None:
        # A row without a status marks the request as abandoned, so that a late answer
        # finds its place taken and is not kept.
        await self._run(
            lambda: self._x(
                "INSERT INTO webhook_responses VALUES (?, NULL, NULL, NULL, ?)"
                " ON CONFLICT (request_id) DO UPDATE SET status = NULL, headers = NULL,"
                " body = NULL, at = excluded.at",
                (request_id, now),
            ),
        )


def _due(record: RunRecord) -> float:
    return record.wake_at if record.wake_at is not None else 0.0


def _failure_tail(tail: Sequence[Sequence[Any]]) -> list[int]:
    """The seqs a retry drops from a failed run's log, given its ``(seq, kind)`` rows
    newest first: its ``run_failed`` and the step failures that led to it; steps that
    were running when the run failed may have recorded outcomes after it, of which
    completions are kept and failures dropped. Nothing for a log not ending in a
    failure (a nondeterminism failure leaves the log as it was)."""
    dropped: list[int] = []
    end = 0
    while end < len(tail) and tail[end][1] in (STEP_COMPLETED, STEP_FAILED):
        if tail[end][1] == STEP_FAILED:
            dropped.append(tail[end][0])
        end += 1
    if end >= len(tail) or tail[end][1] != RUN_FAILED:
        return []
    dropped.append(tail[end][0])
    for seq, kind in tail[end + 1 :]:
        if kind not in (STEP_FAILED, STEP_RETRYING):
            break
        dropped.append(seq)
    return dropped
