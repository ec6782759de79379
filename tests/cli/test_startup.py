"""A command that does not compile imports no compiler (README, "CLI").

LibCST takes a few tenths of a second to import: ``wf --help``, ``wf runs list``
and a ``wf run`` whose module is already in the compiled-bytecode cache must not
load it. Checked in a fresh interpreter with ``-X importtime``, which lists every
module the process imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FLOWS = """\
async def hello(name: str) -> str:
    "use step"
    return f"hello {name}"


async def greet(name: str) -> str:
    "use workflow"
    return await hello(name)
"""

# Runs ``python -X importtime -m wf.cli ARGS`` in the project: the process and the
# modules it imported.
WfCli = Callable[..., tuple[subprocess.CompletedProcess[str], set[str]]]


def imported_modules(importtime_output: str) -> set[str]:
    """The module names of ``-X importtime`` lines (``import time: self | cumulative | name``)."""
    names = set()
    for line in importtime_output.splitlines():
        if line.startswith("import time:"):
            names.add(line.rsplit("|", 1)[-1].strip())
    return names


def compiler_modules(names: set[str]) -> set[str]:
    return {
        n for n in names if n == "libcst" or n.startswith(("libcst.", "wf.compiler._transform"))
    }


@pytest.fixture
def wf_cli(tmp_path: Path) -> WfCli:
    project = tmp_path / "project"
    project.mkdir()
    (project / "startup_flows.py").write_text(FLOWS)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WF_DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
    }
    # The bytecode cache on, as on a normal install (the import hook's cache lives
    # next to the module in tmp_path); Python's own .pyc files go outside the checkout.
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")

    def run(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "wf.cli", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done, imported_modules(done.stderr)

    return run


def test_help_imports_no_compiler(wf_cli: WfCli) -> None:
    done, modules = wf_cli("--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wf.cli._run" in modules  # every command is registered, so the check means something
    assert compiler_modules(modules) == set()


def test_runs_list_and_a_warm_run_import_no_compiler(wf_cli: WfCli, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'wf.db'}"
    cold, modules = wf_cli("run", "startup_flows:greet", "world", "--db", db)
    assert cold.returncode == 0, cold.stderr[-2000:]
    assert cold.stdout.strip() == '"hello world"'
    assert "libcst" in modules  # the first run compiles: the check would see LibCST

    listed, modules = wf_cli("runs", "list", "--db", db)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "startup_flows:greet" in listed.stdout
    assert compiler_modules(modules) == set()

    warm, modules = wf_cli("run", "startup_flows:greet", "again", "--db", db)
    assert warm.returncode == 0, warm.stderr[-2000:]
    assert warm.stdout.strip() == '"hello again"'
    assert "wf.compiler._hook" in modules  # through the import hook, served from its cache
    assert compiler_modules(modules) == set()
