"""Shared fixtures: the import hook (so test workflow modules compile) and per-test databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pg_support import Cluster, running_cluster

import wf

wf.install_import_hook()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the session (see ``pg_support``)."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def pg_database(pg_cluster: Cluster) -> str:
    """A PostgreSQL database of this test module (its URL)."""
    return pg_cluster.create_database()


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A fresh wf schema in the module's PostgreSQL database, for one test."""
    return f"{pg_database}?schema=t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite:///{tmp_path / 'wf.db'}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes ``db_url`` runs on each store, but a test marked
    ``sqlite_only`` (it breaks a SQLite file on purpose: permissions, removal, locks)."""
    if "db_url" in metafunc.fixturenames:
        stores = ["sqlite"]
        if metafunc.definition.get_closest_marker("sqlite_only") is None:
            stores.append("postgres")
        metafunc.parametrize("db_url", stores, indirect=True)


@pytest.fixture
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database for one test, on the store the test is parametrized with."""
    return str(request.getfixturevalue(f"{request.param.replace('postgres', 'pg')}_url"))


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[wf.Engine]:
    """An engine with an in-process worker on a fresh database."""
    async with wf.Engine(db_url, poll_interval=0.05) as eng:
        yield eng


# -- tests never write into the checkout ------------------------------------------------

_CHECKOUT = Path(__file__).resolve().parents[1]
#: Caches that Python and its tools write beside the code: not the tests' doing.
_CACHES = {
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
}
#: Someone may be editing the checkout while the suite runs: sources are theirs.
_SOURCES = {".py", ".pyi", ".md", ".toml"}
_BEFORE = pytest.StashKey[dict[str, tuple[int, int]]]()


def _checkout_files() -> dict[str, tuple[int, int]]:
    """Size and modification time of every file of the checkout but caches and sources."""
    found = {}
    for directory, subdirs, files in os.walk(_CHECKOUT):
        subdirs[:] = [d for d in subdirs if d not in _CACHES]
        for name in files:
            path = os.path.join(directory, name)
            if os.path.splitext(name)[1] in _SOURCES:
                continue
            try:
                stat = os.stat(path)
            except OSError:
                continue
            found[os.path.relpath(path, _CHECKOUT)] = (stat.st_size, stat.st_mtime_ns)
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.stash[_BEFORE] = _checkout_files()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if it created or changed a file in the checkout (tests write
    into ``tmp_path``; examples take their paths from the environment)."""
    before = session.stash.get(_BEFORE, None)
    if before is None:
        return
    after = _checkout_files()
    written = sorted(path for path, stat in after.items() if before.get(path) != stat)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "the test session wrote into the checkout: " + ", ".join(written),
                red=True,
                bold=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
