"""The README demo: a countdown that survives being killed.

    wf run examples.countdown:countdown 10 --run-id demo

Each tick is a step that appends a line to a log file (``$WF_DEMO_LOG``, default
``.wf/countdown.log``), and the workflow sleeps one second between ticks with
``wf.sleep``. Press Ctrl-C (or ``kill -9`` the process) half-way, then run the
same command again: the same ``--run-id`` rejoins the run (without it, a second
``wf run`` starts a new countdown), and it picks up where it stopped. Ticks already in the log
are not written again; the lines written after the restart carry the new
process id. (Only a tick cut off in the middle of its own step could run twice:
steps are at-least-once, their recorded results exactly-once.)

    tail -f .wf/countdown.log     # in another terminal
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import wf

#: How many times each tick's step ran, by tick number (the tests check it).
CALLS: collections.Counter[int] = collections.Counter()


def log_path() -> Path:
    return Path(os.environ.get("WF_DEMO_LOG", ".wf/countdown.log"))


def tick(remaining: int) -> str:
    "use step"
    # A plain `def` step: blocking file I/O is fine here, it runs in a worker thread.
    CALLS[remaining] += 1
    line = f"T-{remaining}"
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(f"{line}  (pid {os.getpid()})\n")
    return line


async def countdown(n: int = 10, pause: str = "1s") -> list[str]:
    "use workflow"
    lines = []
    for remaining in range(n, 0, -1):
        if remaining != n:
            await wf.sleep(pause)  # durable: a restarted run sleeps only what is left
        lines.append(await tick(remaining))
    return lines
