"""The exceptions wf raises, as one tree.

    WorkflowError
    ├── FatalError                step failure that is never retried
    ├── RetryableError            step failure retried after ``retry_after``
    ├── StepFailedError           a step's retries are exhausted and its own type cannot be rebuilt
    ├── RunFailedError            ``Run.result()`` of a run that failed
    ├── RunCancelledError         ``Run.result()`` of a run that was cancelled
    ├── DeadlineExceededError     why a run failed: it did not finish before its deadline
    ├── RunNotFoundError          no run with that id
    ├── RunIdConflictError        a run id is already used by a run of another workflow
    ├── HookNotFoundError         no live run holds that hook token
    ├── HookConflictError         a hook token is already held by another live run
    ├── NondeterminismError       replayed code issued a different operation than the log holds
    ├── NotInWorkflowError        a workflow-only API was used outside a workflow
    ├── SerializationError        a value cannot be persisted (also a ``TypeError``)
    │   └── NestingError          nested deeper than wf accepts (also a ``ValueError``)
    ├── StoreError                the database cannot be used (foreign, corrupt, too new)
    └── CompileError              a compiler diagnostic (file, line, column, code)

Internal control-flow signals derive from ``BaseException`` and live in the
runtime, so a user's ``except Exception`` never swallows them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CompileError",
    "DeadlineExceededError",
    "FatalError",
    "HookConflictError",
    "HookNotFoundError",
    "NestingError",
    "NondeterminismError",
    "NotInWorkflowError",
    "RetryableError",
    "RunCancelledError",
    "RunFailedError",
    "RunIdConflictError",
    "RunNotFoundError",
    "SerializationError",
    "StepFailedError",
    "StoreError",
    "WorkflowError",
]


class WorkflowError(Exception):
    """Base class of every error wf raises on purpose."""


class FatalError(WorkflowError):
    """Raise from a step to fail it at once, without retries."""


class RetryableError(WorkflowError):
    """Raise from a step to ask for a retry after ``retry_after`` (seconds, str or timedelta)."""

    def __init__(self, message: str = "", *, retry_after: Any = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_retryable, (str(self), self.retry_after))


def _rebuild_retryable(message: str, retry_after: Any) -> RetryableError:
    return RetryableError(message, retry_after=retry_after)


class StepFailedError(WorkflowError):
    """A step exhausted its retries and its exception type could not be rebuilt."""

    def __init__(self, step: str, error_type: str, message: str, traceback: str = "") -> None:
        super().__init__(f"step {step} failed: {error_type}: {message}")
        self.step = step
        self.error_type = error_type
        self.error_message = message
        self.remote_traceback = traceback


class RunFailedError(WorkflowError):
    """The awaited run ended in failure; ``error_type`` and ``error_message`` describe why."""

    def __init__(self, run_id: str, error_type: str, message: str) -> None:
        super().__init__(f"run {run_id} failed: {error_type}: {message}")
        self.run_id = run_id
        self.error_type = error_type
        self.error_message = message


class RunCancelledError(WorkflowError):
    """The awaited run was cancelled."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} was cancelled")
        self.run_id = run_id


class DeadlineExceededError(WorkflowError):
    """A run did not finish before the deadline it was started with."""


class RunNotFoundError(WorkflowError, LookupError):
    """No run with the given id exists in the store."""


class RunIdConflictError(WorkflowError):
    """``wf.start`` was given a run id that a run of another workflow already has (the
    same workflow's run is simply returned: starting with an id is idempotent)."""


class HookNotFoundError(WorkflowError, LookupError):
    """No live run holds the hook token (never created, or released when its run ended)."""


class HookConflictError(WorkflowError):
    """A run created a hook whose token another live run already holds."""


class NondeterminismError(WorkflowError):
    """Replayed workflow code issued a different durable operation than the event log records."""


class NotInWorkflowError(WorkflowError, RuntimeError):
    """A workflow-only API was called outside a running workflow."""


class SerializationError(WorkflowError, TypeError):
    """A value cannot be serialized into (or rebuilt from) the event log."""


class NestingError(SerializationError, ValueError):
    """A value nested deeper than wf accepts: a ``wf.SerializationError`` (it cannot
    be stored) and a ``ValueError`` (bad input, refused before anything is written)."""


class StoreError(WorkflowError):
    """The database cannot be used: not a wf database, corrupt, or from a newer wf."""


class CompileError(WorkflowError):
    """A problem the compiler found in a source file."""

    def __init__(self, file: str, line: int, column: int, code: str, message: str) -> None:
        super().__init__(f"{file}:{line}:{column}: {code} {message}")
        self.file = file
        self.line = line
        self.column = column
        self.code = code
        self.message = message
