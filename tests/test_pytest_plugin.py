"""The pytest plugin (entry point ``wf``): a fresh project's tests run with nothing but it.

Each test writes a small project into ``tmp_path`` and runs ``python -m pytest`` there
in a subprocess, with no PYTHONPATH: only the installed ``wf`` (and the pytest plugins
installed beside it) is on the path, so this repository's conftest, which installs
the import hook itself, plays no part.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

ORDERS = """\
import wf

async def notify(token: str) -> None:
    "use step"

async def approve_order(order_id: str) -> str:
    "use workflow"
    hook = wf.create_hook(token=f"approve:{order_id}")
    await notify(hook.token)
    decision = await wf.race(hook, wf.sleep("7 days"))
    return "expired" if decision is None else decision["verdict"]
"""

#: Tests of every flavour: which runner runs them depends on the options of the run.
FLAVOURS = """\
import asyncio

import pytest

from myapp.orders import approve_order
from wf.testing import WorkflowEnvironment


async def check(env: WorkflowEnvironment, order_id: str) -> None:
    run = await env.start(approve_order, order_id)
    await env.advance("7 days")
    assert await asyncio.wait_for(run.result(), 10) == "expired"


async def test_unmarked(wf_env: WorkflowEnvironment) -> None:
    await check(wf_env, "o-1")


@pytest.mark.asyncio
async def test_asyncio_marked(wf_env: WorkflowEnvironment) -> None:
    await check(wf_env, "o-2")


@pytest.mark.asyncio(loop_scope="module")
async def test_asyncio_module_loop(wf_env: WorkflowEnvironment) -> None:
    await check(wf_env, "o-3")


@pytest.mark.anyio
async def test_anyio(wf_env: WorkflowEnvironment) -> None:
    await check(wf_env, "o-4")


def test_sync(wf_env: WorkflowEnvironment) -> None:
    pass
"""

#: A conftest that imports a workflow module: pytest imports it before pytest_configure.
CONFTEST = """\
import pytest_asyncio

from myapp.orders import approve_order
from wf.testing import WorkflowEnvironment


@pytest_asyncio.fixture
async def expired(wf_env: WorkflowEnvironment) -> str:
    run = await wf_env.start(approve_order, "o-9")
    await wf_env.advance("7 days")
    return await run.result()
"""

DEPENDENT = """\
import pytest


@pytest.mark.asyncio
async def test_a_fixture_of_the_project_uses_wf_env(expired: str) -> None:
    assert expired == "expired"
"""


def readme_project() -> dict[str, str]:
    """The files of the README's testing example: each block names its path on its first line."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Testing your workflows", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        first = block.splitlines()[0]
        if first.startswith("# ") and first.endswith(".py"):
            files[first[2:]] = block
    return files


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def run_pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "PYTEST_"))}
    env.pop("WF_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def outcomes(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """test name -> PASSED / FAILED / ERROR, from the -rA summary."""
    found = {}
    for status, name in re.findall(r"^(PASSED|FAILED|ERROR) \S+::(\w+)", proc.stdout, flags=re.M):
        found[name] = status
    return found


@pytest.fixture(autouse=True)
def _plugin_installed() -> None:
    points = importlib.metadata.entry_points(group="pytest11", name="wf")
    if not points:
        pytest.fail("wf is installed without its pytest11 entry point: run `pip install -e .`")


def test_the_readme_testing_example_passes_in_a_fresh_project(tmp_path: Path) -> None:
    files = readme_project()
    assert set(files) == {"myapp/orders.py", "tests/test_orders.py"}
    write(tmp_path, files)
    proc = run_pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outcomes(proc) == {"test_approval_expires": "PASSED", "test_approval_granted": "PASSED"}


def test_the_readme_example_fails_without_the_plugin(tmp_path: Path) -> None:
    write(tmp_path, readme_project())
    proc = run_pytest(tmp_path, "-p", "no:wf")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fixture 'wf_env' not found" in proc.stdout


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # pytest-asyncio in strict mode runs the marked tests; the plugin the unmarked one.
        ([], {"test_anyio": "PASSED", "test_asyncio_marked": "PASSED"}),
        # pytest-asyncio's auto mode runs every async test, the anyio-marked one too:
        # that one would get an environment on another loop, and is refused.
        (["-o", "asyncio_mode=auto"], {"test_anyio": "ERROR", "test_asyncio_marked": "PASSED"}),
        # Without pytest-asyncio the plugin runs the asyncio-marked tests as well.
        (["-p", "no:asyncio"], {"test_anyio": "PASSED", "test_asyncio_marked": "PASSED"}),
    ],
    ids=["strict", "auto", "no-pytest-asyncio"],
)
def test_wf_env_runs_on_the_loop_of_the_test(
    tmp_path: Path, options: list[str], expected: dict[str, str]
) -> None:
    write(
        tmp_path,
        {
            "myapp/orders.py": ORDERS,
            "tests/conftest.py": CONFTEST,
            "tests/test_flavours.py": FLAVOURS,
            "tests/test_dependent.py": DEPENDENT,
        },
    )
    if "no:asyncio" not in options:  # and no warning from pytest-asyncio about wf_env
        options = ["-o", "asyncio_default_fixture_loop_scope=function", "-W", "error", *options]
    proc = run_pytest(tmp_path, *options)
    found = outcomes(proc)
    found = {name.removesuffix("[asyncio]"): status for name, status in found.items()}
    dependent = "PASSED" if "no:asyncio" not in options else "ERROR"
    assert found == {
        "test_unmarked": "PASSED",
        "test_asyncio_module_loop": expected["test_asyncio_marked"],
        "test_sync": "ERROR",
        "test_a_fixture_of_the_project_uses_wf_env": dependent,
        **expected,
    }, proc.stdout + proc.stderr
    assert "wf_env is an async fixture: use it in an `async def` test" in proc.stdout
    if expected["test_anyio"] == "ERROR":
        assert "set asyncio_mode = strict, or drop the anyio mark" in proc.stdout
