"""The store protocol every backend implements, and the records it returns.

A store keeps three things: ``runs`` (one row per run: status, input, result,
lease), ``events`` (each run's append-only log) and ``inbox`` (requests from
outside a run's worker, such as cancellation, that the owning worker turns
into log events). The engine batches every write of a tick into one ``Batch`` of
commands (``wf.store._commands``) and one ``commit`` call: one transaction for all
runs. The store never reads the time: the engine's clock gives it ``now``.
"""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from wf._errors import StoreError
from wf.runtime._events import Event, RunStatus
from wf.store._faults import Fault

if TYPE_CHECKING:
    from wf.store._commands import Batch, CommitResult

__all__ = [
    "ACTIVE",
    "FINISHED",
    "Fault",
    "HookRecord",
    "InboxItem",
    "InboxKind",
    "RunRecord",
    "Store",
    "auto_migrate",
    "display_url",
    "host_id",
    "local_owner_gone",
    "open_store",
]

#: Statuses of a run that still has work to do, and of one that ended.
ACTIVE: tuple[str, ...] = tuple(s.value for s in RunStatus if not s.ended)
FINISHED: tuple[str, ...] = tuple(s.value for s in RunStatus if s.ended)


@dataclass(slots=True)
class RunRecord:
    """A run's row as read. ``status`` is what is true when it was read: a ``running``
    run whose lease expired (its worker died or stalled, and no worker took it over
    yet) reads as ``pending``, its ``lease_owner`` still naming the worker that lost
    it. ``error`` of a run that has not ended is a note saying why the last worker
    that claimed it left it (another version, a module it cannot import), else None.
    """

    run_id: str
    workflow_id: str
    status: str
    input: str
    result: str | None
    error: str | None
    created_at: float
    updated_at: float
    wake_at: float | None
    lease_owner: str | None
    attempt: int


class InboxKind(enum.StrEnum):
    """What an inbox item asks of its run. Stored as its value."""

    CANCEL = "cancel"  # cancel the run (data: the reason)
    HOOK = "hook"  # a payload for the hook named by ``name`` (a token)
    MESSAGE = "message"  # a message ``name`` sent with wf.send
    CHILD = "child"  # the child run ``name`` ended (data: its outcome)
    WATCH = "watch"  # a run this one waits for ended (``name``: the wait's cid)


@dataclass(slots=True)
class InboxItem:
    id: int
    run_id: str
    kind: str
    name: str | None
    data: str | None
    at: float


@dataclass(frozen=True, slots=True)
class HookRecord:
    """A hook token held by a live run."""

    run_id: str
    #: The payload type (``module:qualname``) of a typed hook, else None.
    type: str | None = None
    #: For a webhook, how its HTTP caller is answered (JSON, see ``wf.runtime._webhooks``);
    #: None for a plain hook, which cannot be reached over HTTP.
    webhook: str | None = None


class Store(Protocol):
    url: str
    #: Whether ``commit_sync`` commits without suspending (an embedded database such as
    #: SQLite): the engine then commits from a loop callback, one loop turn per tick.
    #: Otherwise (a network database) it awaits ``commit`` from its flusher task.
    sync_commits: ClassVar[bool]

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    def classify(self, exc: Exception) -> Fault:
        """What an exception this store raised means for the work (see
        ``wf.store._faults``): TRANSIENT (try again later), BROKEN (this database
        cannot be written: the worker stops) or REFUSED (these writes are refused)."""
        ...

    async def subscribe(self, on_notice: Callable[[str], None]) -> None:
        """Call ``on_notice`` on the running loop with each notice other processes send:
        ``due`` (a run became due or has something in its inbox) or ``end:RUN_ID``.
        A store that cannot hear other processes (SQLite) does nothing: its workers poll."""
        ...

    async def upgrade(self) -> tuple[int, int]:
        """Apply the missing migrations (the store need not be open); the schema version
        (before, after)."""
        ...

    async def describe(self) -> tuple[int, dict[str, int]]:
        """The schema version (0: no wf tables yet) and how many runs are in each status,
        without migrating anything (the store need not be open)."""
        ...

    async def check_database(self) -> None:
        """Raise ``StoreError`` if the database this store opened is gone (SQLite: its
        file was removed or replaced by another). Cheap; a worker calls it as it polls."""
        ...

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
        """Insert a pending run and its ``run_started`` event; False if the id exists.
        With ``owner`` the run is created ``running`` and leased to it until
        ``lease_expires`` (a worker starting a run it executes at once)."""
        ...

    async def commit(
        self, batch: Batch, owner: str, *, now: float, verify_owner: bool = True
    ) -> CommitResult:
        """Apply one tick's commands atomically. The result names the runs this owner
        no longer holds (their writes were dropped because another worker took the run
        over) and the hook tokens another live run already held.

        If the database refuses some of the writes (a REFUSED fault), the store
        applies the batch again run by run, in one transaction: the runs whose writes
        are refused are left out and reported in ``CommitResult.refused``, the others'
        writes are made. Other faults are raised, and nothing is written.

        ``verify_owner=False`` skips the lease check; the engine passes it only while
        its leases are certainly still valid."""
        ...

    def commit_sync(
        self, batch: Batch, owner: str, now: float, verify_owner: bool = True
    ) -> CommitResult:
        """``commit`` without a coroutine, for a store with ``sync_commits``."""
        ...

    async def claim(
        self, owner: str, limit: int, now: float, lease: float, exclude: Collection[str] = ()
    ) -> list[RunRecord]:
        """Lease up to ``limit`` runnable runs to ``owner``, except the runs in ``exclude``
        (runs this worker left because it cannot execute them). A claim clears the
        run's note (``error``): whoever left it before, this owner now holds it."""
        ...

    async def renew(self, owner: str, now: float, lease: float) -> list[str]:
        """Extend every lease ``owner`` holds; return the ids of the runs it still holds."""
        ...

    async def release(self, owner: str, run_ids: Sequence[str] | None) -> None:
        """Give up ``owner``'s leases on ``run_ids`` (None: on every run it holds); a
        ``running`` one becomes ``pending``."""
        ...

    async def expire_owner(self, owner: str) -> None: ...
    async def lease_owners(self) -> list[str]: ...

    async def get_run(self, run_id: str, *, now: float) -> RunRecord | None:
        """The run as it stands at ``now``, which decides whether its lease has expired
        (see ``RunRecord.status``)."""
        ...

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 100,
        now: float,
    ) -> list[RunRecord]:
        """The newest runs, filtered by their status at ``now`` as ``get_run`` reads it."""
        ...

    async def load_events(self, run_id: str, after: int = -1) -> list[Event]: ...

    async def post(
        self, run_id: str, kind: str, name: str | None, data: str | None, *, now: float
    ) -> None:
        """Queue a request for the run's worker and make the run claimable if it sleeps."""
        ...

    async def inbox(self, owner: str) -> list[InboxItem]: ...

    async def hook_info(self, token: str) -> HookRecord | None:
        """The live run holding ``token``, with the hook's payload type and webhook answer."""
        ...

    async def post_to_hook(self, token: str, data: str | None, *, now: float) -> str | None:
        """Queue a payload for the run holding hook ``token``; its run id, or None if
        no live run holds the token (nothing is written then)."""
        ...

    async def set_webhook_response(
        self, request_id: str, status: int, headers: str, body: bytes, *, now: float
    ) -> bool:
        """Record the HTTP response a step chose for a webhook request (headers as a JSON
        list of pairs). The first response wins: False if one was already recorded."""
        ...

    async def take_webhook_response(self, request_id: str) -> tuple[int, str, bytes] | None:
        """The recorded response of a webhook request, removed as it is read; None if
        no step has answered yet."""
        ...

    async def discard_webhook_response(self, request_id: str, *, now: float) -> None:
        """Forget a request whose caller stopped waiting: a late answer is not kept."""
        ...

    async def retry_run(self, run_id: str, *, now: float) -> list[int]:
        """Make a failed run runnable again (attempt + 1), dropping the trailing
        failure events of its log (see the README). Returns the dropped seqs."""
        ...

    async def fail_run(self, run_id: str, owner: str, error: str, *, now: float) -> None:
        """Mark a run failed without touching its log (non-determinism, corrupt input)."""
        ...


def auto_migrate() -> bool:
    """Whether opening a database brings its schema up to date (``WF_AUTO_MIGRATE``,
    on unless set to 0)."""
    return os.environ.get("WF_AUTO_MIGRATE", "1").strip().lower() not in ("0", "false", "no")


def open_store(url: str, *, durability: str = "normal", migrate: bool | None = None) -> Store:
    """Make the store for a database URL (not yet opened). ``migrate``: whether opening it
    applies missing migrations (None: ``auto_migrate()``)."""
    if durability not in ("normal", "full"):
        raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
    apply = auto_migrate() if migrate is None else migrate
    if url.startswith("sqlite://"):
        from wf.store._sqlite import SQLiteStore

        return SQLiteStore(url, durability=durability, auto_migrate=apply)
    if url.startswith(("postgresql://", "postgres://")):
        from wf.store._postgres import PostgresStore

        return PostgresStore(url, auto_migrate=apply)
    raise StoreError(
        f"unsupported database URL {display_url(url)!r}: expected sqlite:///relative/path.db,"
        " sqlite:////absolute/path.db, sqlite:///:memory: or"
        " postgresql://user:password@host:port/database[?schema=NAME]"
    )


def display_url(url: str) -> str:
    """``url`` as it may be printed: a password in it is replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"


def host_id() -> str:
    """This host's name in lease owners (``WF_HOST_ID``, else the host name). Two
    containers that share a host name but not a process table must set different ones:
    a worker takes over at once the runs of a process of its own host that is gone."""
    # A colon would split a lease owner (host:pid:tag) in the wrong place.
    return (os.environ.get("WF_HOST_ID") or socket.gethostname()).replace(":", "-")


def local_owner_gone(owner: str | None) -> bool:
    """Whether lease owner ``owner`` (``host:pid:tag``) was a process of this host that no
    longer exists: its runs are not running, whatever their lease says."""
    if owner is None:
        return False
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != host_id():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
