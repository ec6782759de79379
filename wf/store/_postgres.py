"""The PostgreSQL store: the PostgreSQL dialect of the SQL base, for workers on many hosts.

The driver is psycopg 3 in its synchronous form: the SQL base's rules are plain DB-API
calls, so they run unchanged on threads of this store, each with a connection of its
own (a small pool): one thread takes every write of the engine, in order, as SQLite's
single writer does; two more answer reads (a dashboard, a ``Run.result`` poll), so a
slow read never holds a commit back. README ("PostgreSQL") gives the measurements
behind the choice.

A group commit is one round trip: ``BEGIN``, the fence (``wf_hold``: it locks the
batch's runs and fails the transaction if this worker no longer holds one), every
statement of the batch and ``COMMIT`` are pipelined. Only when the fence fails (a run
was taken over) or the database refuses a write does the base's slower path run, which
reads the lost runs first and can apply the batch run by run. Statements are prepared
on their first use on each connection.

A transaction that makes a run due, queues an item for a run or ends one sends a
notification on the channel of its schema (``pg_notify``, delivered at commit); every
engine of that schema listens on a connection of its own and wakes its poller, or the
waiters of a run that ended, within milliseconds. Polling stays as a safety net.

Tables live in a schema of their own (``?schema=NAME``, default ``wf``), created with
the schema's migrations under an advisory lock, so that two processes opening a new
database at once do not collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from wf._errors import StoreError
from wf.store._commands import AppendEvent, Batch, Command, CommitResult
from wf.store._faults import BROKEN, REFUSED, TRANSIENT, Fault
from wf.store._migrations import POSTGRES_MIGRATIONS, SCHEMA_VERSION
from wf.store._protocol import display_url
from wf.store._sql import SQLStore

__all__ = ["PostgresStore", "postgres_fault", "split_postgres_url"]

T = TypeVar("T")

log = logging.getLogger("wf")

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: The SQLSTATE of ``wf_hold`` when this worker lost a run of the batch.
_LEASE_LOST = "WF001"
_READERS = 2


def split_postgres_url(url: str) -> tuple[str, str]:
    """``postgresql://...?schema=NAME`` -> (the connection URL for libpq, the schema).

    ``postgres://`` is accepted too; every other query parameter (``sslmode``, ...) is
    passed on to libpq."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(f"not a PostgreSQL URL: {display_url(url)}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    schema = schemas[-1] if schemas else "wf"
    if not _SCHEMA_NAME.fullmatch(schema):
        raise StoreError(
            f"schema {schema!r} in {display_url(url)} is not a plain name: use letters,"
            " digits and underscores, not starting with a digit (up to 63), e.g. ?schema=wf"
        )
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, rest, parts.fragment))
    return conninfo, schema


# What each class of SQLSTATE (its first two characters) means for the work: a lost
# connection, a deadlock or serialization failure, a server restarting or short of
# memory may pass; bad data or a constraint refuses particular writes; anything else
# (no such table, no privilege, a database that does not exist) stays as it is.
_TRANSIENT_CLASSES = frozenset({"08", "25", "40", "53", "55", "57", "58"})
_REFUSED_CLASSES = frozenset({"22", "23", "54"})


def postgres_fault(exc: Exception, where: str) -> Fault:
    """How ``exc``, raised while using the database ``where``, bears on the work."""
    if isinstance(exc, StoreError):
        return Fault(BROKEN, str(exc))
    if isinstance(exc, MemoryError):
        return Fault(TRANSIENT, f"out of memory: {exc}")
    if not isinstance(exc, psycopg.Error):
        return Fault(REFUSED, f"{type(exc).__name__}: {exc}")
    state = exc.sqlstate
    if state is None:
        # Raised by the driver itself: a connection that failed or closed, or a value
        # it cannot send (a str with a NUL character, a type it cannot adapt).
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return Fault(TRANSIENT, f"{where}: {exc}")
        return Fault(REFUSED, f"{type(exc).__name__}: {exc}")
    if state == _LEASE_LOST:
        return Fault(TRANSIENT, f"{where}: {exc}")
    if state == "53100":
        return Fault(BROKEN, f"cannot write to {where}: the server's disk is full ({exc})")
    if state[:2] in _TRANSIENT_CLASSES:
        return Fault(TRANSIENT, f"{where}: {exc}")
    if state[:2] in _REFUSED_CLASSES:
        return Fault(REFUSED, f"{type(exc).__name__}: {exc}")
    return Fault(
        BROKEN,
        f"{where} refused wf's SQL ({state}: {exc}); check the user's privileges and that"
        " no other program changed wf's tables",
    )


def _said_something(conn: psycopg.Connection[Any]) -> bool:
    """Whether the server sent anything on an idle connection (it has nothing to say
    there but that it closes it)."""
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)


def _one_line(exc: BaseException) -> str:
    """libpq's message on one line (it spreads a refused connection over two)."""
    return " ".join(str(exc).split())


def _placeholders(text: str, _cache: dict[str, str] = {}) -> str:  # noqa: B006 (a cache)
    """The base's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    found = _cache.get(text)
    if found is None:
        found = _cache[text] = text.replace("%", "%%").replace("?", "%s")
    return found


class _Synced:
    """A cursor of a pipelined statement: reading its row count or rows first waits for
    the statements sent so far (psycopg knows a row count only once it is read)."""

    __slots__ = ("_cursor", "_pipeline")

    def __init__(self, cursor: psycopg.Cursor[Any], pipeline: psycopg.Pipeline) -> None:
        self._cursor = cursor
        self._pipeline = pipeline

    @property
    def rowcount(self) -> int:
        self._pipeline.sync()
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


class _Local(threading.local):
    conn: psycopg.Connection[Any] | None = None
    pipeline: psycopg.Pipeline | None = None
    #: The notifications the open transaction sends when it commits.
    notices: set[str]

    def __init__(self) -> None:
        self.notices = set()


class PostgresStore(SQLStore):
    #: Commits go over the network: the engine awaits them from its flusher task.
    sync_commits: ClassVar[bool] = False
    # _BEGIN and _GREATEST: the base's. No SQL function can ask this host's process
    # table: a read decides in Python (``_settled``), and the worker's reaper expires
    # the leases of this host's dead processes (within two seconds).
    _OWNER_GONE: ClassVar[str] = "FALSE"
    _ENDS_WITH: ClassVar[str] = "right({col}, ?::integer) = ?"
    _SKIP_LOCKED: ClassVar[str] = " FOR UPDATE SKIP LOCKED"
    _FOR_SHARE: ClassVar[str] = " FOR SHARE"

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self._conninfo, self.schema = split_postgres_url(url)
        self.url = display_url(url)
        self.auto_migrate = auto_migrate
        self._channel = f"wf:{self.schema}"
        self._local = _Local()
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._conns: list[psycopg.Connection[Any]] = []
        self._conns_lock = threading.Lock()
        self._listener: _Listener | None = None
        # The commands of a commit whose connection died under it (see commit_sync).
        self._doubt: list[Command] | None = None

    # -- connections ----------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        # A failure here is a psycopg error (transient: a server restarting); only the
        # first connection of open/upgrade/describe turns it into a StoreError.
        conn = psycopg.connect(
            self._conninfo,
            autocommit=True,
            prepare_threshold=0,
            application_name="wf",
            connect_timeout=10,
        )
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _conn(self) -> psycopg.Connection[Any]:
        """This thread's connection, made again if the last one was lost."""
        conn = self._local.conn
        if conn is not None and not conn.closed and _said_something(conn):
            # An idle connection the server speaks on is being closed by it (a restart,
            # pg_terminate_backend, an idle timeout): a new one, before a statement is
            # sent into it and its fate becomes unknown.
            with contextlib.suppress(psycopg.Error):
                conn.close()
        if conn is None or conn.closed:
            if conn is not None:
                with self._conns_lock, contextlib.suppress(ValueError):
                    self._conns.remove(conn)
            conn = self._local.conn = self._connect()
            self._local.notices.clear()
        return conn

    def _on_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        self._conn()
        return fn(*args)

    def _read_on_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        self._conn()
        try:
            return fn(*args)
        except psycopg.OperationalError:
            conn = self._local.conn
            if conn is not None and not conn.closed:
                raise
            # The connection died under a read: a read can be made again.
            self._conn()
            return fn(*args)

    async def _call(
        self,
        executor: ThreadPoolExecutor | None,
        on_thread: Callable[[Callable[..., T], tuple[Any, ...]], T],
        fn: Callable[..., T],
        args: tuple[Any, ...],
    ) -> T:
        if executor is None:
            raise StoreError("the store is not open (use `async with wf.Engine(...)`)")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, on_thread, fn, args)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(self._writer, self._on_thread, fn, args)

    async def _first(self, fn: Callable[..., T], *args: Any) -> T:
        """``_run`` for the first call of open, upgrade or describe: a server that cannot
        be reached is then the user's one-line error, not something to wait out."""
        try:
            return await self._run(fn, *args)
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {self.url}: {_one_line(exc)}"
            ) from exc

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(self._readers, self._read_on_thread, fn, args)

    # -- opening and migrating -------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="wf-pg-write")
        self._readers = ThreadPoolExecutor(_READERS, thread_name_prefix="wf-pg-read")
        try:
            await self._first(self._migrate, self.auto_migrate)
        except BaseException:
            await self.close()
            raise

    def _migrate(self, apply: bool) -> tuple[int, int]:
        """Bring the schema to ``SCHEMA_VERSION`` (if ``apply``; else refuse one that is
        behind); (the version found, the version left)."""
        conn = self._conn()
        try:
            with conn.transaction():
                # Two processes opening a new database at once: one migrates, the other
                # waits here and then finds the schema current.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"wf-migrate:{self.schema}",)
                )
                found = self._version(conn)
                if found > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.url} (schema {self.schema}) has wf schema version {found},"
                        f" newer than this wf understands ({SCHEMA_VERSION}); upgrade wf to"
                        " use it. Nothing was changed."
                    )
                if found < SCHEMA_VERSION and not apply:
                    raise StoreError(
                        f"{self.url} (schema {self.schema}) has wf schema version {found};"
                        f" this wf needs {SCHEMA_VERSION}. Run `wf db upgrade` (WF_AUTO_MIGRATE=0"
                        " turned off migrating on open)."
                    )
                if found < SCHEMA_VERSION:
                    self._apply_migrations(conn, found)
        except psycopg.Error as exc:
            raise StoreError(f"cannot prepare wf's tables in {self.url}: {_one_line(exc)}") from exc
        return found, max(found, SCHEMA_VERSION)

    def _version(self, conn: psycopg.Connection[Any]) -> int:
        """The schema's wf version: 0 for a schema that does not exist yet or is empty;
        a schema holding another application's tables is refused."""
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (self.schema,),
            ).fetchall()
        }
        if "wf_schema" not in tables:
            if tables:
                names = ", ".join(sorted(tables)[:5])
                raise StoreError(
                    f"schema {self.schema} of {self.url} holds tables of another application"
                    f" ({names}); wf will not write to it. Choose another one with ?schema=NAME"
                )
            return 0
        row = conn.execute("SELECT max(version) FROM wf_schema").fetchone()
        return int(row[0] or 0) if row is not None else 0

    def _apply_migrations(self, conn: psycopg.Connection[Any], found: int) -> None:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS wf_schema"
            " (version integer NOT NULL, applied_at double precision NOT NULL)"
        )
        for version in sorted(POSTGRES_MIGRATIONS):
            if version > found:
                for statement in POSTGRES_MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute("INSERT INTO wf_schema VALUES (%s, %s)", (version, time.time()))

    async def upgrade(self) -> tuple[int, int]:
        opened = self._writer is not None
        if not opened:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="wf-pg-write")
            self._readers = ThreadPoolExecutor(_READERS, thread_name_prefix="wf-pg-read")
        try:
            return await self._first(self._migrate, True)
        finally:
            if not opened:
                await self.close()

    async def describe(self) -> tuple[int, dict[str, int]]:
        opened = self._writer is not None
        if not opened:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="wf-pg-write")
            self._readers = ThreadPoolExecutor(_READERS, thread_name_prefix="wf-pg-read")
        try:
            return await self._first(self._describe)
        finally:
            if not opened:
                await self.close()

    def _describe(self) -> tuple[int, dict[str, int]]:
        conn = self._conn()
        try:
            version = self._version(conn)
            if version == 0:
                return 0, {}
            return version, self._count_runs(time.time())
        except psycopg.Error as exc:
            raise StoreError(f"cannot read {self.url}: {_one_line(exc)}") from exc

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        for executor in (self._writer, self._readers):
            if executor is not None:
                executor.shutdown(wait=True)
        self._writer = self._readers = None
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(psycopg.Error):
                conn.close()
        self._local = _Local()

    async def check_database(self) -> None:
        return None

    # -- the dialect ----------------------------------------------------------------------------

    def _x(self, text: str, params: Sequence[object] = ()) -> Any:
        local = self._local
        conn = local.conn
        if conn is None:
            conn = self._conn()
        cursor = conn.execute(_placeholders(text), params)
        if local.pipeline is not None:
            return _Synced(cursor, local.pipeline)
        return cursor

    def _xmany(self, text: str, rows: Iterable[Sequence[object]]) -> None:
        conn = self._local.conn or self._conn()
        conn.cursor().executemany(_placeholders(text), rows)

    def _commit_tx(self) -> None:
        notices = self._local.notices
        for payload in sorted(notices):
            self._x("SELECT pg_notify(?, ?)", (self._channel, payload))
        notices.clear()
        self._x("COMMIT")

    def _rollback(self) -> None:
        local = self._local
        local.notices.clear()
        conn = local.conn
        if conn is None or conn.closed:
            return
        if conn.info.transaction_status != TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")

    def _in_transaction(self) -> bool:
        conn = self._local.conn
        return conn is not None and conn.info.transaction_status != TransactionStatus.IDLE

    def classify(self, exc: Exception) -> Fault:
        return postgres_fault(exc, f"the database {self.url}")

    def _notify(self, run_ids: Iterable[str]) -> None:
        self._local.notices.add("due")

    def _announce_end(self, run_id: str) -> None:
        self._local.notices.add(f"end:{run_id}")

    # -- the group commit: one round trip -------------------------------------------------------

    @contextlib.contextmanager
    def _batched(self) -> Iterator[None]:
        # Pipelined: statements go out together, and only a result the body reads (a row
        # count, a row) waits for the server.
        conn = self._local.conn or self._conn()
        with conn.pipeline() as pipeline:
            self._local.pipeline = pipeline
            try:
                yield
            finally:
                self._local.pipeline = None

    def commit_sync(
        self, batch: Batch, owner: str, now: float, verify_owner: bool = True
    ) -> CommitResult:
        # The fence runs whatever ``verify_owner`` says: hosts' clocks differ, so this
        # worker's belief that its leases are safe is not proof enough; and the fence
        # costs no round trip.
        doubt, self._doubt = self._doubt, None
        if doubt is not None and self._was_committed(doubt):
            # The engine tries a failed commit again, with what it added since: the part
            # that did reach the database is not written twice.
            batch = _without(batch, doubt)
            if not batch:
                return CommitResult([])
        run_ids = sorted(batch.run_ids())
        result = CommitResult([])
        events = batch.of(AppendEvent)
        try:
            if events and len(events) == len(batch):
                # The common tick (steps' results, nothing else): one statement, its own
                # transaction, no pipeline to set up.
                self._append_only(owner, run_ids, events)
                return result
            with self._batched():
                self._x(self._BEGIN)
                if run_ids:
                    self._x("SELECT wf_hold(?, ?)", (owner, run_ids))
                self._apply(batch, owner, set(), now, result.conflicts)
                self._commit_tx()
        except Exception as exc:
            conn = self._local.conn
            if conn is None or conn.closed:
                # The connection died under the commit: it may have been lost before
                # COMMIT reached the server or after, with only its answer lost.
                self._doubt = list(batch)
            self._rollback()
            lost = isinstance(exc, psycopg.Error) and exc.sqlstate == _LEASE_LOST
            if not lost and self.classify(exc).kind != REFUSED:
                raise
            # A run was taken over, or a write refused: the base's path reads which runs
            # are lost first, and applies the batch run by run if it must.
            return super().commit_sync(batch, owner, now, True)
        except BaseException:
            self._rollback()
            raise
        return result

    def _append_only(self, owner: str, run_ids: list[str], commands: list[AppendEvent]) -> None:
        """Append ``commands``' events behind the fence, in one autocommit statement."""
        events = [c.event for c in commands]
        self._x(
            "SELECT wf_append(?, ?, ?::text[], ?::integer[], ?::text[], ?::integer[],"
            " ?::text[], ?::text[], ?::double precision[])",
            (
                owner,
                run_ids,
                [c.run_id for c in commands],
                [e.seq for e in events],
                [e.kind for e in events],
                [e.cid for e in events],
                [e.name for e in events],
                [e.data for e in events],
                [e.at for e in events],
            ),
        )

    def _was_committed(self, commands: list[Command]) -> bool:
        """Whether the commit of ``commands``, whose connection died, happened: one of its
        events is in the log (a transaction is all or nothing). A commit without events
        changes nothing when it is made again."""
        for command in commands:
            if isinstance(command, AppendEvent):
                event = command.event
                try:
                    row = self._x(
                        "SELECT 1 FROM events WHERE run_id = ? AND seq = ? AND kind = ?",
                        (command.run_id, event.seq, event.kind),
                    ).fetchone()
                except psycopg.Error:
                    self._doubt = commands  # still unknown: asked again next time
                    raise
                return row is not None
        return False

    def _lost_runs(self, batch: Batch, owner: str) -> set[str]:
        run_ids = sorted(batch.run_ids())
        if not run_ids:
            return set()
        held = {
            row[0]
            for row in self._x(
                "SELECT run_id FROM runs WHERE run_id = ANY(?) AND lease_owner = ?"
                " ORDER BY run_id FOR SHARE",
                (run_ids, owner),
            ).fetchall()
        }
        return set(run_ids) - held

    # -- notifications ----------------------------------------------------------------------------

    async def subscribe(self, on_notice: Callable[[str], None]) -> None:
        if self._listener is not None or self._writer is None:
            return
        loop = asyncio.get_running_loop()

        def deliver(payload: str) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(on_notice, payload)

        self._listener = _Listener(self._conninfo, self._channel, deliver, self.url)
        self._listener.start()


def _without(batch: Batch, done: list[Command]) -> Batch:
    """``batch`` but the very commands of ``done`` (the same objects: the engine tries a
    failed batch again as it was, with what was added since)."""
    skip = {id(command) for command in done}
    rest = Batch()
    for command in batch:
        if id(command) not in skip:
            rest.add(command)
    return rest


class _Listener(threading.Thread):
    """LISTENs on the schema's channel on a connection of its own and hands each payload
    to ``deliver``; after a lost connection it connects again and delivers ``due``,
    since notifications sent meanwhile were missed."""

    def __init__(
        self, conninfo: str, channel: str, deliver: Callable[[str], None], url: str
    ) -> None:
        super().__init__(name="wf-pg-listen", daemon=True)
        self._conninfo = conninfo
        self._channel = channel
        self._deliver = deliver
        self._url = url
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=2.0)

    def run(self) -> None:
        delay = 0.1
        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    application_name="wf-listen",
                    connect_timeout=10,
                ) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self._deliver("due")
                    delay = 0.1
                    while not self._stopping.is_set():
                        for notice in conn.notifies(timeout=0.25):
                            self._deliver(notice.payload)
            except psycopg.Error as exc:
                log.warning(
                    "wf: lost the notification connection to %s (%s); polling meanwhile",
                    self._url,
                    exc,
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, 5.0)
