"""A throwaway PostgreSQL cluster for the test session, and databases in it.

The cluster lives in a temporary directory and listens on 127.0.0.1 on a free port;
its binaries are Debian's ``postgresql`` package (``pg_config --bindir``, else the
newest ``/usr/lib/postgresql/*/bin``). As root, initdb and the server run as the
``postgres`` user (PostgreSQL refuses to run as root). ``.ci/run`` installs the
package on a machine without it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

__all__ = ["Cluster", "free_port", "pg_bindir", "running_cluster"]


def pg_bindir() -> Path:
    """Where the PostgreSQL server's binaries are."""
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    raise RuntimeError(
        "the PostgreSQL server is not installed (no initdb found): install Debian's"
        " postgresql package (`apt-get install -y postgresql`; .ci/run does this)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A running throwaway cluster: ``url(dbname)`` connects to a database in it."""

    def __init__(self, directory: Path, port: int, bindir: Path, as_user: list[str]) -> None:
        self.directory = directory
        self.port = port
        self.bindir = bindir
        self._as_user = as_user

    def url(self, dbname: str = "postgres", **query: str) -> str:
        suffix = "&".join(f"{k}={v}" for k, v in query.items())
        base = f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"
        return f"{base}?{suffix}" if suffix else base

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [
                *self._as_user,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                *args,
            ],
            check=True,
            capture_output=True,
        )


@contextlib.contextmanager
def running_cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """Start a throwaway cluster; stop it and remove its directory on exit.

    By default the server runs with ``fsync=off`` and ``synchronous_commit=off``: tests
    kill workers, never the server, so its own durability is not what they test, and
    fsync would only slow them. ``durable=True`` keeps PostgreSQL's defaults (``fsync=on``,
    ``synchronous_commit=on``: every commit waits for its WAL flush), as ``bench/``
    measures."""
    bindir = pg_bindir()
    directory = Path(tempfile.mkdtemp(prefix="wf-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = directory / "data"
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    cluster = Cluster(directory, port, bindir, as_user)
    options = (
        f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c max_connections=300"
        " -c shared_buffers=64MB"
    )
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off"
    cluster.pg_ctl("-o", options, "-l", str(directory / "server.log"), "-w", "start")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(cluster.url(), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.pg_ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(directory, ignore_errors=True)
