"""Shared fixtures: the import hook (so test workflow modules compile) and per-test databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import wf

wf.install_import_hook()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite:///{tmp_path / 'wf.db'}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[wf.Engine]:
    """An engine with an in-process worker on a fresh database."""
    async with wf.Engine(db_url, poll_interval=0.05) as eng:
        yield eng
