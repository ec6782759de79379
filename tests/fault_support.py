"""What the tests of a database failing under a running engine share, whatever the
store: resetting the fault flows, waiting, reading what wf logged, and the scenario of
one run whose writes the database refuses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator

import pytest

import wf
from flows import faults
from wf.runtime._events import STEP_SCHEDULED

__all__ = ["kinds", "refused_run_fails_alone", "reset_flows", "until", "wf_records"]


@pytest.fixture(autouse=True)
def reset_flows() -> Iterator[None]:
    faults.CALLS.clear()
    faults.GATE = None
    yield
    faults.GATE = None


def wf_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What wf logged at WARNING or above."""
    return [r for r in caplog.records if r.name == "wf" and r.levelno >= logging.WARNING]


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def kinds(run: wf.Run[object]) -> list[str]:
    return [event.kind async for event in run.events()]


# -- a lock held by another connection ---------------------------------------------------


async def refused_run_fails_alone(
    engine: wf.Engine,
    caplog: pytest.LogCaptureFixture,
    refuse: Callable[[], object],
    accept: Callable[[], object],
) -> None:
    """Four runs' step results in one group commit, one run's refused by a rule of the
    database (``refuse`` adds it, ``accept`` removes it): that run fails alone, with
    nothing of it half written and one error logged; once the database accepts its
    writes, it is retried from its log. Shared by each store's test."""
    faults.GATE = asyncio.Event()
    async with engine:
        refuse()
        keys = ("a", "poison", "b", "c")
        runs = {key: await engine.start(faults.gated, key, 3, run_id=key) for key in keys}
        await until(lambda: len(faults.CALLS) == len(keys))  # each at its first step
        faults.GATE.set()  # four step results in one group commit
        for key in ("a", "b", "c"):
            assert await runs[key].result(timeout=10) == 0 + 1 + 2
        with pytest.raises(wf.RunFailedError) as failed:
            await runs["poison"].result(timeout=10)
        assert failed.value.error_type.endswith("StoreError")
        assert "the database refused to record its progress" in failed.value.error_message
        assert "no step results for run poison" in failed.value.error_message
        assert await runs["poison"].status() == "failed"
        # Its log stops before the refused result: nothing of it was half written.
        assert await kinds(runs["poison"]) == ["run_started", STEP_SCHEDULED]
        errors = [r.getMessage() for r in wf_records(caplog)]
        assert len(errors) == 1 and "run poison failed" in errors[0], errors

        accept()
        await runs["poison"].retry()
        assert await runs["poison"].result(timeout=10) == 0 + 1 + 2
    assert faults.CALLS == {"a": 3, "b": 3, "c": 3, "poison": 4}  # its first step, twice
