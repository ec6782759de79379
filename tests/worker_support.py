"""``wf worker`` as a real subprocess, for tests that SIGKILL workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]


def wf_worker(
    db_url: str,
    cwd: Path,
    *args: str,
    stderr: IO[Any] | int = subprocess.PIPE,
    **env: str,
) -> subprocess.Popen[str]:
    """``python -m wf.cli worker --db DB_URL ARGS...`` in ``cwd``, able to import the test
    flows (the repository and ``tests/`` on its path), with ``env`` added to its
    environment. Its stderr goes to ``stderr`` (a pipe unless told: a test that keeps a
    worker long, or many of them, gives a file, so that a full pipe never blocks one)."""
    environ = {**os.environ, **env}
    environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), str(REPO / "tests"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return subprocess.Popen(
        [sys.executable, "-m", "wf.cli", "worker", "--db", db_url, *args],
        cwd=cwd,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )
