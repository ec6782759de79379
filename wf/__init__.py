"""wf: durable workflows for Python.

Mark an ``async def`` with ``"use workflow"`` and its side-effecting helpers
with ``"use step"``; start runs with :func:`wf.start`. See the README.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from wf._errors import (
    CompileError,
    DeadlineExceededError,
    FatalError,
    HookConflictError,
    HookNotFoundError,
    NestingError,
    NondeterminismError,
    NotInWorkflowError,
    RetryableError,
    RunCancelledError,
    RunFailedError,
    RunIdConflictError,
    RunNotFoundError,
    SerializationError,
    StepFailedError,
    StoreError,
    WorkflowError,
)
from wf._options import options
from wf.runtime import _registry
from wf.runtime._api import Engine, Run, get_run, resume_hook, send, start
from wf.runtime._duration import parse_duration
from wf.runtime._hooks import Hook, create_hook, receive
from wf.runtime._metadata import (
    StepMetadata,
    WorkflowMetadata,
    get_step_metadata,
    get_workflow_metadata,
)
from wf.runtime._serde import register_type
from wf.runtime._webhooks import Request, Response, Webhook, create_webhook
from wf.runtime._workflow import (
    batch,
    map,
    now,
    progress,
    race,
    random,
    sleep,
    sleep_until,
    uuid4,
)

__version__ = "0.1.0"


if TYPE_CHECKING:
    from starlette.applications import Starlette


def asgi_app(
    engine: Engine | None = None,
    *,
    url: str | None = None,
    max_body: int = 1024 * 1024,
    response_timeout: float = 30.0,
    workflows: Iterable[Callable[..., Any]] | None = None,
) -> Starlette:
    """The ASGI app of webhooks and the JSON API (what ``wf serve`` serves), to mount
    in an application of one's own. See ``wf.web``; Starlette is imported
    only here, so ``import wf`` stays light."""
    from wf.web import asgi_app as make

    return make(
        engine, url=url, max_body=max_body, response_timeout=response_timeout, workflows=workflows
    )


def install_import_hook(*, cache: bool = True) -> None:
    """Compile modules holding "use workflow" / "use step" functions as they are imported.

    Imported lazily so that ``import wf`` stays cheap where only prebuilt code runs.
    """
    from wf.compiler import install_import_hook as install

    install(cache=cache)


# The registry imports the module of a run a worker claims through the compiler's
# import hook; the runtime never imports the compiler itself, this package joins them.
_registry.set_before_import(install_import_hook)


__all__ = [
    "CompileError",
    "DeadlineExceededError",
    "Engine",
    "FatalError",
    "Hook",
    "HookConflictError",
    "HookNotFoundError",
    "NestingError",
    "NondeterminismError",
    "NotInWorkflowError",
    "Request",
    "Response",
    "RetryableError",
    "Run",
    "RunCancelledError",
    "RunFailedError",
    "RunIdConflictError",
    "RunNotFoundError",
    "SerializationError",
    "StepFailedError",
    "StepMetadata",
    "StoreError",
    "Webhook",
    "WorkflowError",
    "WorkflowMetadata",
    "__version__",
    "asgi_app",
    "batch",
    "create_hook",
    "create_webhook",
    "get_run",
    "get_step_metadata",
    "get_workflow_metadata",
    "install_import_hook",
    "map",
    "now",
    "options",
    "parse_duration",
    "progress",
    "race",
    "random",
    "receive",
    "register_type",
    "resume_hook",
    "send",
    "sleep",
    "sleep_until",
    "start",
    "uuid4",
]
