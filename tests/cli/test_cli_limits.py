"""The CLI refuses bad input with one line and exit 2 (run ids, nesting), shows runs
whatever times or values were stored earlier, and never prints webhook credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stored_rows import raw_sql, stored_run
from wfcli_support import Project, invoke, json_out

from wf.runtime import _serde
from wf.runtime._events import HOOK_RECEIVED, RUN_COMPLETED, RUN_STARTED, STEP_SCHEDULED
from wf.runtime._limits import MAX_NESTING
from wf.runtime._redact import REDACTED
from wf.runtime._webhooks import Request


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _sql(project: Project, statement: str, *params: object) -> None:
    with raw_sql(project.db) as conn:
        conn.execute(statement, params)


@pytest.mark.parametrize(
    ("run_id", "why"),
    [
        ("a/b", "contains '/'"),
        ("<script>", "contains '<'"),
        ("x" * 100_000, "is 100000 characters long"),
        ("", "must be a non-empty string"),
    ],
)
def test_run_refuses_a_bad_run_id_before_opening_the_database(
    project: Project, run_id: str, why: str
) -> None:
    result = invoke("run", project.target("pipeline"), "1", "--run-id", run_id, "--db", project.db)
    assert result.exit_code == 2, result.stderr
    assert "wf run: --run-id: run_id" in result.stderr
    assert why in result.stderr
    assert "1 to 200 characters from ASCII letters, digits and -_.:@+=" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr) < 400
    assert not Path(project.db.removeprefix("sqlite:///")).exists()


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 1_000, 100_000])
def test_run_refuses_arguments_nested_too_deeply(project: Project, depth: int) -> None:
    for args in (
        [_deep(depth)],
        ["--kwargs", json.dumps({"label": "x"})[:-1] + ', "n": ' + _deep(depth) + "}"],
    ):
        result = invoke("run", project.target("pipeline"), *args, "--db", project.db)
        assert result.exit_code == 2, result.stderr
        assert f"is nested more than {MAX_NESTING} levels deep" in result.stderr
        assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert not Path(project.db.removeprefix("sqlite:///")).exists()


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 1_000, 100_000])
def test_hooks_resume_and_send_refuse_payloads_nested_too_deeply(
    project: Project, depth: int
) -> None:
    for command in (
        ["hooks", "resume", "some-token", _deep(depth)],
        ["send", "some-run", "go", _deep(depth)],
    ):
        result = invoke(*command, "--db", project.db)
        assert result.exit_code == 2, (command[0], result.stderr)
        assert f"the payload is nested more than {MAX_NESTING} levels deep" in result.stderr
        assert "Traceback" not in result.stderr


def test_runs_list_and_show_survive_times_stored_out_of_range(project: Project) -> None:
    stored_run(project.db, "far", status="pending", result=None)
    _sql(project, "UPDATE runs SET wake_at = ?, updated_at = ? WHERE run_id = 'far'", 1e308, 6.3e11)
    for command in (
        ["runs", "list"],
        ["runs", "list", "--json"],
        ["runs", "show", "far"],
        ["runs", "show", "far", "--json"],
    ):
        result = invoke(*command, "--db", project.db)
        assert result.exit_code == 0, (command, result.stderr)
        assert "far" in result.stdout
        assert "out of the date range" in result.stdout, command
    shown = json_out(invoke("runs", "show", "far", "--json", "--db", project.db))
    assert shown["run"]["wake_at"] == "1e+308 (epoch seconds, out of the date range)"


def test_runs_show_survives_values_nested_deeper_than_anything_accepted(project: Project) -> None:
    stored_run(
        project.db,
        "deep",
        result=_deep(500),
        events=[(RUN_COMPLETED, None, None, _deep(5_000), 1_700_000_001.0)],
    )
    for command in (["runs", "show", "deep"], ["runs", "show", "deep", "--json"]):
        result = invoke(*command, "--db", project.db)
        assert result.exit_code == 0, (command, result.stderr[-2000:])
        assert "RecursionError" not in result.stdout + result.stderr
    shown = json_out(invoke("runs", "show", "deep", "--json", "--db", project.db))
    assert shown["events"][0]["data"] == "[nested deeper than 200 levels: not shown]"
    assert "[nested deeper than 200 levels: not shown]" in json.dumps(shown["run"]["result"])


def _signed_request() -> Request:
    return Request(
        id="req-1",
        token="tok",
        method="POST",
        path="/webhooks/tok",
        query="",
        headers={
            "authorization": "Bearer s3cret-auth",
            "cookie": "session=s3cret-cookie",
            "x-api-key": "s3cret-key",
            "x-custom": "shown",
        },
        body=b"{}",
    )


def test_runs_show_and_result_print_webhook_credentials_redacted(project: Project) -> None:
    request = _signed_request()
    stored_run(
        project.db,
        "signed",
        result=_serde.dumps({"request": request}),
        events=[
            (RUN_STARTED, None, "app.flows:main", '{"args": [], "kwargs": {}}', 1_700_000_000.0),
            (HOOK_RECEIVED, 1, "tok", _serde.dumps(request), 1_700_000_000.1),
            (STEP_SCHEDULED, 2, "app.flows:check", _serde.dumps({"request": request}), 1.7e9),
            (RUN_COMPLETED, None, None, _serde.dumps({"request": request}), 1_700_000_000.3),
        ],
    )
    for command in (
        ["runs", "show", "signed"],
        ["runs", "show", "signed", "--json"],
        ["runs", "result", "signed"],
    ):
        result = invoke(*command, "--db", project.db)
        assert result.exit_code == 0, (command, result.stderr)
        assert "s3cret" not in result.stdout + result.stderr, command
    shown = json_out(invoke("runs", "show", "signed", "--json", "--db", project.db))
    headers = shown["events"][1]["data"]["headers"]
    assert headers == {
        "authorization": REDACTED,
        "cookie": REDACTED,
        "x-api-key": REDACTED,
        "x-custom": "shown",
    }
    assert shown["run"]["result"]["request"]["headers"] == headers
    printed = json_out(invoke("runs", "result", "signed", "--db", project.db))
    assert printed["request"]["headers"] == headers
