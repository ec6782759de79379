"""The worker the recovery benchmarks kill:
``python -m bench._recovery_child URL PATH RUN_ID N [LEASE]``.

It starts (or resumes) the run ``RUN_ID`` of ``bench.flows.logged`` and works on
it until it is SIGKILLed; every step appends one line to ``PATH``. ``LEASE`` (seconds,
default the engine's) is how long its runs outlive it for a worker of another host. A URL
``-`` is taken from ``WF_DATABASE_URL`` (a password stays off the command line).
"""

from __future__ import annotations

import asyncio
import sys

import wf

wf.install_import_hook()

import bench.flows as flows  # noqa: E402


async def main(url: str, path: str, run_id: str, n: int, lease: float) -> None:
    async with wf.Engine(None if url == "-" else url, poll_interval=0.05, lease=lease) as engine:
        run = await engine.start(flows.logged, path, n, run_id=run_id)
        await run.result()


if __name__ == "__main__":
    url, path, run_id, n = sys.argv[1:5]
    lease = float(sys.argv[5]) if len(sys.argv) > 5 else 15.0
    asyncio.run(main(url, path, run_id, int(n), lease))
