"""Fixtures of the ``wf run`` / ``wf worker`` / ``wf runs`` tests (helpers: wfcli_support)."""

from __future__ import annotations

import asyncio
import sys
import types
import uuid
from collections.abc import Awaitable, Iterator
from pathlib import Path

import pytest
from wfcli_support import FLOWS, Project

import wf.runtime._engine


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    # A fresh module name per test: sys.modules and wf's id caches are process-wide.
    module = f"wfcli_flows_{uuid.uuid4().hex[:10]}"
    log = tmp_path / "executions.log"
    (tmp_path / f"{module}.py").write_text(FLOWS.format(log=str(log)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WF_DATABASE_URL", raising=False)
    # `wf run` puts the current directory on sys.path and installs the import hook.
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    before = set(sys.modules)
    yield Project(tmp_path, module, f"sqlite:///{tmp_path}/wf.db", log)
    for name in set(sys.modules) - before:
        if name.startswith(("wfcli_", "wfextra_")):
            del sys.modules[name]


async def _wait_for(awaitable: Awaitable[object], timeout: float | None) -> object:
    async with asyncio.timeout(timeout):
        return await awaitable


@pytest.fixture(autouse=True)
def _cancellable_engine_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """WORKAROUND, remove once wf/runtime/_engine.py no longer uses asyncio.wait_for.

    On Python 3.11 ``asyncio.wait_for`` swallows a cancellation that arrives
    while its inner awaitable has just finished (CPython gh-86296). The engine's
    poller waits with it, so ``Engine.close()`` hangs forever when a run ends
    right after it was started. This gives the engine 3.12's ``wait_for`` in
    this process; the subprocess tests still use the real one.
    """
    shim = types.SimpleNamespace(**vars(asyncio))
    shim.wait_for = _wait_for
    monkeypatch.setattr(wf.runtime._engine, "asyncio", shim)
