"""The store seam: what the engine asks of a database, and the backends that answer.

``_protocol`` holds the ``Store`` protocol and the records it returns (``RunRecord``,
...); ``_commands`` the commands the engine hands it (``AppendEvent``, ``UpdateRun``,
..., gathered in a ``Batch``) and the ``CommitResult`` it answers with; ``_sql`` the
SQL base with wf's rules, written once; ``_sqlite`` the SQLite dialect of it;
``_faults`` sorts store errors (transient, broken, refused); ``conformance`` is the
test kit every backend passes (it needs pytest).
"""

from __future__ import annotations

from wf.store._commands import (
    AppendEvent,
    Batch,
    Command,
    CommitResult,
    ConsumeInbox,
    RegisterHook,
    StartChild,
    UpdateRun,
    WatchRun,
)
from wf.store._protocol import (
    ACTIVE,
    FINISHED,
    HookRecord,
    InboxItem,
    InboxKind,
    RunRecord,
    Store,
    open_store,
)
from wf.store._sql import SQLStore

__all__ = [
    "ACTIVE",
    "FINISHED",
    "AppendEvent",
    "Batch",
    "Command",
    "CommitResult",
    "ConsumeInbox",
    "HookRecord",
    "InboxItem",
    "InboxKind",
    "RegisterHook",
    "RunRecord",
    "SQLStore",
    "StartChild",
    "Store",
    "UpdateRun",
    "WatchRun",
    "open_store",
]
