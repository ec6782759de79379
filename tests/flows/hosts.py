"""Workflows of the multi-host chaos test (``tests/runtime/test_chaos_hosts.py``).

Every step goes through ``work``, which first appends one line to a ledger file (O_APPEND: a
SIGKILL loses nothing a ``write()`` handed to the kernel) naming the run, the step's
correlation id, the worker (its ``WF_HOST_ID`` and pid) and a fresh execution id, and
returns that execution id beside its value: the test then knows which execution the
log recorded, and can tell a re-execution of an interrupted step from one of a
completed step.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from typing import Any

import wf

#: Real (non-durable) pause inside each step, so that a kill can land mid-step.
STEP_PAUSE = float(os.environ.get("WF_HOSTS_PAUSE", "0.05"))


async def work(ledger: str, label: str, value: int) -> list[Any]:
    "use step"
    meta = wf.get_step_metadata()
    execution = secrets.token_hex(6)
    host = os.environ.get("WF_HOST_ID", "-")
    line = (
        f"{meta.run_id} {meta.correlation_id} {label} {host} {os.getpid()}"
        f" {execution} {time.time():.6f}\n"
    )
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    # After the line: an execution a kill interrupts is in the ledger all the same.
    await asyncio.sleep(STEP_PAUSE)
    return [value, execution]


async def sequence(ledger: str, key: str, n: int) -> int:
    "use workflow"
    # Each step's input depends on the result before it: a result delivered to the
    # wrong step, or replayed out of order, changes the total.
    x = 1
    for i in range(n):
        x = (await work(ledger, f"{key}/s{i}", 3 * x + i))[0] % 1_000_003
    return x


async def fan_out(ledger: str, key: str, n: int) -> list[int]:
    "use workflow"
    results = await asyncio.gather(*(work(ledger, f"{key}/g{i}", i * i) for i in range(n)))
    total = sum(r[0] for r in results)
    last = await work(ledger, f"{key}/sum", total)
    return [*(r[0] for r in results), last[0]]


async def sleeper(ledger: str, key: str, pauses: list[float]) -> dict[str, Any]:
    "use workflow"
    total = 0
    slept = []
    for i, pause in enumerate(pauses):
        before = time.time()  # the replayed clock: the sleep's length is durable too
        if i % 2:
            # A step racing a durable sleep in one gather.
            step, _ = await asyncio.gather(work(ledger, f"{key}/z{i}", i + 1), wf.sleep(pause))
        else:
            step = await work(ledger, f"{key}/z{i}", i + 1)
            await wf.sleep(pause)
        total += step[0]
        slept.append(time.time() - before >= pause)
    return {"total": total, "slept": all(slept)}


async def hooked(ledger: str, key: str, count: int) -> list[int]:
    "use workflow"
    hook = wf.create_hook(token=f"hosts:{key}")
    await work(ledger, f"{key}/ready", 0)
    got: list[int] = []
    async for payload in hook:
        got.append((await work(ledger, f"{key}/h{len(got)}", payload))[0])
        if len(got) == count:
            break
    return got


async def child(ledger: str, key: str, x: int, pause: float) -> int:
    "use workflow"
    y = (await work(ledger, f"{key}/c0", x + 1))[0]
    await wf.sleep(pause)
    return int((await work(ledger, f"{key}/c1", 2 * y))[0])


async def parent(ledger: str, key: str, n: int, pause: float) -> dict[str, Any]:
    "use workflow"
    handles = [await wf.start(child, ledger, f"{key}.k{i}", i, pause) for i in range(n)]
    await work(ledger, f"{key}/p", n)
    values = await asyncio.gather(*(h.result() for h in handles))
    return {"children": [h.id for h in handles], "values": list(values)}
