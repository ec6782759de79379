"""The pytest plugin of ``wf.testing``, registered through the ``pytest11`` entry point ``wf``.

* The import hook is installed before pytest imports the first conftest or test
  module, so modules holding ``"use workflow"`` / ``"use step"`` are compiled
  when tests import them (``-p no:wf`` disables the plugin).
* The fixture ``wf_env`` gives a test an entered :class:`wf.testing.WorkflowEnvironment`
  (a real engine on a temporary database with a virtual clock), on the event loop
  the test runs on: pytest-asyncio's (either mode) when it runs the test, anyio's
  for a test marked ``@pytest.mark.anyio`` (asyncio backend), and otherwise the
  plugin runs an ``async def`` test that asks for ``wf_env`` itself, with
  :func:`asyncio.run`, so nothing but pytest is needed.

Only this module's names are imported when pytest starts; the engine is imported
by the first test that asks for ``wf_env``.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from wf.testing import WorkflowEnvironment

__all__ = ["wf_env"]

#: The environment of a test this plugin runs itself, entered around the test's call.
_PENDING = pytest.StashKey["WorkflowEnvironment"]()
_LOOP_SCOPES = ("function", "class", "module", "package", "session")
_installed_hook = False

_NOT_ASYNC = (
    "wf_env is an async fixture: use it in an `async def` test (the wf plugin runs it,"
    " or pytest-asyncio or anyio does)"
)
_NOT_ASYNCIO = (
    "wf_env needs the asyncio event loop, and this test runs on anyio's {backend!r}"
    " backend: give it `anyio_backend` 'asyncio'"
    " (@pytest.mark.parametrize('anyio_backend', ['asyncio']), or a fixture)"
)
_TWO_RUNNERS = (
    "this test is marked for anyio, and pytest-asyncio's auto mode runs it too: the"
    " environment would be set up on one event loop and the test run on another;"
    " set asyncio_mode = strict, or drop the anyio mark"
)


def _install_hook() -> None:
    global _installed_hook
    if not _installed_hook:
        from wf.compiler import install_import_hook

        install_import_hook()
        _installed_hook = True


def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Before the first conftest is imported: a conftest may import workflow modules."""
    _install_hook()


def pytest_configure(config: pytest.Config) -> None:
    # When the plugin is registered late (``pytest_plugins`` in a conftest, ``-p``
    # inside pytester), the hook above has already run without it.
    _install_hook()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _installed_hook
    if _installed_hook:
        from wf.compiler import uninstall_import_hook

        uninstall_import_hook()
        _installed_hook = False


async def _entered() -> AsyncIterator[WorkflowEnvironment]:
    from wf.testing import WorkflowEnvironment

    async with WorkflowEnvironment() as env:
        yield env


# Run by anyio when the test is an anyio test (anyio wraps async fixtures of such tests).
_wf_env_anyio = pytest.fixture(_entered, name="_wf_env_anyio")


def _asyncio_variants() -> dict[str, Any]:
    """One fixture per loop scope, so pytest-asyncio sets the environment up on the
    loop the test runs on, whatever ``loop_scope`` the test has."""
    try:
        import pytest_asyncio
    except ImportError:
        return {}
    variants: dict[str, Any] = {}
    for scope in _LOOP_SCOPES:

        async def entered() -> AsyncIterator[WorkflowEnvironment]:
            async for env in _entered():
                yield env

        name = f"_wf_env_asyncio_{scope}"
        variants[name] = pytest_asyncio.fixture(entered, name=name, loop_scope=scope)  # type: ignore[call-overload]
    return variants


globals().update(_asyncio_variants())


def _asyncio_loop_scope(request: pytest.FixtureRequest) -> str | None:
    """The loop scope of a test that pytest-asyncio runs, else None."""
    config = request.config
    if not config.pluginmanager.has_plugin("asyncio"):
        return None
    marker = request.node.get_closest_marker("asyncio")
    if marker is None:  # strict mode, unmarked; auto mode marks every async test
        return None
    scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if scope is None:
        try:
            scope = config.getini("asyncio_default_test_loop_scope")
        except ValueError:  # a pytest-asyncio without the option
            scope = None
    return str(scope or "function")


@pytest.fixture
def wf_env(request: pytest.FixtureRequest) -> WorkflowEnvironment:
    """A :class:`wf.testing.WorkflowEnvironment`, entered on the test's event loop and
    closed after the test: a real engine on a temporary database, whose clock moves
    only with ``await wf_env.advance(...)``."""
    if not inspect.iscoroutinefunction(getattr(request, "function", None)):
        pytest.fail(_NOT_ASYNC, pytrace=False)
    scope = _asyncio_loop_scope(request)
    if scope is not None and "anyio_backend" in request.fixturenames:
        pytest.fail(_TWO_RUNNERS, pytrace=False)
    if scope is not None:
        env: WorkflowEnvironment = request.getfixturevalue(f"_wf_env_asyncio_{scope}")
        return env
    if "anyio_backend" in request.fixturenames:
        backend = request.getfixturevalue("anyio_backend")
        name = backend if isinstance(backend, str) else backend[0]
        if name != "asyncio":
            pytest.fail(_NOT_ASYNCIO.format(backend=name), pytrace=False)
        env = request.getfixturevalue("_wf_env_anyio")
        return env
    # No async plugin runs this test: pytest_pyfunc_call below runs it, inside the env.
    from wf.testing import WorkflowEnvironment

    env = WorkflowEnvironment()
    request.node.stash[_PENDING] = env
    request.addfinalizer(lambda: shutil.rmtree(env.directory, ignore_errors=True))
    return env


def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test that asks for ``wf_env`` and that no async plugin ran.

    anyio's hook comes first (tryfirst) and pytest-asyncio has made the test a plain
    function by now; pytest's own hook, which refuses async tests, comes last."""
    env = pyfuncitem.stash.get(_PENDING, None)
    test: Callable[..., Coroutine[Any, Any, Any]] = pyfuncitem.obj
    if env is None or not inspect.iscoroutinefunction(test):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def main() -> None:
        async with env:
            await test(**args)

    asyncio.run(main())
    return True
