"""The embedded SQLite store: the SQLite dialect of the SQL base (``wf.store._sql``).

Statements run synchronously on the event loop's thread. That is on purpose:
on the reference machine a WAL commit takes ~45 µs while handing it to a
thread and back costs ~130 µs more (aiosqlite: ~250 µs per transaction), and
the engine already batches every append of a tick into one transaction. With
``durability="full"`` each commit fsyncs (``synchronous=FULL``).

The file is checked before anything is written to it: a foreign database, a
corrupt file or a schema newer than this wf raise ``StoreError`` and leave
the file untouched.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

from wf._errors import StoreError
from wf.store._checkpoint import Checkpointer
from wf.store._faults import BROKEN, REFUSED, TRANSIENT, Fault
from wf.store._migrations import SCHEMA_VERSION, SQLITE_MIGRATIONS
from wf.store._protocol import RunRecord, local_owner_gone
from wf.store._sql import SQLStore

T = TypeVar("T")

__all__ = [
    "SCHEMA_VERSION",
    "SQLiteStore",
    "read_only_problem",
    "sqlite_fault",
    "sqlite_file",
    "sqlite_path",
    "sqlite_problem",
]


def sqlite_problem(exc: sqlite3.Error, path: str | None = None) -> str:
    """What ``exc`` says about the database file ``path`` (None: not known here), as one
    sentence a user can act on: a read-only file or directory, a locked or full disk is
    the environment's problem; only a file that is not a database is the file's."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF  # without the extended code's detail
    where = f"the database {path}" if path else "the database"
    if primary == sqlite3.SQLITE_READONLY:
        return _read_only(where)
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return f"{where} is locked by another process (it held the lock too long: {exc})"
    if primary == sqlite3.SQLITE_FULL:
        return f"cannot write to {where}: the disk is full"
    if primary == sqlite3.SQLITE_PERM:
        return f"cannot use {where}: permission denied ({exc})"
    if primary == sqlite3.SQLITE_IOERR:
        return f"cannot use {where}: the disk or file system failed to read or write it ({exc})"
    if primary == sqlite3.SQLITE_CANTOPEN and path:
        return _cannot_open(path, exc)
    if primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT) and path:
        return (
            f"{path} is not a usable SQLite database ({exc}); it was left untouched."
            " Point WF_DATABASE_URL / --db at a new file, or restore this one from a backup."
        )
    return f"{where} failed: {exc}"


# What each SQLite result code (its primary part) means for the work (see
# wf.store._faults). A lock held too long, an I/O error, a WAL lock race, memory or
# a schema change under a statement may pass; a read-only, full, unreadable or
# foreign file, or SQL the schema does not answer (a table gone), stays as it is.
_TRANSIENT_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_INTERRUPT,
        sqlite3.SQLITE_SCHEMA,
    }
)
_BROKEN_CODES = frozenset(
    {
        sqlite3.SQLITE_ERROR,
        sqlite3.SQLITE_INTERNAL,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_MISUSE,
        sqlite3.SQLITE_NOLFS,
        sqlite3.SQLITE_AUTH,
        sqlite3.SQLITE_NOTADB,
    }
)


def sqlite_fault(exc: Exception, path: str | None = None) -> Fault:
    """How ``exc``, raised while using the SQLite database ``path``, bears on the work.

    By the result code: see ``_TRANSIENT_CODES`` and ``_BROKEN_CODES``; the rest
    (a constraint, a string or blob too big, a datatype mismatch) refuse particular
    writes. So does an error raised before SQLite saw the statement (a value it
    cannot bind). A ``StoreError`` says the store cannot be used."""
    if isinstance(exc, StoreError):
        return Fault(BROKEN, str(exc))
    if isinstance(exc, MemoryError):
        return Fault(TRANSIENT, f"out of memory: {exc}")
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    if code is None:
        return Fault(REFUSED, f"{type(exc).__name__}: {exc}")
    primary = code & 0xFF
    if primary in _TRANSIENT_CODES:
        return Fault(TRANSIENT, sqlite_problem(exc, path))  # type: ignore[arg-type]
    if primary == sqlite3.SQLITE_ERROR:
        where = f"the database {path}" if path else "the database"
        return Fault(
            BROKEN,
            f"{where} refused wf's SQL ({exc}); its tables may have been changed by another"
            " program",
        )
    if primary in _BROKEN_CODES:
        return Fault(BROKEN, sqlite_problem(exc, path))  # type: ignore[arg-type]
    return Fault(REFUSED, f"{type(exc).__name__}: {exc}")


def _read_only(where: str) -> str:
    return (
        f"cannot write to {where}: it is read-only for this user (wf writes to the file"
        " and creates its -wal and -shm files beside it: the file and its directory"
        " must be writable)"
    )


def read_only_problem(url: str) -> str | None:
    """Why this process cannot write to the existing SQLite database of ``url``, else None
    (also for a file not created yet, or another kind of URL). Asked before a worker
    opens a database: its writes happen in the background, where a refusal would only
    be logged, again and again."""
    path = sqlite_file(url)
    if path is None or not os.path.isfile(path):
        return None
    directory = os.path.dirname(os.path.abspath(path))
    if os.access(path, os.W_OK) and os.access(directory, os.W_OK | os.X_OK):
        return None
    return _read_only(f"the database {path}")


def _cannot_open(path: str, exc: sqlite3.Error) -> str:
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"cannot open SQLite database {path}: it is a directory, not a file"
    if not os.path.exists(path) and not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"cannot create SQLite database {path}: its directory {directory} is not writable"
            " for this user (choose another place with --db / WF_DATABASE_URL)"
        )
    if not os.access(path, os.R_OK):
        return f"cannot open SQLite database {path}: it is not readable for this user"
    return f"cannot open SQLite database {path}: {exc}"


def _directory_problem(path: str, directory: str, exc: OSError) -> str:
    """Why the directory of the database file ``path`` could not be created."""
    what = f"cannot create the directory {directory} for SQLite database {path}"
    if isinstance(exc, FileExistsError | NotADirectoryError):
        blocker = directory
        while blocker and not os.path.exists(blocker):
            blocker = os.path.dirname(blocker)
        return f"{what}: {blocker} is a file, not a directory"
    if isinstance(exc, PermissionError):
        return (
            f"{what}: permission denied (run wf where it may write, or choose another place"
            " with --db / WF_DATABASE_URL)"
        )
    return f"{what}: {exc.strerror or exc}"


def sqlite_file(url: str) -> str | None:
    """The database file a ``sqlite:///`` URL names; None for another kind of URL, for
    one naming no file, or for ``:memory:``."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :]
    return path if path and path != ":memory:" else None


def sqlite_path(url: str) -> str:
    """``sqlite:///rel/path.db`` -> ``rel/path.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    if not url.startswith("sqlite:///"):
        raise StoreError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/file.db)")
    path = url[len("sqlite:///") :]
    if not path:
        raise StoreError(f"SQLite URL {url!r} names no file (expected sqlite:///path/to/file.db)")
    return path


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if an error did not end it already (SQLite rolls
    back by itself on some: a full disk, an I/O error), so the error that ended it is
    the one raised, not "cannot rollback - no transaction is active"."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class SQLiteStore(SQLStore):
    #: SQLite commits on the loop's thread without suspending (see ``Store``).
    sync_commits: ClassVar[bool] = True
    _BEGIN: ClassVar[str] = "BEGIN IMMEDIATE"
    # A Python function registered on each connection (see ``_connect``).
    _OWNER_GONE: ClassVar[str] = "wf_owner_gone(lease_owner)"
    _GREATEST: ClassVar[str] = "max"
    _ENDS_WITH: ClassVar[str] = "substr({col}, -?) = ?"

    def __init__(
        self,
        url: str,
        *,
        durability: str = "normal",
        busy_timeout: float = 10.0,
        auto_migrate: bool = True,
    ) -> None:
        self.url = url
        self.auto_migrate = auto_migrate
        self.path = sqlite_path(url)
        self.durability = durability
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        # The file opened, as an absolute path (the process may change directory) and
        # its (st_dev, st_ino): check_database compares them with what the path is now.
        self._opened_path = ""
        self._identity: tuple[int, int] | None = None
        self._checkpointer: Checkpointer | None = None
        self._found_version = 0

    # -- opening ------------------------------------------------------------------

    async def open(self) -> None:
        if self._conn is None:
            self._conn = self._connect()
            if self.path != ":memory:":
                self._opened_path = os.path.abspath(self.path)
                st = os.stat(self._opened_path)
                self._identity = (st.st_dev, st.st_ino)
                self._checkpointer = Checkpointer(self.path, busy_timeout=self.busy_timeout)

    def _connect(self, migrate: bool | None = None) -> sqlite3.Connection:
        path = self.path
        memory = path == ":memory:"
        existed = not memory and os.path.exists(path) and os.path.getsize(path) > 0
        if not memory:
            parent = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise StoreError(_directory_problem(path, parent, exc)) from exc
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout
            )
        except sqlite3.Error as exc:
            raise StoreError(sqlite_problem(exc, path)) from exc
        conn.create_function("wf_owner_gone", 1, local_owner_gone)
        try:
            if existed:
                self._check_existing(conn)
            conn.execute("PRAGMA journal_mode=WAL")
            if not memory:
                # Checkpoints run on a thread of their own (``wf.store._checkpoint``).
                conn.execute("PRAGMA wal_autocheckpoint=0")
            sync = "FULL" if self.durability == "full" else "NORMAL"
            conn.execute(f"PRAGMA synchronous={sync}")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            self._migrate(conn, self.auto_migrate or memory if migrate is None else migrate)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(sqlite_problem(exc, path)) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_existing(self, conn: sqlite3.Connection) -> None:
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            tables = {r[0] for r in rows}
            version = None
            if "wf_schema" in tables:
                version = conn.execute("SELECT MAX(version) FROM wf_schema").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            # Only a file that is not a database is called unusable: a read-only or
            # locked one is the environment's problem, and says so.
            raise StoreError(sqlite_problem(exc, self.path)) from exc
        if "wf_schema" not in tables:
            if tables:
                names = ", ".join(sorted(tables)[:5])
                raise StoreError(
                    f"{self.path} is a SQLite database of another application (tables: {names});"
                    " wf will not write to it. Use a separate file, e.g. sqlite:///.wf/wf.db"
                )
            return
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has wf schema version {version}, newer than this wf understands"
                f" ({SCHEMA_VERSION}); upgrade wf to use it. The file was left untouched."
            )

    def _migrate(self, conn: sqlite3.Connection, apply: bool) -> None:
        """Apply the missing migrations (if ``apply``; else refuse a schema behind)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS wf_schema"
                " (version INTEGER NOT NULL, applied_at REAL NOT NULL)"
            )
            current = conn.execute("SELECT MAX(version) FROM wf_schema").fetchone()[0] or 0
            self._found_version = current
            if current < SCHEMA_VERSION and not apply:
                raise StoreError(
                    f"{self.path} has wf schema version {current}; this wf needs"
                    f" {SCHEMA_VERSION}. Run `wf db upgrade` (WF_AUTO_MIGRATE=0 turned off"
                    " migrating on open)."
                )
            for version in sorted(SQLITE_MIGRATIONS):
                if version > current:
                    for statement in SQLITE_MIGRATIONS[version]:
                        conn.execute(statement)
                    conn.execute("INSERT INTO wf_schema VALUES (?, ?)", (version, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    async def upgrade(self) -> tuple[int, int]:
        conn = self._connect(migrate=True)
        conn.close()
        return self._found_version, max(self._found_version, SCHEMA_VERSION)

    async def describe(self) -> tuple[int, dict[str, int]]:
        if self.path != ":memory:" and not os.path.exists(self.path):
            return 0, {}
        try:
            # Read-only: a status changes nothing (a URI, so the path is quoted).
            conn = sqlite3.connect(
                f"{pathlib.Path(self.path).absolute().as_uri()}?mode=ro", uri=True
            )
        except sqlite3.Error as exc:
            raise StoreError(sqlite_problem(exc, self.path)) from exc
        conn.create_function("wf_owner_gone", 1, local_owner_gone)
        try:
            self._check_existing(conn)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "wf_schema" not in tables:
                return 0, {}
            version = conn.execute("SELECT MAX(version) FROM wf_schema").fetchone()[0] or 0
            self._conn, previous = conn, self._conn
            try:
                return int(version), self._count_runs(time.time())
            finally:
                self._conn = previous
        except sqlite3.Error as exc:
            raise StoreError(sqlite_problem(exc, self.path)) from exc
        finally:
            conn.close()

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def check_database(self) -> None:
        if self._identity is None:
            return
        path = self._opened_path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise StoreError(
                f"{path} was removed while this worker was using it; it stopped rather than"
                " write to a deleted file (start it again to use a new database there)"
            ) from None
        except OSError:
            return  # unreadable for a moment (a permission change): not proof of anything
        if (st.st_dev, st.st_ino) != self._identity:
            raise StoreError(
                f"{path} was replaced by another file while this worker was using it; it"
                " stopped rather than write to the old one (start it again to use the new one)"
            )

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is not open (use `async with wf.Engine(...)`)")
        return self._conn

    # -- the dialect ------------------------------------------------------------------

    def _x(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def _xmany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        self.conn.executemany(sql, rows)

    def _commit_tx(self) -> None:
        self.conn.execute("COMMIT")
        checkpointer = self._checkpointer
        if checkpointer is not None and checkpointer.committed():
            busy = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0]
            if busy:
                checkpointer.restart_wanted = True  # after the next commit, then

    def _rollback(self) -> None:
        if self._conn is not None:
            _rollback(self._conn)

    def _in_transaction(self) -> bool:
        return self.conn.in_transaction

    def _settled(self, record: RunRecord) -> RunRecord:
        return record  # decided in SQL (``_OWNER_GONE``)

    def classify(self, exc: Exception) -> Fault:
        return sqlite_fault(exc, self.path)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        # Statements run on the loop's thread (see the module's docstring).
        return fn(*args)
