"""Workflows whose input is checked against a schema (``@wf.options(schema=...)``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import wf

SEEN: list[str] = []


@dataclass
class Order:
    order_id: str
    qty: int
    tags: list[str] = field(default_factory=list)


async def describe(order: Order) -> str:
    "use step"
    # Runs on the worker with the arguments the log holds: an Order there too.
    SEEN.append(type(order).__name__)
    return f"{order.order_id} x{order.qty}"


@wf.options(schema=Order)
async def place(order: Order) -> dict[str, Any]:
    "use workflow"
    SEEN.append(type(order).__name__)
    text = await describe(order)
    await wf.sleep("50ms")  # with evict_after=0 the rest runs on a replay
    SEEN.append(type(order).__name__)
    return {"text": text, "tags": order.tags}


@wf.options(schema=Order)
async def hinted(order: dict[str, int]) -> str:
    "use workflow"
    # The hint says dict; the schema wins: validated as an Order, received as one.
    return type(order).__name__


@wf.options(schema=Order)
async def two_params(order: Order, extra: int) -> None:
    "use workflow"


async def parent(data: dict[str, Any]) -> dict[str, Any]:
    "use workflow"
    try:
        await wf.start(place, {"order_id": "bad", "qty": "many"})
    except TypeError as exc:
        refused = str(exc)
    child = await wf.start(place, data)
    return {"child": await child.result(), "refused": refused}
