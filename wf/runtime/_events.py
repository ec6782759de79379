"""Event-log vocabulary shared by the run context, the engine and the stores."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CANCEL_REQUESTED",
    "CHILD_FINISHED",
    "CHILD_STARTED",
    "DELIVERIES",
    "HOOK_CREATED",
    "HOOK_RECEIVED",
    "MESSAGE_RECEIVED",
    "OPERATIONS",
    "PROGRESS",
    "RUN_CANCELLED",
    "RUN_COMPLETED",
    "RUN_FAILED",
    "RUN_STARTED",
    "RUN_WATCHED",
    "STEP_COMPLETED",
    "STEP_FAILED",
    "STEP_RETRYING",
    "STEP_SCHEDULED",
    "TERMINAL",
    "TIMER_FIRED",
    "TIMER_SCHEDULED",
    "Event",
    "RunStatus",
]

RUN_STARTED: Final = "run_started"
STEP_SCHEDULED: Final = "step_scheduled"
STEP_COMPLETED: Final = "step_completed"
STEP_FAILED: Final = "step_failed"
STEP_RETRYING: Final = "step_retrying"
TIMER_SCHEDULED: Final = "timer_scheduled"
TIMER_FIRED: Final = "timer_fired"
CANCEL_REQUESTED: Final = "cancel_requested"
HOOK_CREATED: Final = "hook_created"
HOOK_RECEIVED: Final = "hook_received"
MESSAGE_RECEIVED: Final = "message_received"
PROGRESS: Final = "progress"
CHILD_STARTED: Final = "child_started"
CHILD_FINISHED: Final = "child_finished"
#: The workflow waits for another run (not its child) to end; its end is delivered as
#: ``child_finished`` at the same correlation id.
RUN_WATCHED: Final = "run_watched"
RUN_COMPLETED: Final = "run_completed"
RUN_FAILED: Final = "run_failed"
RUN_CANCELLED: Final = "run_cancelled"

#: Events that record a durable operation the workflow issued, matched on replay.
OPERATIONS: Final = frozenset(
    {STEP_SCHEDULED, TIMER_SCHEDULED, HOOK_CREATED, PROGRESS, CHILD_STARTED, RUN_WATCHED}
)
#: Events delivered to the workflow loop, one at a time, in log order.
DELIVERIES: Final = frozenset(
    {
        STEP_COMPLETED,
        STEP_FAILED,
        TIMER_FIRED,
        CANCEL_REQUESTED,
        HOOK_RECEIVED,
        MESSAGE_RECEIVED,
        CHILD_FINISHED,
    }
)
TERMINAL: Final = frozenset({RUN_COMPLETED, RUN_FAILED, RUN_CANCELLED})


class RunStatus(enum.StrEnum):
    """What a run is doing. Stored as its value; a ``str``, so it compares with text."""

    PENDING = "pending"  # due (or due at wake_at), waiting for a worker
    RUNNING = "running"  # a live worker holds its lease
    SLEEPING = "sleeping"  # written back until a timer or a retry is due
    WAITING = "waiting"  # listening for a hook, a message or another run's end
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


@dataclass(slots=True)
class Event:
    """One entry of a run's log. ``data`` is serde JSON text (or None)."""

    seq: int
    kind: str
    cid: int | None
    name: str | None
    data: str | None
    at: float

    def as_row(
        self, run_id: str
    ) -> tuple[str, int, str, int | None, str | None, str | None, float]:
        return (run_id, self.seq, self.kind, self.cid, self.name, self.data, self.at)
