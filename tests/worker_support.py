"""``wf worker`` as a real subprocess, for tests that SIGKILL workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def wf_worker(db_url: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    """``python -m wf.cli worker --db DB_URL`` in ``cwd``, able to import the test flows
    (the repository and ``tests/`` on its path), with ``env`` added to its environment."""
    environ = {**os.environ, **env}
    environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), str(REPO / "tests"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return subprocess.Popen(
        [sys.executable, "-m", "wf.cli", "worker", "--db", db_url],
        cwd=cwd,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
