"""The ``wf`` command line. Each command lives in its own module and registers on ``app``."""

from __future__ import annotations

from wf.cli._app import app

__all__ = ["app", "main"]


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from wf.cli import (
        _build,  # noqa: F401
        _db,  # noqa: F401
        _run,  # noqa: F401
        _runs,  # noqa: F401
        _serve,  # noqa: F401
        _signals,  # noqa: F401
        _worker,  # noqa: F401
    )


def main() -> None:
    _register()
    app()
