"""``wf worker``: executes runs started elsewhere, stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import pytest
from wfcli_support import Project, invoke, wf_process, with_engine

import wf


def _result(db: str, run_id: str, timeout: float) -> Any:
    return with_engine(db, lambda engine: engine.get_run(run_id).result(timeout=timeout))


def _stop(proc: subprocess.Popen[str], signum: int) -> tuple[str, str]:
    try:
        proc.send_signal(signum)
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_worker_runs_a_detached_run_and_stops_cleanly(project: Project, signum: int) -> None:
    started = invoke(
        "run", project.target("pipeline"), "21", "--detach", "--run-id", "w1", "--db", project.db
    )
    assert started.exit_code == 0, started.stderr
    assert project.executions() == []

    worker = wf_process(project, "worker", "--db", project.db, "--concurrency", "7")
    try:
        assert _result(project.db, "w1", timeout=60) == {"label": "x", "value": 42}
    finally:
        out, err = _stop(worker, signum)
    assert worker.returncode == 0, err
    assert out == ""
    first = err.splitlines()[0]
    assert first.startswith("wf worker ")
    assert "started" in first
    assert f"db={project.db}" in first
    assert "concurrency=7" in first
    assert "wf worker stopped" in err
    assert project.executions() == ["double 21"]


def test_worker_reports_a_failed_run_to_whoever_waits(project: Project) -> None:
    started = invoke("run", project.target("broken"), "5", "--detach", "--db", project.db)
    run_id = started.stdout.strip()
    worker = wf_process(project, "worker", "--db", project.db)
    try:
        with pytest.raises(wf.RunFailedError, match="bad input 5"):
            _result(project.db, run_id, timeout=60)
    finally:
        _stop(worker, signal.SIGTERM)
    assert worker.returncode == 0


def test_worker_rejects_a_concurrency_below_1(project: Project) -> None:
    result = invoke("worker", "--concurrency", "0", "--db", project.db)
    assert result.exit_code == 2


def test_worker_rejects_a_bad_database_url(project: Project) -> None:
    result = invoke("worker", "--db", "ftp://nowhere")
    assert result.exit_code == 2
    assert "wf worker: cannot use the database" in result.stderr
