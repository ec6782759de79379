"""The DBOS side of ``python -m bench --peer dbos``: wf's workloads run with DBOS, on SQLite
or (with ``--db URL`` / ``--postgres``) on the PostgreSQL server wf's groups use.

Imported only in the child processes of the DBOS groups (``--child dbos_sequential``...),
never by wf's own groups, so wf's figures are measured without DBOS loaded. Needs the
optional extra ``bench`` (``pip install -e '.[bench]'``: ``dbos==3.4.0``).

The workloads are the ones of ``bench/flows.py``, written with DBOS's decorators: an
``async def`` workflow (``@DBOS.workflow()``) calling trivial ``async def`` steps
(``@DBOS.step()``), started with ``DBOS.start_workflow_async`` and awaited with
``handle.get_result()``, as wf's are with ``engine.start`` and ``run.result()``. The
sequential and three-step figures also measure DBOS's synchronous API (``def`` workflow
and steps, ``DBOS.start_workflow(...).get_result()``, in a thread) as a detail.

Three configurations (``backend``), each group in its own process:

* ``default``: DBOS as configured by ``system_database_url="sqlite:///FILE"`` alone (its
  rollback journal, ``synchronous=FULL``: an fsync per commit);
* ``wal``: the same with every connection set to ``journal_mode=WAL`` and
  ``synchronous=NORMAL`` (wf's default settings), through an SQLAlchemy ``connect`` event;
* ``pg``: ``system_database_url`` the server of ``WF_BENCH_PG_URL`` (its database; DBOS
  connects with psycopg 3 as wf does), its tables in a fresh schema
  (``dbos_system_schema``), dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dbos import DBOS

from bench import _pgserver as pg
from bench._figure import figure

# ---------------------------------------------------------------------------
# The workloads (bench/flows.py's seq, three_steps and gather) in DBOS's API.


@DBOS.step()
async def noop(i: int) -> int:
    return i


@DBOS.workflow()
async def seq(n: int) -> int:
    total = 0
    for i in range(n):
        total += await noop(i)
    return total


@DBOS.workflow()
async def three_steps() -> int:
    a = await noop(1)
    b = await noop(2)
    c = await noop(3)
    return a + b + c


@DBOS.workflow()
async def gather(n: int) -> int:
    results = await asyncio.gather(*(noop(i) for i in range(n)))
    return sum(results)


@DBOS.step()
def noop_sync(i: int) -> int:
    return i


@DBOS.workflow()
def seq_sync(n: int) -> int:
    total = 0
    for i in range(n):
        total += noop_sync(i)
    return total


@DBOS.workflow()
def three_steps_sync() -> int:
    a = noop_sync(1)
    b = noop_sync(2)
    c = noop_sync(3)
    return a + b + c


# ---------------------------------------------------------------------------


def _wal_normal(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA journal_mode=WAL")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")


class Dbos:
    """DBOS launched on a SQLite file in a temporary directory (no server, no config file),
    or on the PostgreSQL server of the run (``pg``), in a fresh schema."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._dir = tempfile.TemporaryDirectory(prefix="wf-bench-dbos-")
        self.url = f"sqlite:///{Path(self._dir.name) / 'dbos.sqlite'}"
        self.schema: str | None = None
        if backend == "pg":
            self.url = pg.without_schema(os.environ[pg.ENV_URL])
            self.schema = pg.new_schema_name("dbos")

    def __enter__(self) -> Dbos:
        if self.backend == "wal":
            sa.event.listen(sa.engine.Engine, "connect", _wal_normal)
        config: Any = {
            "name": "wf-bench",
            "system_database_url": self.url,
            "log_level": "WARNING",
        }
        if self.schema is not None:
            config["dbos_system_schema"] = self.schema
        DBOS(config=config)
        DBOS.launch()
        return self

    def __exit__(self, *exc: object) -> None:
        DBOS.destroy()
        if self.schema is not None:
            pg.drop_schema(self.url, self.schema)
        self._dir.cleanup()

    def settings(self) -> dict[str, Any]:
        """What the system database really runs with, read from one of DBOS's connections."""
        from dbos._dbos import _get_dbos_instance

        engine = _get_dbos_instance()._sys_db.engine
        if self.backend == "pg":
            with engine.connect() as conn:
                shown = {
                    name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                    for name in ("server_version", "fsync", "synchronous_commit")
                }
                driver = engine.dialect.driver
            return {
                "dbos": version("dbos"),
                "backend": "PostgreSQL",
                "server": pg.where(self.url),
                "driver": driver,
                "dbos_system_schema": "<fresh schema>",
                **shown,
            }
        with engine.connect() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        return {
            "dbos": version("dbos"),
            "backend": "SQLite",
            "sqlite_config": self.backend,
            "journal_mode": journal,
            "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(sync, sync),
            "system_database_url": "sqlite:///<tmp>/dbos.sqlite",
        }


async def run_one(fn: Callable[..., Awaitable[Any]], *args: Any) -> tuple[float, Any]:
    """Start one workflow, wait for its result; wall seconds and result."""
    t0 = time.perf_counter()
    handle = await DBOS.start_workflow_async(fn, *args)
    result = await handle.get_result()
    return time.perf_counter() - t0, result


def run_one_sync(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = DBOS.start_workflow(fn, *args).get_result()
    return time.perf_counter() - t0, result


def _prefix(backend: str) -> str:
    return "dbos" if backend == "default" else f"dbos_{backend}"


def _label(backend: str) -> str:
    return {
        "default": "DBOS 3.4 on SQLite as configured by system_database_url alone",
        "wal": "DBOS 3.4 on SQLite with journal_mode=WAL, synchronous=NORMAL (wf's settings)",
        "pg": "DBOS 3.4 on the same PostgreSQL server as wf, as configured by"
        " system_database_url (and a schema of its own)",
    }[backend]


async def bench_sequential(backend: str, quick: bool, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    n = 2000
    with Dbos(backend) as dbos:
        await run_one(seq, 200)  # warm-up
        samples = []
        for _ in range(1 if quick else 3):
            elapsed, result = await run_one(seq, n)
            assert result == n * (n - 1) // 2, result
            samples.append(elapsed / n * 1e6)

        def sync_api() -> float:
            run_one_sync(seq_sync, 200)  # warm-up
            elapsed, result = run_one_sync(seq_sync, n)
            assert result == n * (n - 1) // 2, result
            return elapsed / n * 1e6

        sync_us = await asyncio.to_thread(sync_api)
        settings = dbos.settings()
    us = statistics.median(samples)
    return [
        figure(
            f"{_prefix(backend)}_sequential_step_us",
            us,
            "us/step",
            f"peer: {_label(backend)}",
            steps=n,
            samples_us=[float(f"{s:.4g}") for s in samples],
            measured="async workflow seq(2000) of 2,000 trivial async steps, after a seq(200)"
            " warm-up; DBOS.start_workflow_async to handle.get_result(); µs/step, median",
            sync_api_step_us=sync_us,
            sync_api="def workflow of 2,000 def steps, DBOS.start_workflow(...).get_result(), once",
            **settings,
        )
    ]


async def bench_three_steps(backend: str, quick: bool, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    n = 100 if quick else 500
    with Dbos(backend) as dbos:
        for _ in range(20):
            await run_one(three_steps)
        t0 = time.perf_counter()
        for _ in range(n):
            _, result = await run_one(three_steps)
            assert result == 6
        serial = n / (time.perf_counter() - t0)

        def sync_api() -> float:
            for _ in range(20):
                run_one_sync(three_steps_sync)
            t0 = time.perf_counter()
            for _ in range(n):
                _, result = run_one_sync(three_steps_sync)
                assert result == 6
            return n / (time.perf_counter() - t0)

        sync_runs = await asyncio.to_thread(sync_api)
        concurrent = None
        if backend == "pg":  # many runs at once: compared with wf's on PostgreSQL only
            t0 = time.perf_counter()
            handles = [await DBOS.start_workflow_async(three_steps) for _ in range(n)]
            results = await asyncio.gather(*(h.get_result() for h in handles))
            concurrent = n / (time.perf_counter() - t0)
            assert all(r == 6 for r in results)
        settings = dbos.settings()
    figures = []
    if concurrent is not None:
        figures.append(
            figure(
                f"{_prefix(backend)}_three_step_runs_concurrent_per_s",
                concurrent,
                "runs/s",
                f"peer: {_label(backend)}",
                runs=n,
                steps_per_s=3 * concurrent,
                measured=f"{n} runs of async workflow three_steps() all in flight:"
                " DBOS.start_workflow_async one after another, then asyncio.gather of every"
                " handle.get_result(); from the first start to the last result",
                **settings,
            )
        )
    return [
        *figures,
        figure(
            f"{_prefix(backend)}_three_step_runs_per_s",
            serial,
            "runs/s",
            f"peer: {_label(backend)}",
            runs=n,
            steps_per_s=3 * serial,
            measured=f"{n} runs of async workflow three_steps() (3 trivial async steps), one at"
            " a time: DBOS.start_workflow_async, then await handle.get_result(); after 20"
            " warm-up runs",
            sync_api_runs_per_s=sync_runs,
            sync_api="def workflow of 3 def steps, DBOS.start_workflow(...).get_result()",
            **settings,
        ),
    ]


async def bench_gather(backend: str, quick: bool, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    n = 1000
    with Dbos(backend) as dbos:
        await run_one(gather, 100)  # warm-up
        samples = []
        for _ in range(1 if quick else 3):
            elapsed, result = await run_one(gather, n)
            assert result == n * (n - 1) // 2
            samples.append(elapsed)
        settings = dbos.settings()
    s = statistics.median(samples)
    return [
        figure(
            f"{_prefix(backend)}_gather_1000_s",
            s,
            "s",
            f"peer: {_label(backend)}",
            samples_s=[float(f"{x:.4g}") for x in samples],
            measured="async workflow gather(1000): asyncio.gather of 1,000 trivial async steps;"
            " DBOS.start_workflow_async to handle.get_result(); seconds, median, after a"
            " gather(100) warm-up",
            **settings,
        )
    ]


GROUPS: dict[str, Callable[[bool, dict[str, Any]], Awaitable[list[dict[str, Any]]]]] = {
    f"{_prefix(backend)}_{name}": partial(fn, backend)
    for backend in ("default", "wal", "pg")
    for name, fn in (
        ("sequential", bench_sequential),
        ("three_steps", bench_three_steps),
        ("gather", bench_gather),
    )
}
