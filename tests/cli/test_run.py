"""``wf run``: results on stdout, progress on stderr, exit codes, detaching and resuming."""

from __future__ import annotations

import json
import re
import signal
import sqlite3

import pytest
from rich.console import Console
from wfcli_support import (
    Project,
    events_of,
    invoke,
    json_out,
    record_of,
    wait_until,
    wf_process,
    with_engine,
)

from wf.cli._common import format_time
from wf.cli._view import RunView, plain
from wf.runtime._events import Event


def test_run_prints_only_the_json_result_on_stdout(project: Project) -> None:
    result = invoke(
        "run", project.target("pipeline"), "3", "--kwargs", '{"label": "y"}', "--db", project.db
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"label": "y", "value": 6}\n'
    # The step view goes to stderr, plain because stderr is not a terminal here.
    assert "step double #0: scheduled" in result.stderr
    assert "step double #0: completed" in result.stderr
    assert "timer #1: sleeping" in result.stderr
    assert "timer #1: fired" in result.stderr
    assert ": completed in " in result.stderr.splitlines()[-1]
    assert project.executions() == ["double 3"]


def test_arguments_are_json_where_they_parse_else_strings(project: Project) -> None:
    result = invoke(
        "run", project.target("echo"), "3", '"007"', '{"a": [1, null]}', "hello world", "-2.5",
        "--db", project.db,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json_out(result) == [3, "007", {"a": [1, None]}, "hello world", -2.5]


def test_database_url_comes_from_the_environment(project: Project) -> None:
    result = invoke("run", project.target("pipeline"), "1", env={"WF_DATABASE_URL": project.db})
    assert result.exit_code == 0, result.stderr
    assert project.database_made()
    assert not (project.path / ".wf").exists()
    listed = invoke("runs", "list", "--json", "--db", project.db)
    assert [run["workflow_id"] for run in json_out(listed)] == [project.target("pipeline")]


def test_default_database_is_in_the_current_directory(project: Project) -> None:
    result = invoke("run", project.target("pipeline"), "1")
    assert result.exit_code == 0, result.stderr
    assert (project.path / ".wf" / "wf.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nocolon"], "expected MODULE:FUNCTION"),
        ([":pipeline"], "expected MODULE:FUNCTION"),
        (["{module}:"], "expected MODULE:FUNCTION"),
        (["{module}.py:pipeline"], "is a file path; name the module as Python imports it"),
        (["wfcli_no_such_module:f"], "no module named 'wfcli_no_such_module'"),
        (["{module}:nope"], "has no function 'nope'; its workflows: "),
        (["{module}:plain_function"], "plain_function is not a workflow"),
        (["{module}:pipeline", "1", "--kwargs", "{nope"], "--kwargs is not valid JSON"),
        (["{module}:pipeline", "1", "--kwargs", "[1, 2]"], "--kwargs must be a JSON object"),
        (["{module}:pipeline"], "wrong arguments for workflow {module}:pipeline"),
        (["{module}:pipeline", "1", "2", "3"], "too many positional arguments"),
        (["{module}:pipeline", "1", "--kwargs", '{"colour": 1}'], "unexpected keyword"),
        (["{module}:pipeline", "1", "--detch"], "no such option: --detch"),
        (["{module}:pipeline", "1", "--db", "mysql://x/y"], "unsupported database URL"),
        (["{module}:pipeline", "1", "--run-id", ""], "run_id must be a non-empty string"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    project: Project, args: list[str], message: str
) -> None:
    argv = [arg.replace("{module}", project.module) for arg in args]
    if "--db" not in argv:
        argv += ["--db", project.db]
    result = invoke("run", *argv)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message.replace("{module}", project.module) in result.stderr
    assert result.stderr.startswith("wf run: ")
    assert result.stdout == ""
    assert project.executions() == []


def test_listing_workflows_of_a_module_names_them_all(project: Project) -> None:
    result = invoke("run", project.target("nope"), "--db", project.db)
    assert "broken, broken_at_once, echo, pipeline, resumable, sleepy" in result.stderr


def test_a_module_failing_at_import_shows_its_traceback(project: Project) -> None:
    name = project.write_module(
        "wfextra_badimport",
        'import wfcli_not_installed_dependency\n\nasync def flow():\n    "use workflow"\n',
    )
    result = invoke("run", f"{name}:flow", "--db", project.db)
    assert result.exit_code == 2
    assert f"importing module '{name}' raised an error" in result.stderr
    assert "ModuleNotFoundError: No module named 'wfcli_not_installed_dependency'" in result.stderr
    assert f'{name}.py", line 1' in result.stderr
    assert "<frozen" not in result.stderr


def test_a_module_raising_at_import_shows_where(project: Project) -> None:
    name = project.write_module("wfextra_raises", "x = 1\nraise RuntimeError('config missing')\n")
    result = invoke("run", f"{name}:flow", "--db", project.db)
    assert result.exit_code == 2
    assert "RuntimeError: config missing" in result.stderr
    assert f'{name}.py", line 2' in result.stderr


def test_a_module_that_does_not_compile_reports_the_diagnostic(project: Project) -> None:
    name = project.write_module(
        "wfextra_blocking",
        'import time\n\n\nasync def flow() -> None:\n    "use workflow"\n    time.sleep(1)\n',
    )
    result = invoke("run", f"{name}:flow", "--db", project.db)
    assert result.exit_code == 2
    assert "WF005" in result.stderr
    assert f"{name}.py:6:" in result.stderr


def test_a_module_with_a_syntax_error(project: Project) -> None:
    name = project.write_module("wfextra_syntax", 'async def flow(:\n    "use workflow"\n')
    result = invoke("run", f"{name}:flow", "--db", project.db)
    assert result.exit_code == 2
    assert "SyntaxError" in result.stderr


def test_a_database_of_another_application_is_a_usage_error(project: Project) -> None:
    other = project.path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    result = invoke("run", project.target("pipeline"), "1", "--db", f"sqlite:///{other}")
    assert result.exit_code == 2
    assert "cannot use the database" in result.stderr
    assert "another application" in result.stderr


def test_a_failing_workflow_exits_1_with_its_error(project: Project) -> None:
    result = invoke("run", project.target("broken"), "3", "--run-id", "b1", "--db", project.db)
    assert result.exit_code == 1
    assert result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert last == "wf run: run b1 failed: ValueError: bad input 3"
    # The workflow's own traceback comes first, pointing into the user's module.
    assert f"{project.module}.py" in result.stderr
    assert 'raise ValueError(f"bad input {n}")' in result.stderr


def test_a_workflow_failing_at_once_exits_1(project: Project) -> None:
    # A subprocess, so that a hang at engine shutdown (asyncio.wait_for losing a
    # cancellation on Python 3.11) would show as a timeout.
    proc = wf_process(project, "run", project.target("broken_at_once"), "4", "--db", project.db)
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    assert out == ""
    assert "ValueError: bad input 4" in err


def test_a_cancelled_run_exits_1(project: Project) -> None:
    started = invoke(
        "run", project.target("sleepy"), "--detach", "--run-id", "c1", "--db", project.db
    )
    assert started.exit_code == 0, started.stderr
    with_engine(project.db, lambda engine: engine.get_run("c1").cancel())
    result = invoke("run", project.target("sleepy"), "--run-id", "c1", "--db", project.db)
    assert result.exit_code == 1, result.stderr
    assert "wf run: run c1 was cancelled" in result.stderr
    assert result.stdout == ""


def test_detach_prints_the_run_id_and_does_not_run_it(project: Project) -> None:
    result = invoke("run", project.target("pipeline"), "5", "--detach", "--db", project.db)
    assert result.exit_code == 0, result.stderr
    run_id = result.stdout.strip()
    assert result.stdout == run_id + "\n"
    assert len(run_id) == 32
    record = record_of(project.db, run_id)
    assert record is not None and record.status == "pending"
    assert project.executions() == []


def test_running_a_detached_run_id_again_executes_it(project: Project) -> None:
    detached = invoke(
        "run", project.target("pipeline"), "5", "--detach", "--run-id", "d1", "--db", project.db
    )
    assert detached.stdout == "d1\n"
    # Starting an existing id joins that run: its own input (5) counts, not the new one.
    result = invoke("run", project.target("pipeline"), "99", "--run-id", "d1", "--db", project.db)
    assert result.exit_code == 0, result.stderr
    assert json_out(result) == {"label": "x", "value": 10}
    assert project.executions() == ["double 5"]


def test_a_finished_run_id_prints_its_result_without_running_again(project: Project) -> None:
    first = invoke("run", project.target("pipeline"), "2", "--run-id", "f1", "--db", project.db)
    again = invoke("run", project.target("pipeline"), "2", "--run-id", "f1", "--db", project.db)
    assert first.exit_code == again.exit_code == 0
    assert first.stdout == again.stdout == '{"label": "x", "value": 4}\n'
    assert project.executions() == ["double 2"]


def test_a_run_id_of_another_workflow_is_a_usage_error(project: Project) -> None:
    invoke("run", project.target("pipeline"), "2", "--run-id", "same", "--db", project.db)
    result = invoke("run", project.target("echo"), "1", "2", "3", "4", "5", "--run-id", "same",
                    "--db", project.db)  # fmt: skip
    assert result.exit_code == 2
    assert "already used by a run of" in result.stderr


def _started_sleeping(project: Project, run_id: str) -> bool:
    if not project.database_made():
        return False
    return any(e.kind == "timer_scheduled" for e in events_of(project.db, run_id))


@pytest.mark.parametrize("pause", ["1500ms", "4s"])
def test_a_killed_run_resumes_with_the_same_run_id(project: Project, pause: str) -> None:
    # 1.5 s keeps the run in the dead process's memory (its lease must be taken
    # over); 4 s is long enough for the run to have been evicted as "sleeping".
    args = ("run", project.target("resumable"), f'"{pause}"', "--run-id", "k1", "--db", project.db)
    proc = wf_process(project, *args)
    try:
        wait_until(lambda: _started_sleeping(project, "k1"), what="the run to start sleeping")
    finally:
        proc.kill()
        proc.wait(timeout=30)  # reaped, so the next process sees the pid is gone
    assert proc.returncode == -signal.SIGKILL
    assert project.executions() == ["first"]

    resumed = wf_process(project, *args)
    out, err = resumed.communicate(timeout=90)
    assert resumed.returncode == 0, err
    assert json.loads(out) == ["first", "second"]
    assert project.executions() == ["first", "second"]  # the completed step did not run again
    kinds = [e.kind for e in events_of(project.db, "k1")]
    assert kinds.count("step_completed") == 2
    assert kinds[-1] == "run_completed"


def test_ctrl_c_stops_cleanly_with_130_and_the_run_resumes(project: Project) -> None:
    args = ("run", project.target("resumable"), '"3s"', "--run-id", "i1", "--db", project.db)
    proc = wf_process(project, *args)
    try:
        wait_until(lambda: _started_sleeping(project, "i1"), what="the run to start sleeping")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert out == ""
    assert "--run-id i1" in err
    record = record_of(project.db, "i1")
    assert record is not None and record.status in ("sleeping", "running")
    assert record.lease_owner is None  # released on the way out, so anyone resumes at once

    resumed = wf_process(project, *args)
    out, err = resumed.communicate(timeout=90)
    assert resumed.returncode == 0, err
    assert json.loads(out) == ["first", "second"]
    assert project.executions() == ["first", "second"]


def test_help_describes_the_exit_codes() -> None:
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert "MODULE:FUNCTION" in result.stdout
    assert "--detach" in result.stdout


def _event(
    seq: int, kind: str, cid: int | None, name: str | None, data: object, at: float
) -> Event:
    return Event(seq, kind, cid, name, None if data is None else json.dumps(data), at)


def test_the_step_view_follows_the_log_in_plain_lines_and_on_a_terminal() -> None:
    view = RunView("r1", "app.flows:order")
    lines: list[str] = []
    error = {"type": "builtins:ConnectionError", "message": "reset"}
    retrying = {"attempt": 1, "retry_at": 101.02, "error": error}
    for event in [
        _event(0, "run_started", None, "app.flows:order", {"args": ["o-1"], "kwargs": {}}, 100.0),
        # A step whose result was logged before its own scheduling event.
        _event(1, "step_completed", 0, "app.flows:load", {"total": 3}, 100.01),
        _event(2, "step_scheduled", 0, "app.flows:load", {"order_id": "o-1"}, 100.01),
        _event(3, "step_scheduled", 1, "other.mod:charge", {}, 100.02),
        _event(4, "step_retrying", 1, "other.mod:charge", retrying, 100.02),
        _event(5, "timer_scheduled", 2, "timer", {"fire_at": 160.0}, 100.03),
    ]:
        lines += view.apply(event)
    lines += view.set_status("sleeping")
    assert lines == [
        'run r1: app.flows:order("o-1") started',
        "  step load #0: scheduled",
        "  step load #0: completed in 0 ms",
        "  step other.mod:charge #1: scheduled",
        "  step other.mod:charge #1: retrying (attempt 1 failed: ConnectionError: reset;"
        " next in 1.0 s)",
        "  timer #2: sleeping 60.0 s, until " + format_time(160.0)[11:],
        "run r1: sleeping",
    ]
    failed = {"type": "app.errors:Declined", "message": "card"}
    assert view.apply(_event(6, "run_failed", None, None, failed, 101.0)) == [
        "run r1: failed in 1.0 s: app.errors.Declined: card"
    ]
    assert view.set_status("failed") == []  # already known from the log

    console = Console(record=True, width=120, force_terminal=True)
    console.print(view.render())
    screen = console.export_text()
    assert "run r1  app.flows:order  failed" in screen
    assert re.search(r"✓ +load #0 +completed", screen)
    assert re.search(r"- +other.mod:charge #1 +abandoned", screen)
    assert re.search(r"- +timer #2 +cancelled", screen)  # the run ended before it fired


def test_the_terminal_view_keeps_to_the_latest_rows() -> None:
    view = RunView("r2", "m:f")
    for cid in range(50):
        view.apply(_event(2 * cid + 1, "step_scheduled", cid, "m:s", {}, 1.0))
        if cid < 45:
            view.apply(_event(2 * cid + 2, "step_completed", cid, "m:s", 1, 2.0))
    console = Console(record=True, width=100, force_terminal=True)
    console.print(view.render(max_rows=10))
    screen = console.export_text()
    assert "… 40 earlier" in screen
    assert "40 completed" in screen
    assert "s #49" in screen
    assert "s #39 " not in screen


def test_tagged_values_are_shown_as_plain_json() -> None:
    tagged = {
        "when": {"__wf__": "datetime", "v": "2030-01-01T09:30:00+00:00"},
        "pair": {"__wf__": "tuple", "v": [1, {"__wf__": "uuid", "v": "abc"}]},
        "map": {"__wf__": "dict", "v": [[1, "one"], [[2, 3], "pair"]]},
        "line": {"__wf__": "dataclass", "t": "app.orders:Line", "v": {"sku": "A1"}},
    }
    assert plain(tagged) == {
        "when": "2030-01-01T09:30:00+00:00",
        "pair": [1, "abc"],
        "map": {"1": "one", "[2, 3]": "pair"},
        "line": {"sku": "A1"},
    }


@pytest.mark.parametrize(
    ("target", "message"),
    [
        # The target as written, not the value's repr ("5 is not a workflow").
        ("wfextra_values:x", "wfextra_values:x is a value of type int, not a workflow"),
        ("wfextra_values:Flow", "wfextra_values:Flow is a class, not a workflow"),
        ("{module}:double", "{module}:double is a step, not a workflow"),
        ("{module}:plain_function", "{module}:plain_function is not a workflow"),
    ],
)
def test_a_target_that_is_not_a_workflow_is_named_as_written(
    project: Project, target: str, message: str
) -> None:
    project.write_module("wfextra_values", "x = 5\n\n\nclass Flow:\n    pass\n")
    result = invoke("run", target.format(module=project.module), "--db", project.db)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"wf run: {message.format(module=project.module)}")
    assert "5 is not" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("module", "message"),
    [
        ("../x", "'../x' is a file path; wf run expects a module name"),
        ("../x", "(such as x: cd .. && wf run x:flow)"),
        ("/srv/app/x.py", "(such as x: cd /srv/app && wf run x:flow)"),
        ("../my-flows.py", "wf run expects a module name, importable from the current directory"),
        ("./x.py", "name the module as Python imports it: x:flow"),
        ("pkg/x.py", "name the module as Python imports it: pkg.x:flow"),
    ],
)
def test_a_file_path_gets_a_module_name_only_where_one_exists(
    project: Project, module: str, message: str
) -> None:
    result = invoke("run", f"{module}:flow", "--db", project.db)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "..." not in result.stderr and ".srv" not in result.stderr
    assert result.stderr.count("\n") == 1
