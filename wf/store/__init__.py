"""The store seam: what the engine asks of a database, and the backends that answer.

``_protocol`` holds the ``Store`` protocol and the typed data it exchanges with the
engine (``Commit``, ``RunUpdate``, ``RunRecord``, ...); ``_sqlite`` is the SQLite
backend; ``_faults`` sorts store errors (transient, broken, refused);
``conformance`` is the test kit every backend passes (it needs pytest).
"""

from __future__ import annotations

from wf.store._protocol import (
    ACTIVE,
    FINISHED,
    Commit,
    HookRecord,
    InboxItem,
    InboxKind,
    RunRecord,
    RunUpdate,
    Store,
    open_store,
)

__all__ = [
    "ACTIVE",
    "FINISHED",
    "Commit",
    "HookRecord",
    "InboxItem",
    "InboxKind",
    "RunRecord",
    "RunUpdate",
    "Store",
    "open_store",
]
