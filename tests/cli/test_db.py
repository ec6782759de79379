"""``wf db upgrade|status``: the schema version, migrations on demand, runs by status."""

from __future__ import annotations

import pytest
from wfcli_support import Project, invoke

from wf.store._migrations import SCHEMA_VERSION


def test_status_of_a_new_database_then_upgrade_then_runs_by_status(project: Project) -> None:
    before = invoke("db", "status", "--db", project.db)
    assert before.exit_code == 0, before.stderr
    assert "schema version: 0, no wf tables yet" in before.stdout
    assert "completed: 0" in before.stdout

    upgraded = invoke("db", "upgrade", "--db", project.db)
    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.stdout.endswith(f": schema version 0 -> {SCHEMA_VERSION}\n")
    again = invoke("db", "upgrade", "--db", project.db)
    assert again.stdout.endswith(f": schema version {SCHEMA_VERSION}, up to date\n")

    assert invoke("run", project.target("pipeline"), "1", "--db", project.db).exit_code == 0
    after = invoke("db", "status", "--db", project.db)
    assert after.exit_code == 0, after.stderr
    assert f"schema version: {SCHEMA_VERSION}, up to date" in after.stdout
    assert "completed: 1" in after.stdout
    assert "pending: 0" in after.stdout


def test_with_auto_migrate_off_a_worker_refuses_an_old_database_until_upgraded(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WF_AUTO_MIGRATE", "0")
    refused = invoke("run", project.target("pipeline"), "1", "--db", project.db)
    assert refused.exit_code == 2
    assert "Run `wf db upgrade`" in refused.stderr
    assert "\n" not in refused.stderr.rstrip("\n")
    assert invoke("db", "upgrade", "--db", project.db).exit_code == 0
    assert invoke("run", project.target("pipeline"), "1", "--db", project.db).exit_code == 0


def test_the_password_of_a_url_is_never_printed() -> None:
    url = "postgresql://alice:hunter2@127.0.0.1:1/wf?connect_timeout=1"
    for command in (["db", "status"], ["db", "upgrade"], ["runs", "list"]):
        result = invoke(*command, "--db", url)
        assert result.exit_code == 2, result.stdout
        assert "hunter2" not in result.stderr + result.stdout
        assert "postgresql://alice:***@127.0.0.1:1/wf" in result.stderr
