"""A workflow whose module takes ``WF_SLOW_IMPORT`` seconds to import, as compiling a large
module on a cold cache does: a worker importing it at its first claim blocks its event
loop (and its heartbeat) meanwhile. Each step appends its label and the worker's host id
to a file."""

from __future__ import annotations

import os
import time

time.sleep(float(os.environ.get("WF_SLOW_IMPORT", "0")))


async def mark(log_path: str, label: str) -> str:
    "use step"
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{label} {os.environ.get('WF_HOST_ID', '-')}\n".encode())
    finally:
        os.close(fd)
    return label


async def two_marks(log_path: str) -> list[str]:
    "use workflow"
    return [await mark(log_path, "first"), await mark(log_path, "second")]
