"""WAL checkpoints on a thread of their own, off the commit path.

In WAL mode a commit appends to the ``-wal`` file; a checkpoint copies those
pages back into the database file and syncs it. SQLite runs one inside the
commit that crosses ``wal_autocheckpoint`` pages (1,000 by default), so every
few hundred commits one of them, on the event loop's thread, also pays for the
copy and the fsync. The store turns that off on its connection and asks this
thread to run a PASSIVE checkpoint (it never waits for readers or writers)
every ``every`` commits, on a connection of its own: SQLite releases the GIL
while it works, so the loop goes on committing meanwhile.

The WAL starts over from its beginning only when a writer begins a transaction
while every frame in it has been copied; under a steady stream of commits the
thread never finishes before the next one begins, and the file keeps growing.
So once it holds more than ``restart_frames`` frames (1,000 pages, SQLite's own
threshold), the committing connection checkpoints itself right after a commit:
the thread has copied nearly everything already, so that costs little more than
the syncs, and the next commit starts the WAL over.

Durability is unchanged: a commit is as durable as ``synchronous`` makes it
once it is in the WAL; the checkpoint only bounds the WAL's size. Closing the
store's last connection still checkpoints and removes the WAL, as SQLite does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

__all__ = ["Checkpointer"]

log = logging.getLogger("wf")


class Checkpointer:
    """A daemon thread that checkpoints the WAL of database ``path`` when asked."""

    def __init__(
        self, path: str, *, busy_timeout: float, every: int = 200, restart_frames: int = 1000
    ) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.every = every
        self.restart_frames = restart_frames
        self._commits = 0
        #: Set by the thread when the WAL holds more than ``restart_frames`` frames.
        self.restart_wanted = False
        # The thread could not open its connection: the committing connection then
        # checkpoints itself every ``every`` commits.
        self._alone = False
        self._wanted = threading.Event()
        self._stopping = False
        # The thread opens its own connection: opening the store does not wait for it.
        self._thread = threading.Thread(target=self._loop, name="wf-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> bool:
        """Count one commit and wake the thread every ``every`` commits. True when the
        committing connection should checkpoint itself now (see the module's doc)."""
        if self.restart_wanted:
            self.restart_wanted = False
            return True
        self._commits += 1
        if self._commits < self.every:
            return False
        self._commits = 0
        if self._alone:
            return True  # as SQLite would by itself, every few hundred commits
        self._wanted.set()
        return False

    def _loop(self) -> None:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout
            )
        except sqlite3.Error as exc:
            log.warning("wf: WAL checkpoints stay in commits (no second connection: %s)", exc)
            self._alone = True
            return
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                try:
                    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:
                    # Another process checkpointing, a lock held: the next one catches
                    # up, and the WAL is only bigger meanwhile.
                    log.debug("wf: WAL checkpoint skipped: %s", exc)
                    continue
                if frames > self.restart_frames:
                    self.restart_wanted = True
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join()
