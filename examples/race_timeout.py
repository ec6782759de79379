"""Give a slow step a deadline with ``wf.race`` and fall back to a cached answer.

``wf.race(a, b)`` returns the outcome of whichever settles first. Racing a step
against ``wf.sleep(wait)`` gives it a deadline that survives crashes: the
sleep is a durable timer, so a worker that restarts after 20 of the 30 seconds
waits only the remaining 10.

Choice made here: when the deadline wins, the run does not fail; it returns the
last cached report, marked ``"source": "cache"``, so callers always get an
answer. (To fail instead, ``raise TimeoutError(...)`` in that branch: the run
then ends ``failed`` with the ``TimeoutError``.) ``wf.race`` does not cancel
the loser: while the workflow goes on, the slow step keeps running and its
result is discarded; once the run has ended, a step still in flight is
abandoned.

    wf run examples.race_timeout:regional_report emea
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import wf

#: Reports computed earlier, served when a fresh one takes too long.
CACHE: dict[str, dict[str, Any]] = {
    "emea": {"region": "emea", "revenue": 1_200_000, "as_of": "yesterday"},
}
#: How many times each step ran (the tests check it).
CALLS: collections.Counter[str] = collections.Counter()


async def build_report(region: str, work: float) -> dict[str, Any]:
    "use step"
    CALLS["build_report"] += 1
    await asyncio.sleep(work)  # stands in for a slow query over the region's sales
    report = {"region": region, "revenue": 1_250_000, "as_of": "now"}
    CACHE[region] = report
    return report


async def cached_report(region: str) -> dict[str, Any] | None:
    "use step"
    CALLS["cached_report"] += 1
    return CACHE.get(region)


async def regional_report(region: str, wait: str = "30s", work: float = 0.1) -> dict[str, Any]:
    "use workflow"
    # A fresh report for `region`, or the cached one once `wait` has passed.
    # `work` is how long the (simulated) report query takes, in seconds.
    # wf.sleep() returns None, so a None outcome means the deadline won the race.
    fresh = await wf.race(build_report(region, work), wf.sleep(wait))
    if fresh is not None:
        return {**fresh, "source": "live"}
    cached = await cached_report(region)
    if cached is None:
        raise TimeoutError(f"no report for {region!r} within {wait} and nothing cached")
    return {**cached, "source": "cache"}
