"""Run wf's benchmarks: ``python -m bench [NAME...] [--quick] [--peer dbos] [--db URL|--postgres]``.

NAME is a group (``sequential``, ``gather``...) or a figure name
(``gather_1000_s``...); no NAME runs everything. Each figure is printed as one
JSON line on stdout and all of them are written to ``bench/results/latest.json``
(one JSON object per line). Progress and a summary table go to stderr.

Every group runs in a fresh child process (``--child GROUP``) with its own
temporary SQLite file. The raw SQLite reference is measured first, in the same
invocation, and handed to the other groups for their ratios.

``--peer dbos`` also runs the same workloads with DBOS 3.4 on SQLite (``bench/_dbos.py``),
each DBOS group in its own child process right after the wf group it is compared with, and
prints both figures and their ratio. Without NAME it runs only the compared groups.

``--db postgresql://...`` runs the PostgreSQL groups (``bench/_postgres.py``) instead, against
that server, each wf group in a fresh schema; ``--postgres`` starts a throwaway cluster with
PostgreSQL's durable defaults for the run and uses it. Their reference is the raw psycopg 3
commit on the same server (``pg_raw``), measured first; with ``--peer dbos``, DBOS runs on
the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "latest.json"
PG_RESULTS = BENCH_DIR / "results" / "latest-postgres.json"
REFERENCE_GROUP = "raw_sqlite"
PG_REFERENCE_GROUP = "pg_raw"


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _run_child(group: str, quick: bool, context: dict[str, Any]) -> int:
    if group.startswith("dbos_"):
        from bench._dbos import GROUPS  # a DBOS group does not import wf, nor a wf group DBOS
    elif group.startswith("pg_"):
        from bench._postgres import GROUPS
    else:
        from bench._cases import GROUPS

    figures = asyncio.run(GROUPS[group](quick, context))
    for fig in figures:
        print(json.dumps(fig, ensure_ascii=False), flush=True)
    return 0


def _spawn(
    group: str, quick: bool, context: dict[str, Any], timeout: float
) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "bench", "--child", group, "--context", json.dumps(context)]
    if quick:
        command.append("--quick")
    t0 = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        out, _ = child.communicate()
        error = f"timed out after {timeout:.0f} s (killed); a hang? see stderr"
    else:
        error = None if child.returncode == 0 else f"exit code {child.returncode}; see stderr"
    figures = []
    for line in out.splitlines():
        try:
            figures.append(json.loads(line))
        except json.JSONDecodeError:
            print(line, file=sys.stderr)
    if error is not None:
        figures.append({"bench": group, "value": None, "unit": None, "error": error})
    _progress(f"{group}: {time.perf_counter() - t0:.1f} s")
    return figures


def _summary(figures: list[dict[str, Any]]) -> str:
    rows = []
    for fig in figures:
        if fig.get("error"):
            rows.append(f"  {fig['bench']:<40} ERROR {fig['error']}")
            continue
        ok = {True: "ok", False: "MISSED", None: ""}[fig.get("ok")]
        ratio = "" if fig.get("ratio") is None else f"ratio {fig['ratio']:g}"
        rows.append(f"  {fig['bench']:<40} {fig['value']:>12g} {fig['unit']:<10} {ok:<7} {ratio}")
    return "\n".join(rows)


@contextlib.contextmanager
def _server(db: str | None, throwaway: bool) -> Iterator[str | None]:
    """The PostgreSQL server of the run (its URL in ``WF_BENCH_PG_URL`` for the groups),
    or None: SQLite."""
    if db is None and not throwaway:
        yield None
        return
    from bench import _pgserver as pg

    with contextlib.ExitStack() as stack:
        if throwaway:
            _progress("starting a throwaway PostgreSQL cluster (fsync=on, synchronous_commit=on)")
            db = stack.enter_context(pg.throwaway_server())
        assert db is not None
        found = pg.settings(db)
        _progress(
            f"PostgreSQL {found['server_version']} at {pg.where(db)}: "
            + ", ".join(f"{k}={v}" for k, v in found.items() if k != "server_version")
        )
        warning = pg.durability_warning(found)
        if warning:
            _progress(f"warning: {warning}")
        os.environ[pg.ENV_URL] = db
        yield db


def main(argv: list[str] | None = None) -> int:
    from bench._cases import FIGURES as SQLITE_FIGURES
    from bench._cases import GROUPS as SQLITE_GROUPS
    from bench._peer import DEFAULT_GROUPS, PEER_GROUPS, PG_PEER_GROUPS, compare, missing, table
    from bench._postgres import FIGURES as PG_FIGURES
    from bench._postgres import GROUPS as PG_GROUPS

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"groups: {', '.join(SQLITE_GROUPS)}; with --db or --postgres:"
        f" {', '.join(PG_GROUPS)}; or figure names",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (under a minute)")
    parser.add_argument(
        "--peer",
        choices=sorted(PEER_GROUPS),
        help="also run the compared workloads with this peer (DBOS 3.4 on SQLite), side by"
        " side; needs the optional extra: pip install -e '.[bench]'",
    )
    server = parser.add_mutually_exclusive_group()
    server.add_argument(
        "--db",
        metavar="URL",
        help="run the PostgreSQL groups against this server (postgresql://user@host:port/db;"
        " each group works in a fresh schema of that database, dropped afterwards)",
    )
    server.add_argument(
        "--postgres",
        action="store_true",
        help="run the PostgreSQL groups against a throwaway cluster started for the run"
        " (initdb in a temporary directory, fsync=on, synchronous_commit=on)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per group (default 150, quick 60)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--context", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        return _run_child(args.child, args.quick, json.loads(args.context))

    postgres = args.db is not None or args.postgres
    if args.db is not None and not args.db.startswith(("postgresql://", "postgres://")):
        parser.error(f"--db takes a postgresql:// URL, not {args.db!r}")
    GROUPS, FIGURES = (PG_GROUPS, PG_FIGURES) if postgres else (SQLITE_GROUPS, SQLITE_FIGURES)
    reference = PG_REFERENCE_GROUP if postgres else REFERENCE_GROUP
    selected: list[str] = []
    for name in args.names:
        group = name if name in GROUPS else FIGURES.get(name)
        if group is None:
            if not postgres and (name in PG_GROUPS or name in PG_FIGURES):
                parser.error(f"{name!r} is a PostgreSQL benchmark: add --db URL or --postgres")
            parser.error(
                f"unknown benchmark {name!r}; groups: {', '.join(GROUPS)};"
                f" figures: {', '.join(FIGURES)}"
            )
        selected.append(group)
    if args.peer:
        reason = missing(args.peer)
        if reason is not None:
            print(reason, file=sys.stderr)
            return 2
        if not selected and not postgres:
            selected = DEFAULT_GROUPS
    groups = [g for g in GROUPS if not selected or g in selected]
    if reference in groups:
        groups.remove(reference)
    groups.insert(0, reference)  # always measured: the other figures are ratios to it
    timeout = args.timeout or (60.0 if args.quick else 150.0)
    results = PG_RESULTS if postgres else RESULTS

    started = time.perf_counter()
    context: dict[str, Any] = {}
    figures: list[dict[str, Any]] = []
    peers = (PG_PEER_GROUPS if postgres else PEER_GROUPS)[args.peer] if args.peer else {}
    with _server(args.db, args.postgres):
        for group in [g for wf_group in groups for g in (wf_group, *peers.get(wf_group, []))]:
            _progress(f"running {group}{' (quick)' if args.quick else ''}...")
            for fig in _spawn(group, args.quick, context, timeout):
                figures.append(fig)
                print(json.dumps(fig, ensure_ascii=False), flush=True)
                if group == reference and fig.get("value") is not None:
                    context[fig["bench"]] = fig["value"]
    comparisons = compare(figures) if args.peer else []
    for fig in comparisons:
        figures.append(fig)
        print(json.dumps(fig, ensure_ascii=False), flush=True)

    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in figures))
    _progress(
        f"done in {time.perf_counter() - started:.1f} s; results in {results.relative_to(ROOT)}"
    )
    print(_summary(figures), file=sys.stderr)
    if comparisons:
        print(table(comparisons), file=sys.stderr)
    return 1 if any(f.get("error") for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
