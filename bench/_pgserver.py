"""The PostgreSQL server of ``python -m bench --db URL`` / ``--postgres``: its URL, fresh
schemas in it, what it runs with, and the throwaway durable cluster ``--postgres`` starts.

No wf import: the parent process and the DBOS groups use it too. The server's URL reaches
the groups' child processes through the environment (``WF_BENCH_PG_URL``), not their
command line, so a password in it is not shown by ``ps``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
ENV_URL = "WF_BENCH_PG_URL"

#: The server settings each PostgreSQL figure carries (and the parent prints).
SETTINGS = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "wal_sync_method",
    "full_page_writes",
    "shared_buffers",
    "max_connections",
)


def without_schema(url: str) -> str:
    """``url`` without wf's ``schema`` parameter (libpq refuses it); other parameters stay."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def with_schema(url: str, schema: str) -> str:
    """``url`` for wf, with its tables in ``schema``."""
    parts = urlsplit(without_schema(url))
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("schema", schema)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def schema_of(url: str) -> str:
    """The ``schema`` parameter of ``url`` (wf's default ``wf`` without one)."""
    return dict(parse_qsl(urlsplit(url).query)).get("schema", "wf")


def conninfo(url: str) -> str:
    """``url`` as psycopg takes it (``postgres://`` too, no ``schema``)."""
    parts = urlsplit(without_schema(url))
    return urlunsplit(("postgresql", *parts[1:]))


def where(url: str) -> str:
    """host:port/database of ``url``, without its user and password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or '/'}"


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(conninfo(url), autocommit=True, connect_timeout=10, **kwargs)


def settings(url: str) -> dict[str, str]:
    """What the server runs with (``SHOW`` of each of ``SETTINGS``)."""
    found = {}
    with connect(url) as conn:
        for name in SETTINGS:
            row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            found[name] = str(row[0]) if row else "?"
    return found


def durability_warning(found: dict[str, str]) -> str | None:
    """Why figures measured on a server with these settings are not durable commits."""
    off = [name for name in ("fsync", "synchronous_commit") if found.get(name) != "on"]
    if not off:
        return None
    return (
        f"the server runs with {', '.join(f'{n}={found[n]}' for n in off)}: commits do not"
        " wait for the disk, so these figures are not those of durable commits"
    )


def new_schema_name(prefix: str) -> str:
    return f"bench_{prefix}_{uuid.uuid4().hex[:10]}"


def drop_schema(url: str, schema: str) -> None:
    with connect(url) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextlib.contextmanager
def fresh_schema(url: str, prefix: str) -> Iterator[str]:
    """A schema name no one used in the database of ``url``; dropped afterwards (a
    ``--db`` database is left as it was)."""
    schema = new_schema_name(prefix)
    try:
        yield schema
    finally:
        drop_schema(url, schema)


def _pg_support() -> ModuleType:
    """``tests/pg_support.py`` (``tests`` is not a package): the test session's cluster."""
    path = ROOT / "tests" / "pg_support.py"
    spec = importlib.util.spec_from_file_location("pg_support", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """``--postgres``: a cluster in a temporary directory with PostgreSQL's durable
    defaults (``fsync=on``, ``synchronous_commit=on``), on 127.0.0.1 and a free port;
    the URL of a new database ``bench_...`` in it. Stopped and removed afterwards."""
    with _pg_support().running_cluster(durable=True) as cluster:
        yield cluster.create_database("bench")
