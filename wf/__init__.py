"""wf: durable workflows for Python."""

from __future__ import annotations

from wf._errors import (
    CompileError,
    FatalError,
    NondeterminismError,
    NotInWorkflowError,
    RetryableError,
    RunCancelledError,
    RunFailedError,
    RunNotFoundError,
    SerializationError,
    StepFailedError,
    StoreError,
    WorkflowError,
)

__all__ = [
    "CompileError",
    "FatalError",
    "NondeterminismError",
    "NotInWorkflowError",
    "RetryableError",
    "RunCancelledError",
    "RunFailedError",
    "RunNotFoundError",
    "SerializationError",
    "StepFailedError",
    "StoreError",
    "WorkflowError",
]
