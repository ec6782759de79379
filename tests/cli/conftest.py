"""Fixtures of the ``wf run`` / ``wf worker`` / ``wf runs`` tests (helpers: wfcli_support)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from wfcli_support import FLOWS, Project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[Project]:
    """A directory with a module of workflows and a database (each store in turn)."""
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
    yield Project(tmp_path, module, db_url, log)
    for name in set(sys.modules) - before:
        if name.startswith(("wfcli_", "wfextra_")):
            del sys.modules[name]
