"""Workflows exercising the runtime's semantics; the tests count step executions via CALLS."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import Counter
from datetime import datetime

import wf

CALLS: Counter[str] = Counter()
THREADS: list[str] = []


class OutOfStock(Exception):
    pass


async def add(a: int, b: int) -> int:
    "use step"
    CALLS["add"] += 1
    return a + b


def blocking_mul(a: int, b: int) -> int:
    "use step"
    CALLS["blocking_mul"] += 1
    THREADS.append(threading.current_thread().name)
    time.sleep(0.001)
    return a * b


async def slow(seconds: float, value: str) -> str:
    "use step"
    CALLS["slow"] += 1
    await asyncio.sleep(seconds)
    return value


@wf.options(max_attempts=3, initial_interval="1ms", max_interval="5ms")
async def flaky(fail_times: int) -> str:
    "use step"
    CALLS["flaky"] += 1
    meta = wf.get_step_metadata()
    if meta.attempt <= fail_times:
        raise ConnectionError(f"attempt {meta.attempt} failed")
    return f"ok after {meta.attempt}"


async def retry_later(fail_times: int) -> int:
    "use step"
    CALLS["retry_later"] += 1
    if wf.get_step_metadata().attempt <= fail_times:
        raise wf.RetryableError("not yet", retry_after="20ms")
    return wf.get_step_metadata().attempt


async def fatal() -> None:
    "use step"
    CALLS["fatal"] += 1
    raise wf.FatalError("card declined")


@wf.options(max_attempts=2, initial_interval="1ms")
async def reserve(item: str) -> str:
    "use step"
    CALLS["reserve"] += 1
    raise OutOfStock(item)


async def refund(amount: int) -> str:
    "use step"
    CALLS["refund"] += 1
    return f"refunded {amount}"


async def returns_lock() -> object:
    "use step"
    CALLS["returns_lock"] += 1
    return threading.Lock()


async def sequential(n: int) -> int:
    "use workflow"
    total = 0
    for i in range(n):
        total = await add(total, i)
    return total


async def parallel() -> list[int]:
    "use workflow"
    results = await asyncio.gather(add(1, 2), blocking_mul(3, 4), add(5, 6))
    return list(results)


async def retrying(fail_times: int) -> str:
    "use workflow"
    return await flaky(fail_times)


async def retry_after_flow(fail_times: int) -> int:
    "use workflow"
    return await retry_later(fail_times)


async def fatal_flow() -> str:
    "use workflow"
    try:
        await fatal()
    except wf.FatalError as exc:
        return f"caught: {exc}"
    return "not reached"


async def saga(amount: int) -> dict[str, str]:
    "use workflow"
    try:
        await reserve("widget")
    except OutOfStock as exc:
        return {"status": "compensated", "refund": await refund(amount), "why": str(exc)}
    return {"status": "done"}


async def exhausted() -> str:
    "use workflow"
    return await flaky(10)


async def timeout_flow(step_seconds: float, limit: float) -> str:
    "use workflow"
    try:
        return await asyncio.wait_for(slow(step_seconds, "slow won"), limit)
    except TimeoutError:
        return "timed out"


async def timeout_cm_flow(limit: float) -> str:
    "use workflow"
    try:
        async with asyncio.timeout(limit):
            await wf.sleep(60)
    except TimeoutError:
        return "deadline hit"
    return "slept"


async def race_flow(step_seconds: float, sleep_for: str) -> str:
    "use workflow"
    winner = await wf.race(slow(step_seconds, "step"), wf.sleep(sleep_for))
    return "sleep" if winner is None else str(winner)


async def sleepy(seconds: float) -> dict[str, float]:
    "use workflow"
    before = time.time()
    await asyncio.sleep(seconds)
    after = time.time()
    value = await add(1, 1)
    return {"slept": after - before, "value": value}


async def deterministic() -> dict[str, object]:
    "use workflow"
    first = {
        "now": datetime.now().isoformat(),
        "random": random.random(),
        "randint": random.randint(1, 10**9),
        "uuid": str(uuid.uuid4()),
        "wf_uuid": str(wf.uuid4()),
        "wf_random": wf.random(),
    }
    await wf.sleep("300ms")  # long enough to be evicted and replayed when evict_after is 0
    second = {"random": random.random(), "now": wf.now().isoformat()}
    return {"first": first, "second": second}


async def child(x: int) -> int:
    "use workflow"
    return await add(x, 100)


async def parent(x: int) -> list[int]:
    "use workflow"
    a = await child(x)
    b = await add(a, 1)
    return [a, b]


async def unserializable_argument() -> str:
    "use workflow"
    try:
        await add(object(), 1)  # type: ignore[arg-type]
    except wf.SerializationError as exc:
        return str(exc)
    return "not reached"


async def unserializable_result() -> str:
    "use workflow"
    try:
        await returns_lock()
    except wf.SerializationError as exc:
        return str(exc)
    return "not reached"


async def failing(message: str) -> None:
    "use workflow"
    await add(1, 1)
    raise ValueError(message)


async def compensating(seconds: float) -> str:
    "use workflow"
    try:
        await wf.sleep(seconds)
        return "slept"
    finally:
        await refund(5)


async def metadata_flow() -> dict[str, object]:
    "use workflow"
    meta = wf.get_workflow_metadata()
    return {"run_id": meta.run_id, "workflow_id": meta.workflow_id, "attempt": meta.attempt}


#: Holds the first execution of `gated` until a test opens it.
GATE: asyncio.Event | None = None


async def gated(value: str) -> str:
    "use step"
    CALLS["gated"] += 1
    if CALLS["gated"] == 1 and GATE is not None:
        await GATE.wait()
    return value


async def gated_flow() -> str:
    "use workflow"
    value = await gated("done")
    return value + "!"


async def wait_flow() -> list[str]:
    "use workflow"
    tasks = [asyncio.ensure_future(slow(0.0, name)) for name in ("a", "b", "c")]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.ALL_COMPLETED)
    assert not pending
    return [task.result() for task in done]  # iteration order must replay identically


async def retry_in_an_hour() -> str:
    "use step"
    CALLS["retry_in_an_hour"] += 1
    raise wf.RetryableError("busy", retry_after="1h")


async def long_retry_flow() -> str:
    "use workflow"
    try:
        return await retry_in_an_hour()
    except wf.RetryableError:
        return "gave up before the deadline"


async def sleep_then_add(seconds: float) -> int:
    "use workflow"
    await wf.sleep(seconds)
    return await add(1, 1)


async def takes_anything(value: object) -> str:
    "use workflow"
    return repr(value)


#: Flipped by a test to "deploy the fix" of `buggy`.
BROKEN = {"buggy": True}


@wf.options(max_attempts=2, initial_interval="1ms")
async def buggy(x: int) -> int:
    "use step"
    CALLS["buggy"] += 1
    if BROKEN["buggy"]:
        raise ZeroDivisionError("bug in the step")
    return x + 1


async def fixable(x: int) -> dict[str, int]:
    "use workflow"
    first = await add(x, 1)
    second = await buggy(first)
    return {"second": second, "attempt": wf.get_workflow_metadata().attempt}


@wf.options(timeout="200ms")
async def impatient(seconds: float) -> int:
    "use workflow"
    await wf.sleep(seconds)
    return await add(1, 1)


async def impatient_parent(seconds: float) -> str:
    "use workflow"
    handle = await wf.start(impatient, seconds)
    try:
        return str(await handle.result())
    except wf.RunFailedError as exc:
        return exc.error_type


#: Side effects of `charge_slowly`, in order: a step cut short would leave "begin" alone.
LEDGER: list[str] = []


async def charge_slowly(amount: int) -> str:
    "use step"
    LEDGER.append(f"begin {amount}")
    await asyncio.sleep(0.3)
    LEDGER.append(f"end {amount}")
    return f"charged {amount}"


async def cancelled_mid_step(amount: int) -> str:
    "use workflow"
    return await charge_slowly(amount)


async def raced_steps() -> str:
    "use workflow"
    # The quick step wins; the slow one keeps running after the run completed.
    return str(await wf.race(add(1, 1), charge_slowly(7)))


async def fails_beside_a_slow_step() -> list[object]:
    "use workflow"
    return list(await asyncio.gather(charge_slowly(3), fatal()))
