"""A worker process of the PostgreSQL groups: ``python -m bench._pg_worker URL [options]``.

Like ``wf worker``, with the settings a group needs on its command line (``--lease``,
``--evict-after``, ``--concurrency``, ``--poll-interval``). It prints ``ready`` once wf and
``bench.flows`` are imported; with ``--wait-go`` it then waits for a line on stdin before
it opens its engine, so that several workers start executing at the same moment. It prints
``open`` once its engine is open, and runs until SIGTERM or SIGINT, on which its engine
closes (its leases released) and it exits 0. A URL ``-`` is taken from ``WF_DATABASE_URL``
(a password stays off the command line).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import wf

wf.install_import_hook()

import bench.flows  # noqa: E402, F401  (the workflows the runs it claims need)


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with wf.Engine(
        None if args.url == "-" else args.url,
        concurrency=args.concurrency,
        lease=args.lease,
        evict_after=args.evict_after,
        poll_interval=args.poll_interval,
    ):
        print("open", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench._pg_worker")
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--evict-after", type=float, default=2.0)
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--wait-go", action="store_true")
    arguments = parser.parse_args()
    print("ready", flush=True)
    if arguments.wait_go:
        sys.stdin.readline()
    asyncio.run(main(arguments))
