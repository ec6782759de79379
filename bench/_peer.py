"""``python -m bench --peer dbos``: which DBOS groups run next to which wf group, and the
side-by-side figures (wf's figure, DBOS's, and their ratio) computed from both.

No wf or DBOS import here: the parent process uses it before spawning the groups.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from bench._figure import figure

AIM = 40.0  # the design aims at >= 40x DBOS 3.4 on SQLite
PG_AIM = 20.0  # and at >= 20x DBOS on PostgreSQL, on many runs and on the fan-out

INSTALL = "pip install -e '.[bench]' (the optional extra 'bench': dbos==3.4.0)"

#: wf group -> the DBOS groups (bench/_dbos.py) run right after it, each in its own process.
PEER_GROUPS: dict[str, dict[str, list[str]]] = {
    "dbos": {
        "sequential": ["dbos_sequential", "dbos_wal_sequential"],
        "three_steps": ["dbos_three_steps", "dbos_wal_three_steps"],
        "gather": ["dbos_gather", "dbos_wal_gather"],
    }
}

#: The same with --db URL / --postgres: DBOS on the PostgreSQL server wf's groups use.
PG_PEER_GROUPS: dict[str, dict[str, list[str]]] = {
    "dbos": {
        "pg_sequential": ["dbos_pg_sequential"],
        "pg_three_steps": ["dbos_pg_three_steps"],
        "pg_gather": ["dbos_pg_gather"],
    }
}

#: The wf groups `--peer dbos` runs when no NAME is given: the compared workloads, and
#: durability="full" (compared with DBOS's default, which also fsyncs every commit).
#: With --db / --postgres, every PostgreSQL group runs.
DEFAULT_GROUPS = ["sequential", "sequential_full", "three_steps", "gather"]


@dataclass(frozen=True)
class Comparison:
    name: str
    workload: str
    wf: str  # wf's figure
    peer: str  # DBOS's figure
    higher_is_better: bool
    aim: float | None  # the design's aim (stated against DBOS as it comes), if checked
    settings: str
    backend: str = "SQLite"


COMPARISONS = [
    Comparison(
        "vs_dbos_sequential_step",
        "sequential trivial steps, one workflow",
        "sequential_step_us",
        "dbos_sequential_step_us",
        False,
        AIM,
        "each as it comes: wf WAL + synchronous=NORMAL, DBOS rollback journal + FULL",
    ),
    Comparison(
        "vs_dbos_sequential_step_full",
        "sequential trivial steps, one workflow",
        "sequential_step_full_us",
        "dbos_sequential_step_us",
        False,
        None,
        "both fsync every commit: wf durability='full', DBOS as it comes",
    ),
    Comparison(
        "vs_dbos_wal_sequential_step",
        "sequential trivial steps, one workflow",
        "sequential_step_us",
        "dbos_wal_sequential_step_us",
        False,
        None,
        "both WAL + synchronous=NORMAL",
    ),
    Comparison(
        "vs_dbos_three_step_runs",
        "three-step runs started one at a time",
        "three_step_runs_per_s",
        "dbos_three_step_runs_per_s",
        True,
        AIM,
        "each as it comes",
    ),
    Comparison(
        "vs_dbos_wal_three_step_runs",
        "three-step runs started one at a time",
        "three_step_runs_per_s",
        "dbos_wal_three_step_runs_per_s",
        True,
        None,
        "both WAL + synchronous=NORMAL",
    ),
    Comparison(
        "vs_dbos_gather_1000",
        "1,000 gathered steps, one workflow",
        "gather_1000_s",
        "dbos_gather_1000_s",
        False,
        AIM,
        "each as it comes",
    ),
    Comparison(
        "vs_dbos_wal_gather_1000",
        "1,000 gathered steps, one workflow",
        "gather_1000_s",
        "dbos_wal_gather_1000_s",
        False,
        None,
        "both WAL + synchronous=NORMAL",
    ),
    Comparison(
        "vs_dbos_pg_sequential_step",
        "sequential trivial steps, one workflow",
        "pg_sequential_step_us",
        "dbos_pg_sequential_step_us",
        False,
        None,
        "same server (fsync, synchronous_commit as it runs), each in a schema of its own",
        "PostgreSQL",
    ),
    Comparison(
        "vs_dbos_pg_three_step_runs",
        "three-step runs started one at a time",
        "pg_three_step_runs_per_s",
        "dbos_pg_three_step_runs_per_s",
        True,
        PG_AIM,
        "same server",
        "PostgreSQL",
    ),
    Comparison(
        "vs_dbos_pg_concurrent_three_step_runs",
        "three-step runs, all in flight at once",
        "pg_three_step_runs_concurrent_per_s",
        "dbos_pg_three_step_runs_concurrent_per_s",
        True,
        PG_AIM,
        "same server",
        "PostgreSQL",
    ),
    Comparison(
        "vs_dbos_pg_gather_1000",
        "1,000 gathered steps, one workflow",
        "pg_gather_1000_s",
        "dbos_pg_gather_1000_s",
        False,
        PG_AIM,
        "same server",
        "PostgreSQL",
    ),
]


def missing(peer: str) -> str | None:
    """The one-line reason ``--peer PEER`` cannot run in this interpreter, or None."""
    if importlib.util.find_spec(peer) is None:
        return f"python -m bench: --peer {peer} needs DBOS installed: {INSTALL}"
    return None


def compare(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The side-by-side figures of the pairs measured in this invocation."""
    by_name = {f["bench"]: f for f in figures if f.get("value")}
    out = []
    for c in COMPARISONS:
        ours, theirs = by_name.get(c.wf), by_name.get(c.peer)
        if ours is None or theirs is None:
            continue
        a, b = ours["value"], theirs["value"]
        speedup = a / b if c.higher_is_better else b / a
        detail = theirs["detail"]
        sync = detail.get("sync_api_step_us") or detail.get("sync_api_runs_per_s")
        sync_speedup = None if not sync else (a / sync if c.higher_is_better else sync / a)
        out.append(
            figure(
                c.name,
                speedup,
                "×",
                f"≥ {c.aim:g}× DBOS 3.4 on {c.backend} (the aim)" if c.aim else "informational",
                ok=speedup >= c.aim if c.aim else None,
                reference={"wf": ours["value"], c.peer: theirs["value"], "unit": ours["unit"]},
                ratio_is=(
                    "wf / DBOS (higher is better)" if c.higher_is_better else "DBOS / wf (time)"
                ),
                workload=c.workload,
                settings=c.settings,
                backend=c.backend,
                dbos=detail.get("dbos"),
                dbos_journal_mode=detail.get("journal_mode"),
                dbos_synchronous=detail.get("synchronous"),
                dbos_measured=detail.get("measured"),
                dbos_sync_api=sync,
                speedup_vs_dbos_sync_api=sync_speedup,
                dbos_sync_api_measured=detail.get("sync_api"),
            )
        )
    return out


def table(comparisons: list[dict[str, Any]]) -> str:
    """The side-by-side table of the summary (stderr), one per database."""
    backends = dict.fromkeys(fig["detail"].get("backend", "SQLite") for fig in comparisons)
    return "\n".join(
        _table([f for f in comparisons if f["detail"].get("backend", "SQLite") == backend])
        for backend in backends
    )


def _table(comparisons: list[dict[str, Any]]) -> str:
    version = comparisons[0]["detail"].get("dbos")
    backend = comparisons[0]["detail"].get("backend", "SQLite")
    rows = [
        f"wf vs DBOS {version} on {backend}, same machine, same invocation"
        " (× = how many times faster wf is):",
        "  (DBOS async API: async def workflow and steps; sync API: def workflow and steps)",
        f"  {'workload':<40} {'unit':<8} {'wf':>8} {'DBOS async':>10} {'×':>6}"
        f" {'DBOS sync':>10} {'×':>6}  {backend} settings",
    ]
    for fig in comparisons:
        ref = fig["reference"]
        dbos = next(v for k, v in ref.items() if k.startswith("dbos"))
        detail = fig["detail"]
        sync, sync_x = detail["dbos_sync_api"], detail["speedup_vs_dbos_sync_api"]
        rows.append(
            f"  {detail['workload']:<40} {ref['unit']:<8} {ref['wf']:>8.4g} {dbos:>10.4g}"
            f" {fig['value']:>6.3g} {'' if sync is None else f'{sync:.4g}':>10}"
            f" {'' if sync_x is None else f'{sync_x:.3g}':>6}  {detail['settings']}"
        )
    return "\n".join(rows)
