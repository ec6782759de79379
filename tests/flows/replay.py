"""An order workflow whose recorded event logs are committed under tests/runtime/replay_fixtures."""

from __future__ import annotations

import asyncio

import wf


async def validate(order: dict[str, object]) -> dict[str, object]:
    "use step"
    return {"id": order["id"], "total": order["total"], "items": order["items"]}


async def charge(order_id: str, amount: int) -> str:
    "use step"
    return f"ch_{order_id}_{amount}"


async def reserve(items: list[str]) -> int:
    "use step"
    return len(items)


async def ship(order_id: str) -> str:
    "use step"
    return f"track_{order_id}"


async def order_flow(order: dict[str, object]) -> dict[str, object]:
    "use workflow"
    valid = await validate(order)
    payment, reserved = await asyncio.gather(
        charge(str(valid["id"]), int(valid["total"])),  # type: ignore[call-overload]
        reserve(list(valid["items"])),  # type: ignore[call-overload]
    )
    await wf.sleep("10ms")
    tracking = await ship(str(valid["id"]))
    return {"payment": payment, "reserved": reserved, "tracking": tracking, "id": str(wf.uuid4())}


async def order_flow_reordered(order: dict[str, object]) -> dict[str, object]:
    "use workflow"
    # A later edit of order_flow that reserves before charging: not replay-compatible.
    valid = await validate(order)
    reserved = await reserve(list(valid["items"]))  # type: ignore[call-overload]
    payment = await charge(str(valid["id"]), int(valid["total"]))  # type: ignore[call-overload]
    tracking = await ship(str(valid["id"]))
    return {"payment": payment, "reserved": reserved, "tracking": tracking}


async def order_flow_shorter(order: dict[str, object]) -> dict[str, object]:
    "use workflow"
    # A later edit that dropped the shipping step: the log holds an operation the code lacks.
    valid = await validate(order)
    return {"id": valid["id"]}


async def fan_in(order: dict[str, object]) -> dict[str, object]:
    "use workflow"
    # Both charges finish in one tick, so one commit records both completions; the
    # winner's delivery issues the shipping step while the other is undelivered.
    payment = await wf.race(charge(str(order["id"]), 1), charge(str(order["id"]), 1))
    tracking = await ship(str(order["id"]))
    return {"payment": payment, "tracking": tracking}


async def twin_timers(order: dict[str, object]) -> dict[str, object]:
    "use workflow"
    # Two timers due at the same moment fire in one tick, recorded by one commit.
    await wf.race(wf.sleep("10ms"), wf.sleep("10ms"))
    tracking = await ship(str(order["id"]))
    return {"tracking": tracking}


async def order_flow_broken(order: dict[str, object]) -> dict[str, object]:
    "use workflow"
    # A later edit of order_flow that raises once the first step's result is back.
    valid = await validate(order)
    reserved = await reserve(valid.items_list)  # type: ignore[attr-defined]
    return {"reserved": reserved}


async def mapped(items: list[int]) -> list[str]:
    "use workflow"
    return await wf.map(items, ship, concurrency=2)


async def mapped_changed(items: list[int]) -> list[int]:
    "use workflow"
    # A later edit of mapped that reserves instead of shipping: its steps are
    # issued by wf.map, so the user's line is the wf.map call below.
    return await wf.map(items, reserve, concurrency=2)
