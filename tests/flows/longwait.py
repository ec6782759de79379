"""Workflows that wait for days: tested with wf.testing's virtual clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import wf

CALLS: dict[str, int] = {}


async def remind(order_id: str) -> str:
    "use step"
    CALLS["remind"] = CALLS.get("remind", 0) + 1
    return f"reminded {order_id}"


@wf.options(max_attempts=3, initial_interval="1h", backoff="fixed")
async def flaky_daily(order_id: str) -> str:
    "use step"
    CALLS["flaky_daily"] = CALLS.get("flaky_daily", 0) + 1
    if wf.get_step_metadata().attempt < 3:
        raise ConnectionError("down")
    return f"done {order_id}"


async def approval(order_id: str) -> dict[str, Any]:
    "use workflow"
    hook = wf.create_hook(token=f"approve:{order_id}")
    started = wf.now()
    decision = await wf.race(hook, wf.sleep("7 days"))
    if decision is None:
        await remind(order_id)
        return {"status": "expired", "waited_days": (wf.now() - started).days}
    return {"status": "approved" if decision["ok"] else "rejected"}


async def with_hourly_retries(order_id: str) -> str:
    "use workflow"
    return await flaky_daily(order_id)


async def until(moment: dt.datetime) -> str:
    "use workflow"
    await wf.sleep_until(moment)
    return wf.now().isoformat()
