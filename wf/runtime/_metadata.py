"""What a workflow or step can learn about the run it belongs to."""

from __future__ import annotations

import contextvars
import datetime as _dt
from dataclasses import dataclass
from typing import Any

from wf._errors import NotInWorkflowError
from wf.runtime._loop import current_loop

__all__ = [
    "StepMetadata",
    "WorkflowMetadata",
    "get_step_metadata",
    "get_workflow_metadata",
    "step_metadata_var",
]


@dataclass(frozen=True, slots=True)
class WorkflowMetadata:
    run_id: str
    workflow_id: str
    version: str | None
    started_at: _dt.datetime
    attempt: int


@dataclass(frozen=True, slots=True)
class StepMetadata:
    step_id: str
    correlation_id: int
    attempt: int
    started_at: float
    run_id: str


#: Set by the engine for each step execution: (StartStep, run id, start time). The
#: StepMetadata is built only when asked for, since most steps never ask.
step_metadata_var: contextvars.ContextVar[tuple[Any, str, float] | None] = contextvars.ContextVar(
    "wf_step_metadata", default=None
)


def get_workflow_metadata() -> WorkflowMetadata:
    """Run id, workflow id, version, start time and attempt of the running workflow."""
    loop = current_loop()
    if loop is None:
        raise NotInWorkflowError("wf.get_workflow_metadata() can only be called inside a workflow")
    ctx = loop.ctx
    return WorkflowMetadata(
        run_id=ctx.run_id,
        workflow_id=ctx.workflow_id,
        version=ctx.version,
        started_at=_dt.datetime.fromtimestamp(ctx.started_at, _dt.UTC),
        attempt=ctx.attempt,
    )


def get_step_metadata() -> StepMetadata:
    """Step id, attempt (from 1), start time and run id of the running step."""
    current = step_metadata_var.get()
    if current is None:
        raise NotInWorkflowError("wf.get_step_metadata() can only be called while a step runs")
    effect, run_id, started_at = current
    return StepMetadata(
        step_id=effect.step_id,
        correlation_id=effect.cid,
        attempt=effect.attempt,
        started_at=started_at,
        run_id=run_id,
    )
