"""The SQL base's reads: runs as a read shows them, logs, inboxes, hooks and webhook
answers (see ``wf.store._sql``)."""

from __future__ import annotations

from wf.runtime._events import Event
from wf.store._protocol import HookRecord, InboxItem, RunRecord, local_owner_gone
from wf.store._sql_dialect import RUN_COLUMNS, SQLDialect

__all__ = ["SQLReads"]


class SQLReads(SQLDialect):
    """Reads every SQL store answers alike."""

    # -- reads ------------------------------------------------------------------------------

    def _shown_status(self) -> str:
        # A running run that no live lease holds reads as pending: its worker died or
        # stalled and it waits for another; so does one whose worker was a process of
        # this host that is gone, at once. Nobody may be left to write that into the
        # row (the worker is gone), so reads derive it; the one ``?`` is the time of
        # the read.
        return (
            "CASE WHEN status = 'running' AND (lease_owner IS NULL OR lease_expires < ?"
            f" OR {self._OWNER_GONE}) THEN 'pending' ELSE status END"
        )

    def _shown_columns(self) -> str:
        # A run was last updated when its row changed or its last event was logged,
        # whichever is later. Read from the log's last entry (one seek on its primary
        # key) rather than written to the row with every commit: that write would cost
        # each step a second page in the WAL, about a third of a commit.
        updated = (
            f"{self._GREATEST}(updated_at, coalesce((SELECT e.at FROM events e"
            " WHERE e.run_id = runs.run_id ORDER BY e.seq DESC LIMIT 1), updated_at))"
        )
        return RUN_COLUMNS.replace(" status,", f" {self._shown_status()},", 1).replace(
            " updated_at,", f" {updated},", 1
        )

    async def get_run(self, run_id: str, *, now: float) -> RunRecord | None:
        row = await self._read(
            lambda: self._x(
                f"SELECT {self._shown_columns()} FROM runs WHERE run_id = ?", (now, run_id)
            ).fetchone()
        )
        return None if row is None else self._settled(RunRecord(*row))

    def _settled(self, record: RunRecord) -> RunRecord:
        """``record`` with the status a read shows, where the SQL could not decide it: a
        dialect without ``_OWNER_GONE`` asks here whether its worker is a dead process
        of this host."""
        if record.status == "running" and local_owner_gone(record.lease_owner):
            record.status = "pending"
        return record

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 100,
        now: float,
    ) -> list[RunRecord]:
        where: list[str] = []
        params: list[object] = []
        if status in ("pending", "running") and self._OWNER_GONE == "FALSE":
            # Whether a running run's worker is a dead process of this host is decided
            # in Python (``_settled``), after the query: the query takes both.
            where.append(f"{self._shown_status()} IN ('pending', 'running')")
            params.append(now)
        elif status is not None:
            where.append(f"{self._shown_status()} = ?")
            params += [now, status]
        if workflow is not None:
            # An exact id or a ":name" suffix, compared literally (LIKE would treat
            # "_" and "%" as wildcards and ignore case).
            ends_with = self._ENDS_WITH.format(col="workflow_id")
            where.append(f"(workflow_id = ? OR {ends_with})")
            params += [workflow, len(workflow) + 1, f":{workflow}"]
        newest = "SELECT * FROM runs"
        if where:
            newest += " WHERE " + " AND ".join(where)
        newest += " ORDER BY created_at DESC LIMIT ?"
        # The shown columns (a seek into each run's log) only for the rows returned,
        # not for every row the sort goes through.
        sql = f"SELECT {self._shown_columns()} FROM ({newest}) AS runs ORDER BY created_at DESC"
        rows = await self._read(lambda: self._x(sql, [now, *params, limit]).fetchall())
        records = [self._settled(RunRecord(*r)) for r in rows]
        return [r for r in records if status is None or r.status == status]

    def _count_runs(self, now: float) -> dict[str, int]:
        """How many runs are in each (shown) status."""
        rows = self._x(
            f"SELECT {self._shown_status()} AS shown, count(*) FROM runs GROUP BY shown",
            (now,),
        ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    async def load_events(self, run_id: str, after: int = -1) -> list[Event]:
        rows = await self._read(
            lambda: self._x(
                "SELECT seq, kind, cid, name, data, at FROM events WHERE run_id = ?"
                " AND seq > ? ORDER BY seq",
                (run_id, after),
            ).fetchall()
        )
        return [Event(*r) for r in rows]

    async def inbox(self, owner: str) -> list[InboxItem]:
        rows = await self._read(
            lambda: self._x(
                "SELECT i.id, i.run_id, i.kind, i.name, i.data, i.at FROM inbox i"
                " JOIN runs r ON r.run_id = i.run_id WHERE r.lease_owner = ? ORDER BY i.id",
                (owner,),
            ).fetchall()
        )
        return [InboxItem(*r) for r in rows]

    async def hook_info(self, token: str) -> HookRecord | None:
        row = await self._read(
            lambda: self._x(
                "SELECT run_id, type, webhook FROM hooks WHERE token = ?", (token,)
            ).fetchone()
        )
        return None if row is None else HookRecord(str(row[0]), row[1], row[2])

    async def take_webhook_response(self, request_id: str) -> tuple[int, str, bytes] | None:
        row = await self._run(
            lambda: self._x(
                "DELETE FROM webhook_responses WHERE request_id = ? AND status IS NOT NULL"
                " RETURNING status, headers, body",
                (request_id,),
            ).fetchone(),
        )
        return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]))
