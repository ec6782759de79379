"""Why wf's PostgreSQL store uses psycopg 3 synchronously, on a thread of its own.

``python bench/pg_drivers.py postgresql://user@host:port/db`` times, on that server,
2,000 round trips of each: a single-row autocommit INSERT, and wf's commit shape
(``BEGIN``, a lease check on the run, one event row, ``COMMIT``) sent as wf sends it
(pipelined, one round trip) and naively (a round trip per statement); through
psycopg 3 on the loop's thread, through a thread, with its async connection, and
with asyncpg when it is installed (``pip install asyncpg``; wf does not need it).
Each variant is timed twice; the median of the two passes is printed per variant.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

N = 2000
ROW = "INSERT INTO wf_drivers_events VALUES (%s, %s, %s, %s, %s)"
HOLD = "SELECT run_id FROM wf_drivers_runs WHERE run_id = ANY(%s) AND lease_owner = %s FOR SHARE"


def setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS wf_drivers_events, wf_drivers_runs")
        conn.execute(
            "CREATE TABLE wf_drivers_events (run_id text, seq int, kind text, data text,"
            " at float8, PRIMARY KEY (run_id, seq))"
        )
        conn.execute("CREATE TABLE wf_drivers_runs (run_id text PRIMARY KEY, lease_owner text)")
        conn.execute("INSERT INTO wf_drivers_runs VALUES ('r', 'me')")


def truncate(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE wf_drivers_events")


def report(name: str, passes: list[float]) -> None:
    print(f"{name:<58} {statistics.median(passes) / N * 1e6:7.0f} µs", flush=True)


def timed_sync(dsn: str, name: str, fn: Callable[[int], object]) -> None:
    passes = []
    for _ in range(2):
        truncate(dsn)
        t0 = time.perf_counter()
        for i in range(N):
            fn(i)
        passes.append(time.perf_counter() - t0)
    report(name, passes)


async def timed_async(dsn: str, name: str, fn: Callable[[int], Awaitable[object]]) -> None:
    passes = []
    for _ in range(2):
        truncate(dsn)
        t0 = time.perf_counter()
        for i in range(N):
            await fn(i)
        passes.append(time.perf_counter() - t0)
    report(name, passes)


async def main(dsn: str) -> None:
    setup(dsn)
    conn = psycopg.connect(dsn, autocommit=True)

    def raw(i: int) -> None:
        conn.execute(ROW, ("r", i, "step_completed", "1", 0.0))

    def pipelined(i: int) -> None:
        with conn.pipeline():
            conn.execute("BEGIN")
            conn.execute(HOLD, (["r"], "me"))
            conn.execute(ROW, ("r", i, "step_completed", "1", 0.0))
            conn.execute("COMMIT")

    def naive(i: int) -> None:
        conn.execute("BEGIN")
        conn.execute(HOLD, (["r"], "me")).fetchall()
        conn.execute(ROW, ("r", i, "step_completed", "1", 0.0))
        conn.execute("COMMIT")

    timed_sync(dsn, "psycopg, loop's thread: single-row insert", raw)
    timed_sync(dsn, "psycopg, loop's thread: wf's commit, pipelined", pipelined)
    timed_sync(dsn, "psycopg, loop's thread: wf's commit, a round trip each", naive)
    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor(1)

    def on_thread(fn: Callable[[int], None]) -> Callable[[int], Awaitable[None]]:
        return lambda i: loop.run_in_executor(pool, fn, i)

    await timed_async(dsn, "psycopg through a thread: single-row insert", on_thread(raw))
    await timed_async(dsn, "psycopg through a thread: wf's commit, pipelined", on_thread(pipelined))
    aconn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)

    async def araw(i: int) -> None:
        await aconn.execute(ROW, ("r", i, "step_completed", "1", 0.0))

    async def apipelined(i: int) -> None:
        async with aconn.pipeline():
            await aconn.execute("BEGIN")
            await aconn.execute(HOLD, (["r"], "me"))
            await aconn.execute(ROW, ("r", i, "step_completed", "1", 0.0))
            await aconn.execute("COMMIT")

    await timed_async(dsn, "psycopg async: single-row insert", araw)
    await timed_async(dsn, "psycopg async: wf's commit, pipelined", apipelined)
    await aconn.close()
    try:
        import asyncpg  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print("asyncpg: not installed (pip install asyncpg to compare it)")
    else:
        apg: Any = await asyncpg.connect(dsn)
        insert = await apg.prepare(
            ROW.replace("%s", "$1", 1)
            .replace("%s", "$2", 1)
            .replace("%s", "$3", 1)
            .replace("%s", "$4", 1)
            .replace("%s", "$5", 1)
        )
        hold = await apg.prepare(HOLD.replace("%s", "$1", 1).replace("%s", "$2", 1))

        async def apg_raw(i: int) -> None:
            await insert.fetch("r", i, "step_completed", "1", 0.0)

        async def apg_commit(i: int) -> None:
            async with apg.transaction():
                await hold.fetch(["r"], "me")
                await insert.fetch("r", i, "step_completed", "1", 0.0)

        await timed_async(dsn, "asyncpg: single-row insert (prepared)", apg_raw)
        await timed_async(dsn, "asyncpg: wf's commit (no pipeline: 4 round trips)", apg_commit)
        await apg.close()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("DROP TABLE wf_drivers_events, wf_drivers_runs")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/pg_drivers.py postgresql://user@host:port/db")
    asyncio.run(main(sys.argv[1]))
