"""What the SQL base asks of a dialect: a connection's statements, transactions, a
few fragments of SQL, and how calls are run (see ``wf.store._sql``)."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from wf.store._faults import Fault

__all__ = ["RUN_COLUMNS", "Cursor", "SQLDialect", "T"]

T = TypeVar("T")

#: The columns of a ``RunRecord``, in its order.
RUN_COLUMNS = (
    "run_id, workflow_id, status, input, result, error, created_at, updated_at,"
    " wake_at, lease_owner, attempt"
)


class Cursor(Protocol):
    """What the base uses of a DB-API cursor."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class SQLDialect(abc.ABC):
    """The part of a SQL store a dialect fills in; the base's rules build on it."""

    url: str
    #: See ``Store.sync_commits``.
    sync_commits: ClassVar[bool]

    #: How a write transaction starts (SQLite takes the write lock at once with
    #: IMMEDIATE, so a transaction never fails half-way for want of it).
    _BEGIN: ClassVar[str] = "BEGIN"
    #: A SQL expression true when the run's ``lease_owner`` was a process of this host
    #: that is gone (its runs read as pending at once), or FALSE.
    _OWNER_GONE: ClassVar[str] = "FALSE"
    #: The name of the SQL function giving the larger of two values.
    _GREATEST: ClassVar[str] = "greatest"
    #: A condition that column ``{col}`` ends with the second parameter, the first being
    #: that suffix's length.
    _ENDS_WITH: ClassVar[str] = "right({col}, ?) = ?"
    #: Added to the claim's row selection: how concurrent claimers pass over each
    #: other's rows (nothing for SQLite, whose writers are serialized).
    _SKIP_LOCKED: ClassVar[str] = ""
    #: Added to a read of the run an inbox item is queued for, so that the row stays
    #: locked until the transaction ends (see ``SQLStore._to_inbox``); nothing for
    #: SQLite, whose writers are serialized.
    _FOR_SHARE: ClassVar[str] = ""

    # -- what a dialect provides --------------------------------------------------------

    @abc.abstractmethod
    def _x(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        """Execute one statement (``?`` placeholders) on the store's connection."""

    @abc.abstractmethod
    def _xmany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Execute one statement for each row of parameters."""

    @abc.abstractmethod
    def _rollback(self) -> None:
        """Roll back the open transaction, if an error did not end it already."""

    @abc.abstractmethod
    def _in_transaction(self) -> bool: ...

    @abc.abstractmethod
    def classify(self, exc: Exception) -> Fault: ...

    @abc.abstractmethod
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run one of the base's synchronous bodies and return what it returns."""

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a body that only reads (a dialect with a pool may run it beside writes)."""
        return await self._run(fn, *args)

    def _notify(self, run_ids: Collection[str]) -> None:  # noqa: B027 (optional)
        """Something a worker must act on happened to ``run_ids`` in the transaction
        being committed (they became due, or an item was queued for them): a dialect
        that can tell other processes at once does so (SQLite cannot: its workers find
        it when they poll)."""

    def _announce_end(self, run_id: str) -> None:  # noqa: B027 (optional)
        """Run ``run_id`` ended in the transaction being committed: a dialect that can
        tell other processes (a client waiting for its result) does so."""

    async def subscribe(self, on_notice: Callable[[str], None]) -> None:  # noqa: B027
        """Call ``on_notice`` on this loop with each notice other processes send:
        ``due`` (a run became due or has something in its inbox) or ``end:RUN_ID``.
        Nothing for a database that cannot send them (SQLite)."""

    # -- transactions -------------------------------------------------------------------

    def _commit_tx(self) -> None:
        """Commit the open transaction (a dialect may count commits, see SQLite's)."""
        self._x("COMMIT")

    def _batched(self) -> contextlib.AbstractContextManager[None]:
        """Where a transaction's statements are sent: a dialect may send them together
        (PostgreSQL's pipeline); the rollback of a failed one runs after it."""
        return contextlib.nullcontext()

    def _write(self, body: Callable[..., T], *args: Any) -> T:
        """Run ``body`` in one write transaction."""
        try:
            with self._batched():
                self._x(self._BEGIN)
                result = body(*args)
                self._commit_tx()
        except BaseException:
            self._rollback()
            raise
        return result
