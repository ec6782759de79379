"""Environment problems (read-only database, unwritable directories, a path through a
file) are one readable line on stderr and exit 2, never a traceback; ``wf --debug``
adds the traceback. Run as real processes, with real file permissions."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from wfcli_support import Project, invoke

import wf.cli._runs
from wf.store._sqlite import sqlite_problem


@pytest.fixture(scope="module")
def unprivileged() -> list[str]:
    """A command prefix under which file permissions hold as for any user.

    Root may write any file whatever its mode, so as root wf runs in a new user
    namespace: there root's files are not its own to override (the kernel grants
    no capability over them), and a mode of 0o444 or 0o555 refuses writes.
    """
    if os.geteuid() != 0:
        return []
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--user", "true"]).returncode != 0:
        pytest.skip("running as root without `unshare --user`: permissions cannot be tested")
    return [unshare, "--user"]


def wf_cli(prefix: list[str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "WF_DATABASE_URL"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "wf.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess[str], starts: str) -> str:
    """The single line of stderr of a command that exited 2, which starts with ``starts``."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(starts), result.stderr
    return result.stderr


@pytest.fixture
def read_only(project: Project) -> Iterator[Path]:
    """The project's database, holding one pending run ``later``, made read-only."""
    db = project.path / "wf.db"
    detached = invoke(
        "run", project.target("sleepy"), "--detach", "--run-id", "later", "--db", project.db
    )
    assert detached.exit_code == 0, detached.stderr
    db.chmod(0o444)
    yield db
    db.chmod(0o644)


@pytest.mark.sqlite_only
def test_a_read_only_database_can_be_read_but_not_written(
    project: Project, read_only: Path, unprivileged: list[str]
) -> None:
    listed = wf_cli(unprivileged, project.path, "runs", "list", "--db", project.db)
    assert listed.returncode == 0, listed.stderr
    assert "later" in listed.stdout

    said = f"cannot write to the database {read_only}: it is read-only for this user"
    for command in ("run", "worker"):
        args = [project.target("pipeline"), "3"] if command == "run" else []
        one_line(
            wf_cli(unprivileged, project.path, command, *args, "--db", project.db),
            f"wf {command}: {said}",
        )
    # Any other write is refused by SQLite itself, in the same words.
    cancel = wf_cli(unprivileged, project.path, "runs", "cancel", "later", "--db", project.db)
    one_line(cancel, "wf runs cancel: cannot write to the database: it is read-only")


@pytest.mark.sqlite_only
def test_a_read_only_database_in_a_read_only_directory_is_not_called_unusable(
    project: Project, read_only: Path, unprivileged: list[str]
) -> None:
    project.path.chmod(0o555)  # SQLite cannot create wf.db-wal and wf.db-shm here
    try:
        for args in (
            ("runs", "list"),
            ("runs", "show", "later"),
            ("run", project.target("pipeline"), "3"),
        ):
            line = one_line(wf_cli(unprivileged, project.path, *args, "--db", project.db), "wf ")
            assert f"cannot write to the database {read_only}: it is read-only" in line
            assert "usable" not in line and "backup" not in line
    finally:
        project.path.chmod(0o755)


def test_an_unwritable_working_directory_or_wf_directory(
    project: Project, unprivileged: list[str]
) -> None:
    # The default database is .wf/wf.db in the working directory.
    project.path.chmod(0o555)
    try:
        for args in (("run", project.target("pipeline"), "3"), ("worker",)):
            line = one_line(
                wf_cli(unprivileged, project.path, *args), f"wf {args[0]}: cannot use the database:"
            )
            assert (
                f"cannot create the directory {project.path / '.wf'} for SQLite database"
                " .wf/wf.db: permission denied" in line
            )
    finally:
        project.path.chmod(0o755)
    (project.path / ".wf").mkdir(mode=0o555)
    line = one_line(
        wf_cli(unprivileged, project.path, "run", project.target("pipeline"), "3"), "wf run:"
    )
    assert (
        "cannot create SQLite database .wf/wf.db:"
        f" its directory {project.path / '.wf'} is not writable" in line
    )


def test_a_database_in_a_directory_that_cannot_be_created(
    project: Project, unprivileged: list[str]
) -> None:
    locked = project.path / "locked"
    locked.mkdir(mode=0o555)
    url = f"sqlite:///{locked}/sub/wf.db"
    line = one_line(
        wf_cli(unprivileged, project.path, "run", project.target("pipeline"), "3", "--db", url),
        "wf run:",
    )
    assert (
        f"cannot create the directory {locked}/sub for SQLite database {locked}/sub/wf.db:"
        " permission denied" in line
    )


def test_a_database_path_through_a_file_or_naming_a_directory(project: Project) -> None:
    # No permissions involved: the same for root as for anyone.
    (project.path / "notes.txt").write_text("a file")
    through = f"sqlite:///{project.path}/notes.txt/wf.db"
    for args in (
        ("run", project.target("pipeline"), "3"),
        ("worker",),
        ("serve", "--port", "0"),
    ):
        line = one_line(wf_cli([], project.path, *args, "--db", through), f"wf {args[0]}")
        assert f"{project.path}/notes.txt is a file, not a directory" in line
    (project.path / "adir").mkdir()
    line = one_line(
        wf_cli([], project.path, "runs", "list", "--db", f"sqlite:///{project.path}/adir"),
        "wf runs list:",
    )
    assert f"cannot open SQLite database {project.path}/adir: it is a directory, not a file" in line


def test_debug_shows_the_traceback_before_the_line(project: Project) -> None:
    (project.path / "notes.txt").write_text("a file")
    through = f"sqlite:///{project.path}/notes.txt/wf.db"
    result = wf_cli(
        [], project.path, "--debug", "run", project.target("pipeline"), "3", "--db", through
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "FileExistsError" in result.stderr or "NotADirectoryError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("wf run: cannot use the database:")


def test_an_unexpected_error_is_one_line_and_debug_shows_where(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ZeroDivisionError("division by zero")

    assert (
        invoke(
            "run", project.target("pipeline"), "3", "--run-id", "r", "--db", project.db
        ).exit_code
        == 0
    )
    monkeypatch.setattr(wf.cli._runs, "_timeline", broken)
    result = invoke("runs", "show", "r", "--db", project.db)
    assert result.exit_code == 2
    assert result.stderr == (
        "wf runs show: unexpected error: ZeroDivisionError: division by zero (a bug in wf;"
        " `wf --debug runs show ...` shows where it happened)\n"
    )
    debug = invoke("--debug", "runs", "show", "r", "--db", project.db)
    assert debug.exit_code == 2
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert "in broken" in debug.stderr
    # The flag holds for one invocation only.
    assert "Traceback" not in invoke("runs", "show", "r", "--db", project.db).stderr


def _error(code: int, message: str) -> sqlite3.Error:
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (sqlite3.SQLITE_BUSY, "the database /d/wf.db is locked by another process"),
        (sqlite3.SQLITE_FULL, "cannot write to the database /d/wf.db: the disk is full"),
        (
            sqlite3.SQLITE_READONLY | (3 << 8),
            "cannot write to the database /d/wf.db: it is read-only",
        ),
        (
            sqlite3.SQLITE_NOTADB,
            "/d/wf.db is not a usable SQLite database (x); it was left untouched",
        ),
    ],
)
def test_sqlite_errors_say_what_is_wrong_with_the_file_or_its_place(code: int, says: str) -> None:
    assert sqlite_problem(_error(code, "x"), "/d/wf.db").startswith(says)
