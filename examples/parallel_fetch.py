"""Fetch a user's profile, orders and preferences in parallel, then combine them.

``asyncio.gather`` works inside a workflow: the three steps start together and
run concurrently on the worker. Each result is recorded as it arrives; after a
crash, the fetches that had finished are not repeated, and on replay the
results are delivered in the order they were recorded, so the workflow sees
exactly what it saw the first time.

A step can also be a plain ``def``: it then runs in a worker thread, which suits
blocking client libraries (``fetch_preferences`` below).

    wf run examples.parallel_fetch:user_dashboard u-1
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import wf

# In-memory stand-ins for three services (a user service, an order database and a
# settings store), each answering after a short delay.
USERS = {"u-1": {"id": "u-1", "name": "Ada Lovelace", "email": "ada@example.com"}}
ORDERS = {
    "u-1": [
        {"id": "o-1", "total": 1250, "status": "delivered"},
        {"id": "o-2", "total": 480, "status": "shipped"},
        {"id": "o-3", "total": 99, "status": "cancelled"},
    ]
}
PREFERENCES = {"u-1": {"theme": "dark", "currency": "EUR"}}
DEFAULT_PREFERENCES = {"theme": "light", "currency": "USD"}
LATENCY = 0.05  # seconds per call; the three calls overlap, so the workflow takes ~one

#: How many times each step ran (the tests check it).
CALLS: collections.Counter[str] = collections.Counter()


async def fetch_user(user_id: str) -> dict[str, Any]:
    "use step"
    CALLS["fetch_user"] += 1
    await asyncio.sleep(LATENCY)
    user = USERS.get(user_id)
    if user is None:
        raise wf.FatalError(f"no user {user_id!r}")  # a missing user will not appear on retry
    return dict(user)


async def fetch_orders(user_id: str) -> list[dict[str, Any]]:
    "use step"
    CALLS["fetch_orders"] += 1
    await asyncio.sleep(LATENCY)
    return [dict(order) for order in ORDERS.get(user_id, [])]


def fetch_preferences(user_id: str) -> dict[str, str]:
    "use step"
    # A plain `def` step runs in a thread, so a blocking call does not stall the worker.
    CALLS["fetch_preferences"] += 1
    time.sleep(LATENCY)
    return {**DEFAULT_PREFERENCES, **PREFERENCES.get(user_id, {})}


async def user_dashboard(user_id: str) -> dict[str, Any]:
    "use workflow"
    user, orders, preferences = await asyncio.gather(
        fetch_user(user_id), fetch_orders(user_id), fetch_preferences(user_id)
    )
    # Plain computation on step results belongs in the workflow: it is deterministic.
    live = [order for order in orders if order["status"] != "cancelled"]
    return {
        "name": user["name"],
        "email": user["email"],
        "orders": len(live),
        "total_spent": sum(order["total"] for order in live),
        "theme": preferences["theme"],
        "currency": preferences["currency"],
    }
