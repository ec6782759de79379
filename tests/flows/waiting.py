"""Workflows that wait on hooks and messages."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Any

import wf


async def notify(token: str) -> str:
    "use step"
    return f"sent {token}"


async def token_is_registered(db_path: str, token: str) -> bool:
    "use step"
    with sqlite3.connect(db_path) as conn:
        row = conn.execute("SELECT run_id FROM hooks WHERE token = ?", (token,)).fetchone()
    return row is not None


async def approval(order_id: str, deadline: str) -> dict[str, Any]:
    "use workflow"
    hook = wf.create_hook(token=f"approve:{order_id}")
    await notify(hook.token)
    decision = await wf.race(hook, wf.sleep(deadline))
    if decision is None:
        return {"order": order_id, "status": "expired"}
    return {"order": order_id, "status": "approved" if decision["ok"] else "rejected"}


async def collect_three() -> list[Any]:
    "use workflow"
    hook = wf.create_hook(token="collect")
    background = asyncio.ensure_future(wf.sleep("1h"))  # unrelated, stays pending
    received = []
    async for payload in hook:
        received.append(payload)
        if len(received) == 3:
            break
    background.cancel()
    return received


async def default_token(db_path: str) -> dict[str, Any]:
    "use workflow"
    hook = wf.create_hook()
    durable = await token_is_registered(db_path, hook.token)
    payload = await hook
    return {"token": hook.token, "durable_before_step": durable, "payload": payload}


async def hold(token: str) -> Any:
    "use workflow"
    return await wf.create_hook(token=token)


async def messages(timeout: str) -> dict[str, Any]:
    "use workflow"
    first = await wf.receive("greeting")
    second = await wf.receive("greeting")
    missing = await wf.receive("never", timeout=timeout)
    return {"first": first, "second": second, "missing": missing}


@dataclass
class Decision:
    approved: bool
    by: str
    note: str = ""


async def typed_approval() -> dict[str, Any]:
    "use workflow"
    hook = wf.create_hook(token="typed", type=Decision)
    decision = await hook
    return {
        "is_decision": isinstance(decision, Decision),
        "by": decision.by,
        "ok": decision.approved,
    }


async def default_token_free() -> str:
    "use workflow"
    return await notify("no token needed")
