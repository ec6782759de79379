"""The embedded SQLite store.

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

import json
import os
import sqlite3
import time
from collections.abc import Collection, Mapping, Sequence

from wf._errors import RunNotFoundError, StoreError, WorkflowError
from wf.runtime._events import (
    RUN_FAILED,
    RUN_STARTED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_RETRYING,
    Event,
)
from wf.store._faults import BROKEN, REFUSED, TRANSIENT, Fault
from wf.store._protocol import (
    ACTIVE,
    FINISHED,
    Commit,
    HookRecord,
    InboxItem,
    InboxKind,
    RunRecord,
    RunUpdate,
    local_owner_gone,
)

__all__ = [
    "SCHEMA_VERSION",
    "SQLiteStore",
    "read_only_problem",
    "sqlite_fault",
    "sqlite_file",
    "sqlite_path",
    "sqlite_problem",
]

SCHEMA_VERSION = 4

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            workflow_id TEXT NOT NULL,
            status TEXT NOT NULL,
            input TEXT NOT NULL,
            result TEXT,
            error TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            wake_at REAL,
            lease_owner TEXT,
            lease_expires REAL,
            attempt INTEGER NOT NULL DEFAULT 1
        )""",
        "CREATE INDEX runs_claim ON runs (status, wake_at)",
        "CREATE INDEX runs_owner ON runs (lease_owner)",
        """CREATE TABLE events (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            cid INTEGER,
            name TEXT,
            data TEXT,
            at REAL NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            name TEXT,
            data TEXT,
            at REAL NOT NULL
        )""",
        "CREATE INDEX inbox_run ON inbox (run_id)",
    ),
    # v2: hook tokens, held by a live run until it ends; child runs know their parent.
    2: (
        "ALTER TABLE runs ADD COLUMN parent_id TEXT",
        """CREATE TABLE hooks (
            token TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            cid INTEGER NOT NULL,
            created_at REAL NOT NULL,
            type TEXT
        )""",
        "CREATE INDEX hooks_run ON hooks (run_id)",
    ),
    # v3: webhooks (a hook reachable over HTTP, with how its caller is answered) and the
    # responses steps give to webhook requests that wait for one.
    3: (
        "ALTER TABLE hooks ADD COLUMN webhook TEXT",
        """CREATE TABLE webhook_responses (
            request_id TEXT PRIMARY KEY,
            status INTEGER,
            headers TEXT,
            body BLOB,
            at REAL NOT NULL
        )""",
        "CREATE INDEX webhook_responses_at ON webhook_responses (at)",
    ),
    # v4: runs waiting for another run (not their child) to end, told when it does.
    4: (
        """CREATE TABLE watchers (
            run_id TEXT NOT NULL,
            watcher_id TEXT NOT NULL,
            cid INTEGER NOT NULL,
            PRIMARY KEY (run_id, watcher_id, cid)
        )""",
        "CREATE INDEX watchers_watcher ON watchers (watcher_id)",
    ),
}

_RUN_COLUMNS = (
    "run_id, workflow_id, status, input, result, error, created_at, updated_at,"
    " wake_at, lease_owner, attempt"
)
_ACTIVE_SQL = ", ".join(f"'{s}'" for s in ACTIVE)
# A running run that no live lease holds reads as pending: its worker died or stalled
# and it waits for another; so does one whose worker was a process of this host that
# is gone (``wf_owner_gone``, registered on each connection), at once. Nobody may be
# left to write that into the row (the worker is gone), so reads derive it; the one
# ``?`` is the time of the read.
_SHOWN_STATUS = (
    "CASE WHEN status = 'running' AND (lease_owner IS NULL OR lease_expires < ?"
    " OR wf_owner_gone(lease_owner)) THEN 'pending' ELSE status END"
)
# A run was last updated when its row changed or its last event was logged, whichever
# is later. Read from the log's last entry (one seek on its primary key) rather than
# written to the row with every commit: that write would cost each step a second
# page in the WAL, about a third of a commit.
_SHOWN_UPDATED = (
    "max(updated_at, coalesce((SELECT e.at FROM events e WHERE e.run_id = runs.run_id"
    " ORDER BY e.seq DESC LIMIT 1), updated_at))"
)
_SHOWN_COLUMNS = _RUN_COLUMNS.replace(" status,", f" {_SHOWN_STATUS},", 1).replace(
    " updated_at,", f" {_SHOWN_UPDATED},", 1
)


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


def _record(row: Sequence[object]) -> RunRecord:
    return RunRecord(*row)  # type: ignore[arg-type]


class SQLiteStore:
    def __init__(self, url: str, *, durability: str = "normal", busy_timeout: float = 10.0) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self.durability = durability
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        # The file opened, as an absolute path (the process may change directory) and
        # its (st_dev, st_ino): check_database compares them with what the path is now.
        self._opened_path = ""
        self._identity: tuple[int, int] | None = None

    # -- opening ------------------------------------------------------------------

    async def open(self) -> None:
        if self._conn is None:
            self._conn = self._connect()
            if self.path != ":memory:":
                self._opened_path = os.path.abspath(self.path)
                st = os.stat(self._opened_path)
                self._identity = (st.st_dev, st.st_ino)

    def _connect(self) -> sqlite3.Connection:
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
            sync = "FULL" if self.durability == "full" else "NORMAL"
            conn.execute(f"PRAGMA synchronous={sync}")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            self._migrate(conn)
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

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS wf_schema"
                " (version INTEGER NOT NULL, applied_at REAL NOT NULL)"
            )
            current = conn.execute("SELECT MAX(version) FROM wf_schema").fetchone()[0] or 0
            for version in sorted(_MIGRATIONS):
                if version > current:
                    for statement in _MIGRATIONS[version]:
                        conn.execute(statement)
                    conn.execute("INSERT INTO wf_schema VALUES (?, ?)", (version, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    async def close(self) -> None:
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

    # -- writes --------------------------------------------------------------------

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
        c = self.conn
        status = "pending" if owner is None else "running"
        c.execute("BEGIN IMMEDIATE")
        try:
            cur = c.execute(
                "INSERT OR IGNORE INTO runs (run_id, workflow_id, status, input, created_at,"
                " updated_at, wake_at, lease_owner, lease_expires)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, workflow_id, status, input, now, now, wake_at, owner, lease_expires),
            )
            created = cur.rowcount == 1
            if created:
                c.execute(
                    "INSERT INTO events VALUES (?, 0, ?, NULL, ?, ?, ?)",
                    (run_id, RUN_STARTED, workflow_id, input, now),
                )
            c.execute("COMMIT")
        except BaseException:
            _rollback(c)
            raise
        return created

    async def commit(self, commit: Commit, owner: str, *, verify_owner: bool = True) -> list[str]:
        return self.commit_sync(commit, owner, verify_owner=verify_owner)

    def classify(self, exc: Exception) -> Fault:
        return sqlite_fault(exc, self.path)

    #: SQLite commits on the loop's thread without suspending (see ``Store``).
    sync_commits = True

    def commit_sync(self, commit: Commit, owner: str, *, verify_owner: bool = True) -> list[str]:
        """``commit`` without a coroutine: the engine calls it from a loop callback."""
        c = self.conn
        now = time.time()
        c.execute("BEGIN IMMEDIATE")
        try:
            # Runs this owner no longer holds were taken over by another worker: their
            # writes are dropped, so a stale worker never appends into the new owner's log
            # nor consumes its inbox. The check and the writes share one write transaction.
            lost = self._lost_runs(commit, owner) if verify_owner else set()
            # Reported only once the transaction commits (a retried commit starts clean).
            conflicts: dict[str, str] = {}
            self._apply(commit, owner, lost, now, conflicts)
            c.execute("COMMIT")
        except Exception as exc:
            _rollback(c)
            if sqlite_fault(exc).kind != REFUSED:
                raise
            return self._commit_by_run(commit, owner, verify_owner)
        except BaseException:
            _rollback(c)
            raise
        commit.conflicts = conflicts
        return sorted(lost)

    def _commit_by_run(self, commit: Commit, owner: str, verify_owner: bool) -> list[str]:
        """Apply ``commit`` again, each run's part under a savepoint of one transaction:
        a part the database refuses is rolled back and reported in ``commit.refused``,
        the others are committed together."""
        c = self.conn
        refused: dict[str, Exception] = {}
        while True:
            now = time.time()
            c.execute("BEGIN IMMEDIATE")
            try:
                lost = self._lost_runs(commit, owner) if verify_owner else set()
                inbox_runs: dict[int, str] = {}
                if commit.consumed:
                    inbox_runs = dict(
                        c.execute(
                            "SELECT id, run_id FROM inbox WHERE id IN"
                            " (SELECT value FROM json_each(?))",
                            (json.dumps(commit.consumed),),
                        ).fetchall()
                    )
                conflicts: dict[str, str] = {}
                restart = False
                for run_id, part in commit.by_run(inbox_runs).items():
                    if run_id in refused:
                        continue
                    found: dict[str, str] = {}
                    c.execute("SAVEPOINT wf_run")
                    try:
                        self._apply(part, owner, lost, now, found)
                    except Exception as exc:
                        if sqlite_fault(exc).kind != REFUSED:
                            raise
                        refused[run_id] = exc
                        if not c.in_transaction:
                            # The refusal ended the transaction (a trigger's
                            # RAISE(ROLLBACK)): start again without this run.
                            restart = True
                            break
                        c.execute("ROLLBACK TO wf_run")
                    else:
                        conflicts.update(found)
                    c.execute("RELEASE wf_run")
                if restart:
                    continue
                c.execute("COMMIT")
            except BaseException:
                _rollback(c)
                raise
            commit.conflicts = conflicts
            commit.refused = refused
            return sorted(lost)

    def _apply(
        self, commit: Commit, owner: str, lost: set[str], now: float, conflicts: dict[str, str]
    ) -> None:
        """Write ``commit`` (but the writes of ``lost`` runs) in the open transaction."""
        c = self.conn
        events = [e for e in commit.events if e[0] not in lost]
        for child_id, workflow_id, payload, parent_id, wake_at, cid in commit.children:
            if parent_id in lost:
                continue
            cur = c.execute(
                "INSERT OR IGNORE INTO runs (run_id, workflow_id, status, input, created_at,"
                " updated_at, wake_at, parent_id) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
                (child_id, workflow_id, payload, now, now, wake_at, parent_id),
            )
            if cur.rowcount == 1:
                c.execute(
                    "INSERT INTO events VALUES (?, 0, ?, NULL, ?, ?, ?)",
                    (child_id, RUN_STARTED, workflow_id, payload, now),
                )
            else:
                self._child_exists(child_id, workflow_id, parent_id, cid, now)
        for watched, watcher, cid in commit.watches:
            if watcher not in lost:
                self._watch(watched, watcher, cid, now)
        for token, run_id, cid in commit.hooks:
            if run_id in lost:
                continue
            c.execute(
                "INSERT OR IGNORE INTO hooks (token, run_id, cid, created_at, type, webhook)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    token,
                    run_id,
                    cid,
                    now,
                    commit.hook_types.get(token),
                    commit.webhooks.get(token),
                ),
            )
            holder = c.execute("SELECT run_id FROM hooks WHERE token = ?", (token,)).fetchone()
            if holder[0] != run_id:
                conflicts[token] = holder[0]
        if events:
            c.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", events)
        if commit.consumed:
            c.executemany(
                "DELETE FROM inbox WHERE id = ?"
                " AND run_id IN (SELECT run_id FROM runs WHERE lease_owner = ?)",
                [(i, owner) for i in commit.consumed],
            )
        for u in commit.updates:
            if u.run_id in lost:
                continue
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
            c.execute(f"UPDATE runs SET {', '.join(sets)} WHERE run_id = ?", params)
            if u.status in FINISHED:
                c.execute("DELETE FROM hooks WHERE run_id = ?", (u.run_id,))
                c.execute("DELETE FROM watchers WHERE watcher_id = ?", (u.run_id,))
                self._tell_parent(u, now)
                self._tell_watchers(u, now)
            if u.release:
                # A request posted while the run was held and not yet read must
                # still wake it once it is released.
                c.execute(
                    f"UPDATE runs SET wake_at = ? WHERE run_id = ? AND status IN"
                    f" ({_ACTIVE_SQL}) AND (wake_at IS NULL OR wake_at > ?)"
                    f" AND EXISTS (SELECT 1 FROM inbox WHERE inbox.run_id = runs.run_id)",
                    (now, u.run_id, now),
                )

    def _child_exists(
        self, child_id: str, workflow_id: str, parent_id: str, cid: int, now: float
    ) -> None:
        """A workflow started a child with the id of a run that already exists. A run of
        the same workflow is the child (starting with an id is idempotent): the parent
        is told when it ends, as for any run it waits for. A run of another workflow
        is a conflict: the parent's handle fails with ``wf.RunIdConflictError``."""
        row = self.conn.execute(
            "SELECT workflow_id, parent_id FROM runs WHERE run_id = ?", (child_id,)
        ).fetchone()
        if row[1] == parent_id:
            return  # created by this very parent earlier: it reports as a child does
        if row[0] == workflow_id:
            self._watch(child_id, parent_id, cid, now)
            return
        error = {
            "type": "wf:RunIdConflictError",  # a stable name (wf._names)
            "message": f"run id {child_id!r} belongs to a run of {row[0]}, not of {workflow_id}",
        }
        outcome = {"status": "failed", "result": None, "error": json.dumps(error)}
        self._tell_watcher(parent_id, cid, child_id, outcome, now)

    def _watch(self, watched: str, watcher: str, cid: int, now: float) -> None:
        """Run ``watcher`` waits (operation ``cid``) for run ``watched`` to end: told at
        once if it already has (or never existed), else when it does."""
        c = self.conn
        row = c.execute(
            "SELECT status, result, error FROM runs WHERE run_id = ?", (watched,)
        ).fetchone()
        if row is not None and row[0] not in FINISHED:
            c.execute(
                "INSERT OR IGNORE INTO watchers (run_id, watcher_id, cid) VALUES (?, ?, ?)",
                (watched, watcher, cid),
            )
            return
        outcome = (
            {"status": "missing"}
            if row is None
            else {"status": row[0], "result": row[1], "error": row[2]}
        )
        self._tell_watcher(watcher, cid, watched, outcome, now)

    def _tell_watchers(self, update: RunUpdate, now: float) -> None:
        """A run ended: queue its outcome for every run waiting for it."""
        c = self.conn
        rows = c.execute(
            "DELETE FROM watchers WHERE run_id = ? RETURNING watcher_id, cid", (update.run_id,)
        ).fetchall()
        outcome = {"status": update.status, "result": update.result, "error": update.error}
        for watcher, cid in rows:
            self._tell_watcher(watcher, cid, update.run_id, outcome, now)

    def _tell_watcher(
        self, watcher: str, cid: int, watched: str, outcome: Mapping[str, object], now: float
    ) -> None:
        c = self.conn
        data = json.dumps({**outcome, "run_id": watched})
        c.execute(
            "INSERT INTO inbox (run_id, kind, name, data, at) VALUES (?, ?, ?, ?, ?)",
            (watcher, InboxKind.WATCH, str(cid), data, now),
        )
        c.execute(
            "UPDATE runs SET wake_at = ? WHERE run_id = ? AND lease_owner IS NULL"
            " AND status IN ('sleeping', 'waiting')",
            (now, watcher),
        )

    def _tell_parent(self, update: RunUpdate, now: float) -> None:
        """A child run ended: queue its outcome for its parent, if the parent still runs."""
        c = self.conn
        row = c.execute(
            f"SELECT p.run_id FROM runs r JOIN runs p ON p.run_id = r.parent_id"
            f" WHERE r.run_id = ? AND p.status IN ({_ACTIVE_SQL})",
            (update.run_id,),
        ).fetchone()
        if row is None:
            return
        outcome = json.dumps(
            {"status": update.status, "result": update.result, "error": update.error}
        )
        c.execute(
            "INSERT INTO inbox (run_id, kind, name, data, at) VALUES (?, ?, ?, ?, ?)",
            (row[0], InboxKind.CHILD, update.run_id, outcome, now),
        )
        c.execute(
            "UPDATE runs SET wake_at = ? WHERE run_id = ? AND lease_owner IS NULL"
            " AND status IN ('sleeping', 'waiting')",
            (now, row[0]),
        )

    def _lost_runs(self, commit: Commit, owner: str) -> set[str]:
        run_ids = (
            {e[0] for e in commit.events}
            | {u.run_id for u in commit.updates}
            | {h[1] for h in commit.hooks}
        )
        if not run_ids:
            return set()
        # One indexed query per commit, however many runs the batch touches.
        held = {
            row[0]
            for row in self.conn.execute("SELECT run_id FROM runs WHERE lease_owner = ?", (owner,))
        }
        return run_ids - held

    async def retry_run(self, run_id: str) -> list[int]:
        c = self.conn
        now = time.time()
        c.execute("BEGIN IMMEDIATE")
        try:
            row = c.execute(
                "SELECT status, lease_owner, lease_expires FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFoundError(f"no run with id {run_id!r} in {self.url}")
            if row[0] != "failed":
                raise WorkflowError(f"run {run_id} is {row[0]}: only a failed run can be retried")
            if row[1] is not None and (row[2] or 0) > now:
                raise WorkflowError(
                    f"run {run_id} is still finishing the steps that were running when it"
                    " failed; retry it once they have ended"
                )
            tail = c.execute(
                "SELECT seq, kind FROM events WHERE run_id = ? ORDER BY seq DESC", (run_id,)
            ).fetchall()
            dropped: list[int] = []
            # Steps that were running when the run failed may have recorded their
            # outcomes after its run_failed: completions are kept, failures dropped.
            end = 0
            while end < len(tail) and tail[end][1] in (STEP_COMPLETED, STEP_FAILED):
                if tail[end][1] == STEP_FAILED:
                    dropped.append(tail[end][0])
                end += 1
            if end < len(tail) and tail[end][1] == RUN_FAILED:
                # The failure that ended the run, and the step failures that led to
                # it, are dropped: those steps run again with the current code.
                dropped.append(tail[end][0])
                for seq, kind in tail[end + 1 :]:
                    if kind not in (STEP_FAILED, STEP_RETRYING):
                        break
                    dropped.append(seq)
            else:
                dropped = []  # no run_failed at the end (a nondeterminism failure)
            c.executemany(
                "DELETE FROM events WHERE run_id = ? AND seq = ?", [(run_id, s) for s in dropped]
            )
            c.execute(
                "UPDATE runs SET status = 'pending', error = NULL, result = NULL, wake_at = ?,"
                " updated_at = ?, lease_owner = NULL, lease_expires = NULL,"
                " attempt = attempt + 1 WHERE run_id = ?",
                (now, now, run_id),
            )
            c.execute("COMMIT")
        except BaseException:
            _rollback(c)
            raise
        return dropped

    async def fail_run(self, run_id: str, owner: str, error: str) -> None:
        c = self.conn
        now = time.time()
        c.execute("BEGIN IMMEDIATE")
        try:
            cur = c.execute(
                "UPDATE runs SET status = 'failed', error = ?, updated_at = ?, lease_owner = NULL,"
                " lease_expires = NULL, wake_at = NULL WHERE run_id = ? AND lease_owner = ?",
                (error, now, run_id, owner),
            )
            if cur.rowcount == 1:
                c.execute("DELETE FROM hooks WHERE run_id = ?", (run_id,))
                self._tell_parent(RunUpdate(run_id, status="failed", error=error), now)
            c.execute("COMMIT")
        except BaseException:
            _rollback(c)
            raise

    # -- leases --------------------------------------------------------------------

    async def claim(
        self, owner: str, limit: int, now: float, lease: float, exclude: Collection[str] = ()
    ) -> list[RunRecord]:
        c = self.conn
        # Runs this worker left (it cannot execute them) stay due for the others.
        skip = " AND run_id NOT IN (SELECT value FROM json_each(?))" if exclude else ""
        skipped = (json.dumps(list(exclude)),) if exclude else ()
        # Most polls find nothing due: a read answers that without taking the write
        # lock, which every worker process on the file and every commit contends for.
        due = c.execute(
            f"SELECT 1 FROM runs WHERE status IN ({_ACTIVE_SQL}) AND wake_at <= ?"
            f" AND (lease_owner IS NULL OR (lease_expires < ? AND lease_owner != ?)){skip}"
            f" LIMIT 1",
            (now, now, owner, *skipped),
        ).fetchone()
        if due is None:
            return []
        c.execute("BEGIN IMMEDIATE")
        try:
            rows = c.execute(
                # error: the note of a worker that left the run; whoever holds it now
                # is not that worker (it never claims a run it left).
                f"UPDATE runs SET lease_owner = ?, lease_expires = ?, status = 'running',"
                f" updated_at = ?, error = NULL WHERE run_id IN (SELECT run_id FROM runs"
                f" WHERE status IN ({_ACTIVE_SQL}) AND wake_at <= ?"
                # Not our own expired leases: a worker whose heartbeat stalled must not
                # renew its runs by claiming them again while another takes them over.
                f" AND (lease_owner IS NULL OR (lease_expires < ? AND lease_owner != ?)){skip}"
                f" ORDER BY wake_at LIMIT ?) RETURNING {_RUN_COLUMNS}",
                (owner, now + lease, now, now, now, owner, *skipped, limit),
            ).fetchall()
            c.execute("COMMIT")
        except BaseException:
            _rollback(c)
            raise
        return [_record(r) for r in rows]

    async def renew(self, owner: str, now: float, lease: float) -> list[str]:
        rows = self.conn.execute(
            "UPDATE runs SET lease_expires = ? WHERE lease_owner = ? RETURNING run_id",
            (now + lease, owner),
        ).fetchall()
        return [row[0] for row in rows]

    async def release(self, owner: str, run_ids: Sequence[str]) -> None:
        self.conn.executemany(
            "UPDATE runs SET lease_owner = NULL, lease_expires = NULL,"
            " status = CASE status WHEN 'running' THEN 'pending' ELSE status END"
            " WHERE run_id = ? AND lease_owner = ?",
            [(r, owner) for r in run_ids],
        )

    async def expire_owner(self, owner: str) -> None:
        self.conn.execute("UPDATE runs SET lease_expires = 0 WHERE lease_owner = ?", (owner,))

    async def lease_owners(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT lease_owner FROM runs WHERE lease_owner IS NOT NULL"
        ).fetchall()
        return [r[0] for r in rows]

    # -- reads -----------------------------------------------------------------------

    async def get_run(self, run_id: str, *, now: float | None = None) -> RunRecord | None:
        row = self.conn.execute(
            f"SELECT {_SHOWN_COLUMNS} FROM runs WHERE run_id = ?",
            (time.time() if now is None else now, run_id),
        ).fetchone()
        return None if row is None else _record(row)

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 100,
        now: float | None = None,
    ) -> list[RunRecord]:
        now = time.time() if now is None else now
        where: list[str] = []
        params: list[object] = []
        if status is not None:
            where.append(f"{_SHOWN_STATUS} = ?")
            params += [now, status]
        if workflow is not None:
            # An exact id or a ":name" suffix, compared literally (LIKE would treat
            # "_" and "%" as wildcards and ignore case).
            where.append("(workflow_id = ? OR substr(workflow_id, ?) = ?)")
            params += [workflow, -(len(workflow) + 1), f":{workflow}"]
        newest = "SELECT * FROM runs"
        if where:
            newest += " WHERE " + " AND ".join(where)
        newest += " ORDER BY created_at DESC LIMIT ?"
        # The shown columns (a seek into each run's log) only for the rows returned,
        # not for every row the sort goes through.
        sql = f"SELECT {_SHOWN_COLUMNS} FROM ({newest}) AS runs ORDER BY created_at DESC"
        rows = self.conn.execute(sql, [now, *params, limit]).fetchall()
        return [_record(r) for r in rows]

    async def load_events(self, run_id: str, after: int = -1) -> list[Event]:
        rows = self.conn.execute(
            "SELECT seq, kind, cid, name, data, at FROM events WHERE run_id = ? AND seq > ?"
            " ORDER BY seq",
            (run_id, after),
        ).fetchall()
        return [Event(*r) for r in rows]

    # -- inbox -------------------------------------------------------------------------

    async def post(self, run_id: str, kind: str, name: str | None, data: str | None) -> None:
        c = self.conn
        now = time.time()
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute(
                "INSERT INTO inbox (run_id, kind, name, data, at) VALUES (?, ?, ?, ?, ?)",
                (run_id, kind, name, data, now),
            )
            c.execute(
                "UPDATE runs SET wake_at = ? WHERE run_id = ? AND status IN ('sleeping', 'waiting',"
                " 'pending') AND lease_owner IS NULL",
                (now, run_id),
            )
            c.execute("COMMIT")
        except BaseException:
            _rollback(c)
            raise

    async def hook_info(self, token: str) -> HookRecord | None:
        row = self.conn.execute(
            "SELECT run_id, type, webhook FROM hooks WHERE token = ?", (token,)
        ).fetchone()
        return None if row is None else HookRecord(str(row[0]), row[1], row[2])

    # -- webhook responses ------------------------------------------------------------

    async def set_webhook_response(
        self, request_id: str, status: int, headers: str, body: bytes
    ) -> bool:
        c = self.conn
        now = time.time()
        c.execute("BEGIN IMMEDIATE")
        try:
            cur = c.execute(
                "INSERT OR IGNORE INTO webhook_responses VALUES (?, ?, ?, ?, ?)",
                (request_id, status, headers, body, now),
            )
            # Answers nobody came back for (the caller timed out, its server died):
            # kept a day, then dropped with the next answer.
            c.execute("DELETE FROM webhook_responses WHERE at < ?", (now - 86400.0,))
            c.execute("COMMIT")
        except BaseException:
            _rollback(c)
            raise
        return cur.rowcount == 1

    async def take_webhook_response(self, request_id: str) -> tuple[int, str, bytes] | None:
        row = self.conn.execute(
            "DELETE FROM webhook_responses WHERE request_id = ? AND status IS NOT NULL"
            " RETURNING status, headers, body",
            (request_id,),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]))

    async def discard_webhook_response(self, request_id: str) -> None:
        # A row without a status marks the request as abandoned, so that a late
        # answer finds its place taken (INSERT OR IGNORE) and is not kept.
        self.conn.execute(
            "INSERT OR REPLACE INTO webhook_responses VALUES (?, NULL, NULL, NULL, ?)",
            (request_id, time.time()),
        )

    async def post_to_hook(self, token: str, data: str | None) -> str | None:
        c = self.conn
        now = time.time()
        c.execute("BEGIN IMMEDIATE")
        try:
            row = c.execute("SELECT run_id FROM hooks WHERE token = ?", (token,)).fetchone()
            if row is not None:
                c.execute(
                    "INSERT INTO inbox (run_id, kind, name, data, at) VALUES (?, ?, ?, ?, ?)",
                    (row[0], InboxKind.HOOK, token, data, now),
                )
                c.execute(
                    "UPDATE runs SET wake_at = ? WHERE run_id = ? AND status IN ('sleeping',"
                    " 'waiting', 'pending') AND lease_owner IS NULL",
                    (now, row[0]),
                )
            c.execute("COMMIT")
        except BaseException:
            _rollback(c)
            raise
        return None if row is None else str(row[0])

    async def inbox(self, owner: str) -> list[InboxItem]:
        rows = self.conn.execute(
            "SELECT i.id, i.run_id, i.kind, i.name, i.data, i.at FROM inbox i"
            " JOIN runs r ON r.run_id = i.run_id WHERE r.lease_owner = ? ORDER BY i.id",
            (owner,),
        ).fetchall()
        return [InboxItem(*r) for r in rows]
