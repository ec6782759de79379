"""The commands a store applies, the batch that carries one tick of them, and its result.

The run context and the worker say what must be written as frozen command objects;
the engine's committer gathers every command of a loop tick into one ``Batch``; the
store applies the batch in one transaction and answers with a ``CommitResult``. A new
durable primitive is one command class here, one method of the run context that
issues it, and one handler in the SQL base (``wf.store._sql``).

Every command names ``run_id``, the run whose writes it is: a batch is split by it
when the database refuses one run's writes, and the writes of a run whose lease this
worker lost are dropped by it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from wf.runtime._events import Event

__all__ = [
    "COMMAND_KINDS",
    "AppendEvent",
    "Batch",
    "Command",
    "CommitResult",
    "ConsumeInbox",
    "RegisterHook",
    "StartChild",
    "UpdateRun",
    "WatchRun",
]


@dataclass(frozen=True, slots=True)
class StartChild:
    """Create the child run ``child_id`` (if absent) for the run ``run_id`` that started
    it at correlation id ``cid``: pending, due at ``wake_at``."""

    run_id: str
    child_id: str
    workflow_id: str
    input: str
    wake_at: float
    cid: int


@dataclass(frozen=True, slots=True)
class WatchRun:
    """Run ``run_id`` waits (operation ``cid``) for run ``watched`` to end."""

    run_id: str
    watched: str
    cid: int


@dataclass(frozen=True, slots=True)
class RegisterHook:
    """Run ``run_id`` holds hook ``token`` (operation ``cid``) until it ends. ``type`` is
    the payload type (``module:qualname``) of a typed hook; ``webhook`` how the HTTP
    caller of a webhook is answered (JSON, see ``wf.runtime._webhooks``)."""

    run_id: str
    token: str
    cid: int
    type: str | None = None
    webhook: str | None = None


@dataclass(frozen=True, slots=True)
class AppendEvent:
    """Append ``event`` to the log of run ``run_id``."""

    run_id: str
    event: Event


@dataclass(frozen=True, slots=True)
class ConsumeInbox:
    """Delete inbox item ``item_id`` of run ``run_id``: the worker turned it into events
    of the same batch."""

    run_id: str
    item_id: int


@dataclass(frozen=True, slots=True)
class UpdateRun:
    """A change to a run's row. A status that ends the run also releases its hooks and
    tells its parent and the runs waiting for it."""

    run_id: str
    status: str | None = None
    result: str | None = None
    error: str | None = None
    wake_at: float | None = None
    set_wake: bool = False
    release: bool = False


Command = StartChild | WatchRun | RegisterHook | AppendEvent | ConsumeInbox | UpdateRun

#: The command kinds in the order a store applies them: the rows other writes refer to
#: first (a child, a wait, a hook), a run's end last (it releases its hooks and tells
#: the runs waiting for it).
COMMAND_KINDS: tuple[type[Command], ...] = (
    StartChild,
    WatchRun,
    RegisterHook,
    AppendEvent,
    ConsumeInbox,
    UpdateRun,
)

C = TypeVar("C", StartChild, WatchRun, RegisterHook, AppendEvent, ConsumeInbox, UpdateRun)


class Batch:
    """The commands of one tick, kept per kind in the order they were added."""

    __slots__ = ("_kinds",)

    def __init__(self) -> None:
        self._kinds: dict[type[Command], list[Command]] = {kind: [] for kind in COMMAND_KINDS}

    def add(self, command: Command) -> None:
        self._kinds[type(command)].append(command)

    def of(self, kind: type[C]) -> list[C]:
        """The commands of one kind (the list itself: do not change it)."""
        return self._kinds[kind]  # type: ignore[return-value]

    def __bool__(self) -> bool:
        return any(self._kinds.values())

    def __iter__(self) -> Iterator[Command]:
        """Every command, kind by kind in ``COMMAND_KINDS`` order."""
        for commands in self._kinds.values():
            yield from commands

    def __len__(self) -> int:
        return sum(map(len, self._kinds.values()))

    def extend(self, other: Batch) -> None:
        """Add ``other``'s commands after this batch's own, kind by kind."""
        for kind, commands in other._kinds.items():
            self._kinds[kind] += commands

    def run_ids(self) -> set[str]:
        return {command.run_id for command in self}

    def by_run(self) -> dict[str, Batch]:
        """This batch split into one batch per run, in order of first appearance. A store
        applies the parts apart when the whole is refused, to find whose writes it
        refuses."""
        parts: dict[str, Batch] = {}
        for command in self:
            part = parts.get(command.run_id)
            if part is None:
                part = parts[command.run_id] = Batch()
            part.add(command)
        return parts


@dataclass(slots=True)
class CommitResult:
    """What a store says of a batch it applied."""

    #: The runs this owner no longer holds (another worker took them over): their
    #: writes were dropped.
    lost: list[str] = field(default_factory=list)
    #: Token -> run id, for hooks another live run already held (those registrations
    #: were not made).
    conflicts: dict[str, str] = field(default_factory=dict)
    #: Run id -> why the database refused that run's writes (a constraint, a value it
    #: cannot store). None of that run's writes were made; the other runs' were.
    refused: dict[str, Exception] = field(default_factory=dict)
