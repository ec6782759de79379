"""User data is printed exactly as stored: never read as Rich markup or emoji codes."""

from __future__ import annotations

import json

import pytest
from stored_rows import stored_run
from wfcli_support import Project, invoke, json_out

# Markup that would raise ("[/x]"), style ("[bold]") or vanish, and emoji codes.
VALUE = "[b]hi[/b] :fire: [/x]"

MARKED = """\
import wf

async def shout(text: str) -> str:
    "use step"
    return text

async def marked(text: str) -> dict:
    "use workflow"
    wf.progress(text)
    hook = wf.create_hook("payloads:lock:")
    await wf.receive("note:fire:", timeout="10ms")
    echoed = await shout(text)
    return {"text": echoed, "token": hook.token}

async def refuse(text: str) -> None:
    "use workflow"
    raise ValueError(text)
"""


def _no_rendering(text: str) -> None:
    assert "🔥" not in text and "🔒" not in text


def test_wf_run_prints_values_tokens_and_names_verbatim(project: Project) -> None:
    module = project.write_module("wfcli_marked", MARKED)
    result = invoke(
        "run", f"{module}:marked", json.dumps(VALUE), "--run-id", "v:fire:", "--db", project.db
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"text": VALUE, "token": "payloads:lock:"}
    err = result.stderr
    _no_rendering(err)
    assert f"run v:fire:: {module}:marked({json.dumps(VALUE)}) started" in err
    assert f"  progress: {VALUE}\n" in err
    assert "  hook payloads:lock:: waiting for a payload\n" in err


def test_a_failed_run_error_is_verbatim(project: Project) -> None:
    module = project.write_module("wfcli_marked", MARKED)
    result = invoke(
        "run", f"{module}:refuse", json.dumps(VALUE), "--run-id", "f", "--db", project.db
    )
    assert result.exit_code == 1
    _no_rendering(result.stderr)
    assert f"wf run: run f failed: ValueError: {VALUE}\n" in result.stderr


def test_runs_list_show_and_result_print_stored_ids_and_values_verbatim(project: Project) -> None:
    # Such an id cannot be started today; runs stored by an older wf may have one.
    run_id = "a[/x]:fire:[bold]"
    stored_run(
        project.db,
        run_id,
        input=json.dumps({"args": [VALUE], "kwargs": {}}),
        result=json.dumps(VALUE),
        workflow_id="payloads:lock:",
        events=[
            ("run_started", None, "payloads:lock:", json.dumps({"args": [VALUE]}), 1.7e9),
            ("step_scheduled", 0, "payloads:lock:", json.dumps({"text": VALUE}), 1.7e9),
            ("step_completed", 0, "payloads:lock:", json.dumps(VALUE), 1.7e9),
            ("run_completed", None, None, json.dumps(VALUE), 1.7e9),
        ],
    )
    listed = invoke("runs", "list", "--db", project.db)
    assert listed.exit_code == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "completed" in line)
    assert row.split()[:3] == [run_id, "payloads:lock:", "completed"]

    shown = invoke("runs", "show", run_id, "--db", project.db)
    assert shown.exit_code == 0, shown.stderr
    out = shown.stdout
    _no_rendering(out)
    assert f"run       {run_id}" in out
    assert "workflow  payloads:lock:" in out
    assert f"result    {VALUE}" in out
    assert f"({json.dumps(VALUE)})" in out  # the input
    assert f"-> {VALUE}" in out
    assert f"text={json.dumps(VALUE)}" in out

    as_json = json_out(invoke("runs", "show", run_id, "--json", "--db", project.db))
    assert as_json["run"]["run_id"] == run_id
    assert as_json["run"]["result"] == VALUE

    result = invoke("runs", "result", run_id, "--db", project.db)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == VALUE


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "show", "x[/x]:fire:"),
        ("runs", "result", "x[/x]:fire:"),
        ("runs", "cancel", "x[/x]:fire:"),
        ("send", "x[/x]:fire:", "n[/b]:lock:", "1"),
        ("hooks", "resume", "t[/x]:fire:", "1"),
    ],
)
def test_messages_quoting_user_values_are_verbatim(project: Project, args: tuple[str, ...]) -> None:
    stored_run(project.db, "other")  # the database exists; the named run or hook does not
    result = invoke(*args, "--db", project.db)
    assert result.exit_code == 1, result.stderr
    _no_rendering(result.stderr)
    assert "[/x]:fire:" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_a_failed_run_traceback_is_verbatim(project: Project) -> None:
    error = {
        "type": "builtins:ValueError",
        "message": VALUE,
        "traceback": f"Traceback (most recent call last):\n  [/x] :fire:\nValueError: {VALUE}\n",
    }
    stored_run(project.db, "bad", status="failed", result=None, error=json.dumps(error))
    shown = invoke("runs", "show", "bad", "--db", project.db)
    assert shown.exit_code == 0, shown.stderr
    _no_rendering(shown.stdout)
    assert "  [/x] :fire:\n" in shown.stdout
    assert f"ValueError: {VALUE}" in shown.stdout
    result = invoke("runs", "result", "bad", "--db", project.db)
    assert result.exit_code == 1
    assert "  [/x] :fire:\n" in result.stderr
    assert f"wf runs result: run bad failed: ValueError: {VALUE}\n" in result.stderr
