"""A long run of quick steps, each leaving a trace on disk: the crash-recovery tests kill it."""

from __future__ import annotations

import asyncio
import os

import wf

#: Real (non-durable) pause inside each step, so a kill can land mid-run.
STEP_PAUSE = float(os.environ.get("WF_CRASHY_PAUSE", "0.008"))


async def record(i: int, log_path: str) -> int:
    "use step"
    await asyncio.sleep(STEP_PAUSE)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"{i}\n")
        log.flush()
        os.fsync(log.fileno())
    return i * i


async def many_steps(n: int, log_path: str) -> int:
    "use workflow"
    total = 0
    for i in range(n):
        total += await record(i, log_path)
    return total


async def steps_with_sleep(n: int, log_path: str, pause: str = "300ms") -> int:
    "use workflow"
    total = 0
    for i in range(n):
        if i == n // 2:
            await wf.sleep(pause)  # durable: a restarted process sleeps only what is left
        total += await record(i, log_path)
    return total


async def mark(i: int, log_path: str) -> int:
    "use step"
    # Short, and no fsync: a SIGKILL loses nothing a write() handed to the kernel,
    # and a thousand fsyncs would make the fan-out test slow for no gain.
    await asyncio.sleep(STEP_PAUSE)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{i}\n".encode())
    finally:
        os.close(fd)
    return 2 * i


async def fan_out(n: int, log_path: str, concurrency: int = 25) -> int:
    "use workflow"
    # Many completions land in one commit; a kill between that commit and the next
    # leaves the log shape that once failed runs with a false NondeterminismError.
    doubled = await wf.map(range(n), lambda i: mark(i, log_path), concurrency=concurrency)
    return sum(doubled)
