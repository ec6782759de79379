"""The public surface of ``import wf``: adding or removing a name is a deliberate change."""

from __future__ import annotations

import wf

EXPORTED = {
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
    "RetryableError",
    "Request",
    "Response",
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
}


def test_exported_names_are_pinned() -> None:
    assert set(wf.__all__) == EXPORTED
    for name in wf.__all__:
        assert hasattr(wf, name), name


def test_every_error_is_a_workflow_error() -> None:
    errors = [getattr(wf, n) for n in wf.__all__ if n.endswith("Error")]
    assert all(issubclass(e, wf.WorkflowError) for e in errors)
    assert issubclass(wf.SerializationError, TypeError)


def test_importing_wf_does_not_import_libcst_or_starlette() -> None:
    import subprocess
    import sys

    code = "import sys, wf; wf.Engine; print('libcst' in sys.modules, 'starlette' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
