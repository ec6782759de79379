"""``wf runs list`` and ``wf runs show``."""

from __future__ import annotations

import pytest
from wfcli_support import Project, invoke, json_out


@pytest.fixture
def three_runs(project: Project) -> Project:
    """A completed run ``ok``, a failed run ``bad`` and a pending (detached) run ``later``."""
    db = ("--db", project.db)
    assert invoke("run", project.target("pipeline"), "3", "--run-id", "ok", *db).exit_code == 0
    assert invoke("run", project.target("broken"), "7", "--run-id", "bad", *db).exit_code == 1
    detached = invoke("run", project.target("sleepy"), "--detach", "--run-id", "later", *db)
    assert detached.exit_code == 0
    return project


def test_list_json_has_every_run_newest_first(three_runs: Project) -> None:
    result = invoke("runs", "list", "--json", "--db", three_runs.db)
    assert result.exit_code == 0, result.stderr
    runs = json_out(result)
    assert [(r["run_id"], r["status"]) for r in runs] == [
        ("later", "pending"),
        ("bad", "failed"),
        ("ok", "completed"),
    ]
    assert runs[2]["workflow_id"] == three_runs.target("pipeline")
    assert runs[2]["created_at"] <= runs[2]["updated_at"]
    assert set(runs[0]) >= {"run_id", "workflow_id", "status", "created_at", "updated_at"}


def test_list_filters_by_status_workflow_and_limit(three_runs: Project) -> None:
    def ids(*args: str) -> list[str]:
        result = invoke("runs", "list", "--json", "--db", three_runs.db, *args)
        assert result.exit_code == 0, result.stderr
        return [run["run_id"] for run in json_out(result)]

    assert ids("--status", "failed") == ["bad"]
    assert ids("--status", "completed") == ["ok"]
    assert ids("--status", "sleeping") == []
    assert ids("--workflow", "pipeline") == ["ok"]
    assert ids("--workflow", three_runs.target("broken")) == ["bad"]
    assert ids("--workflow", "pipeline", "--status", "failed") == []
    assert ids("--limit", "2") == ["later", "bad"]


def test_list_table(three_runs: Project) -> None:
    result = invoke("runs", "list", "--db", three_runs.db)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "RUN ID" in line)
    assert header.split() == ["RUN", "ID", "WORKFLOW", "STATUS", "CREATED", "UPDATED"]
    row = next(line for line in lines if line.lstrip().startswith("bad "))
    assert three_runs.target("broken") in row
    assert "failed" in row


def test_list_rejects_an_unknown_status(three_runs: Project) -> None:
    result = invoke("runs", "list", "--status", "done", "--db", three_runs.db)
    assert result.exit_code == 2
    assert "'done' is not one of" in result.stderr
    assert "'completed'" in result.stderr


def test_list_rejects_a_bad_limit(project: Project) -> None:
    result = invoke("runs", "list", "--limit", "0", "--db", project.db)
    assert result.exit_code == 2


@pytest.mark.sqlite_only
def test_list_without_a_database_does_not_create_one(project: Project) -> None:
    result = invoke("runs", "list", "--db", project.db)
    assert result.exit_code == 0
    assert "no runs" in result.stderr
    assert "does not exist" in result.stderr
    as_json = invoke("runs", "list", "--json", "--db", project.db)
    assert as_json.exit_code == 0
    assert json_out(as_json) == []
    assert not (project.path / "wf.db").exists()


def test_list_reads_the_database_from_the_environment(three_runs: Project) -> None:
    result = invoke("runs", "list", "--json", env={"WF_DATABASE_URL": three_runs.db})
    assert result.exit_code == 0, result.stderr
    assert len(json_out(result)) == 3


def test_show_prints_the_header_and_the_timeline(three_runs: Project) -> None:
    result = invoke("runs", "show", "ok", "--db", three_runs.db)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert three_runs.target("pipeline") in out
    assert "completed" in out
    assert '{"label": "x", "value": 6}' in out  # the result
    rows = [line.split() for line in out.splitlines()]
    kinds = [row[2] for row in rows if len(row) > 2 and row[0].isdigit() and row[1].isdigit()]
    assert kinds == [
        "run_started",
        "step_scheduled",
        "step_completed",
        "timer_scheduled",
        "timer_fired",
        "run_completed",
    ]
    assert f"{three_runs.module}:double" in out
    assert "x=3" in out  # the step's arguments
    assert "-> 6" in out  # its result
    assert "fires in" in out


def test_show_json_has_the_run_and_its_events(three_runs: Project) -> None:
    result = invoke("runs", "show", "ok", "--json", "--db", three_runs.db)
    assert result.exit_code == 0, result.stderr
    shown = json_out(result)
    assert shown["run"]["status"] == "completed"
    assert shown["run"]["result"] == {"label": "x", "value": 6}
    assert shown["run"]["input"] == {"args": [3], "kwargs": {}}
    events = shown["events"]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[0]["offset_ms"] == 0
    offsets = [e["offset_ms"] for e in events]
    assert offsets == sorted(offsets)
    completed = next(e for e in events if e["kind"] == "step_completed")
    assert completed["data"] == 6
    assert completed["name"] == three_runs.target("double")
    assert completed["cid"] == 0


def test_show_a_failed_run_names_its_error(three_runs: Project) -> None:
    result = invoke("runs", "show", "bad", "--db", three_runs.db)
    assert result.exit_code == 0, result.stderr
    assert "ValueError: bad input 7" in result.stdout
    assert "run_failed" in result.stdout
    shown = json_out(invoke("runs", "show", "bad", "--json", "--db", three_runs.db))
    assert shown["run"]["error"]["message"] == "bad input 7"
    assert shown["events"][-1]["kind"] == "run_failed"


def test_show_an_unknown_run_exits_1(three_runs: Project) -> None:
    result = invoke("runs", "show", "nope", "--db", three_runs.db)
    assert result.exit_code == 1
    assert "no run with id 'nope'" in result.stderr
    assert result.stdout == ""


@pytest.mark.sqlite_only
def test_show_without_a_database_exits_1(project: Project) -> None:
    result = invoke("runs", "show", "x", "--db", project.db)
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert not (project.path / "wf.db").exists()
