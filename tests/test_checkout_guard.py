"""The session check of tests/conftest.py: a session that writes into the checkout fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).resolve().parent / "conftest.py"

TESTS = """\
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_writes_a_log_into_the_checkout() -> None:
    (ROOT / ".wf").mkdir(exist_ok=True)
    (ROOT / ".wf" / "example.log").write_text("a line")


def test_changes_a_data_file() -> None:
    with open(ROOT / "data.csv", "a") as f:
        f.write("r2,failed")


def test_writes_into_tmp_path(tmp_path: Path) -> None:
    (tmp_path / "fine.log").write_text("a line")


def test_writes_a_cache(tmp_path: Path) -> None:
    (ROOT / "__pycache__").mkdir(exist_ok=True)
    (ROOT / "__pycache__" / "x.pyc").write_bytes(b"")
"""


def run_session(root: Path, *tests: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_session_that_writes_into_the_checkout_fails_and_names_the_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "tests").mkdir()
    shutil.copy(CONFTEST, tmp_path / "tests" / "conftest.py")
    shutil.copy(CONFTEST.parent / "pg_support.py", tmp_path / "tests" / "pg_support.py")
    (tmp_path / "tests" / "test_writes.py").write_text(TESTS)
    (tmp_path / "data.csv").write_text("run_id,status\nr1,completed\n")

    clean = run_session(tmp_path, "-k", "tmp_path or cache")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "wrote into the checkout" not in clean.stdout

    dirty = run_session(tmp_path)
    assert dirty.returncode == 1, dirty.stdout + dirty.stderr
    assert "4 passed" in dirty.stdout
    assert "the test session wrote into the checkout: .wf/example.log, data.csv" in dirty.stdout
