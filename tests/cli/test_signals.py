"""``wf hooks resume``, ``wf send``, ``wf runs cancel`` and ``wf runs result``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from wfcli_support import Project, events_of, invoke, json_out, record_of, wait_until

import wf

SIGNALS = """\
from dataclasses import dataclass

import wf


@dataclass
class Decision:
    approved: bool
    by: str


async def wait_for_decision() -> object:
    "use workflow"
    decision = await wf.create_hook(token="decide", type=Decision)
    return decision.by


async def wait_for_request() -> object:
    "use workflow"
    request = await wf.create_webhook(token="web")
    return request.method


async def wait_for_hook(token: str) -> object:
    "use workflow"
    return await wf.create_hook(token=token)


async def wait_for_message() -> object:
    "use workflow"
    return await wf.receive("go")
"""


class Worker:
    """An in-process worker engine on its own thread and event loop."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="wf-test-worker", daemon=True)

    def _main(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            async with wf.Engine(self.db, poll_interval=0.02):
                self.ready.set()
                await self._stop.wait()

        try:
            asyncio.run(serve())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def __enter__(self) -> Worker:
        self._thread.start()
        assert self.ready.wait(30), "the worker did not start"
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the worker did not stop"
        assert self.error is None, self.error


@dataclass
class Flows(Project):
    """The project plus a module ``signals`` holding the hook and message workflows."""

    signals: str = ""


@pytest.fixture
def flows(project: Project) -> Flows:
    name = project.write_module(f"wfextra_signals_{uuid.uuid4().hex[:10]}", SIGNALS)
    # The in-process worker imports workflow modules from sys.path (restored by `project`).
    sys.path.insert(0, str(project.path))
    return Flows(**{f.name: getattr(project, f.name) for f in fields(project)}, signals=name)


def start(project: Flows, function: str, *args: str, run_id: str) -> str:
    started = invoke(
        "run",
        f"{project.signals}:{function}",
        *args,
        "--detach",
        "--run-id",
        run_id,
        "--db",
        project.db,
    )
    assert started.exit_code == 0, started.stderr
    assert started.stdout.strip() == run_id
    return run_id


def wait_for_token(project: Project, run_id: str, token: str) -> None:
    wait_until(
        lambda: any(
            e.kind == "hook_created" and e.name == token for e in events_of(project.db, run_id)
        ),
        what=f"run {run_id} to create hook {token}",
    )


def status_of(project: Project, run_id: str) -> str:
    record = record_of(project.db, run_id)
    assert record is not None
    return record.status


# -- wf hooks resume -------------------------------------------------------------------------


def test_resume_delivers_json_and_prints_the_run_id(flows: Flows) -> None:
    run_id = start(flows, "wait_for_hook", '"approve:1"', run_id="h1")
    with Worker(flows.db):
        wait_for_token(flows, run_id, "approve:1")
        resumed = invoke(
            "hooks", "resume", "approve:1", '{"ok": true, "n": [1, 2]}', "--db", flows.db
        )
        assert resumed.exit_code == 0, resumed.stderr
        assert resumed.stdout == "h1\n"
        assert "approve:1" in resumed.stderr
        result = invoke("runs", "result", run_id, "--wait", "--timeout", "30", "--db", flows.db)
    assert result.exit_code == 0, result.stderr
    assert json_out(result) == {"ok": True, "n": [1, 2]}


@pytest.mark.parametrize(
    ("payload", "expected"), [("-5", -5), ('"plain text"', "plain text"), ("null", None)]
)
def test_resume_takes_any_json_value(flows: Flows, payload: str, expected: object) -> None:
    run_id = start(flows, "wait_for_hook", '"t"', run_id="h1")
    with Worker(flows.db):
        wait_for_token(flows, run_id, "t")
        resumed = invoke("hooks", "resume", "t", payload, "--db", flows.db)
        assert resumed.exit_code == 0, resumed.stderr
        result = invoke("runs", "result", run_id, "--timeout", "30", "--db", flows.db)
    assert result.exit_code == 0, result.stderr
    assert json_out(result) == expected


def test_resume_refuses_a_payload_that_is_not_json(flows: Flows) -> None:
    resumed = invoke("hooks", "resume", "t", "hello", "--db", flows.db)
    assert resumed.exit_code == 2
    assert "wf hooks resume: the payload is not valid JSON" in resumed.stderr
    assert "'hello'" in resumed.stderr
    assert "the payload must be JSON, e.g. '\"hello\"' for a string" in resumed.stderr
    assert resumed.stdout == ""
    assert not (flows.path / "wf.db").exists()


def test_resume_refuses_what_a_typed_hook_does_not_accept_and_a_webhook_token(
    flows: Flows,
) -> None:
    typed = start(flows, "wait_for_decision", run_id="typed")
    web = start(flows, "wait_for_request", run_id="web")
    with Worker(flows.db):
        wait_for_token(flows, typed, "decide")
        wait_for_token(flows, web, "web")
        refused = invoke("hooks", "resume", "decide", '{"approved": "yes"}', "--db", flows.db)
        assert refused.exit_code == 2
        assert "does not fit Decision" in refused.stderr
        assert refused.stdout == ""
        webhook = invoke("hooks", "resume", "web", "{}", "--db", flows.db)
        assert webhook.exit_code == 2
        assert "belongs to a webhook" in webhook.stderr
        resumed = invoke(
            "hooks", "resume", "decide", '{"approved": true, "by": "ann"}', "--db", flows.db
        )
        assert resumed.exit_code == 0, resumed.stderr
        result = invoke("runs", "result", typed, "--wait", "--timeout", "30", "--db", flows.db)
    assert json_out(result) == "ann"
    assert [e.kind for e in events_of(flows.db, web)].count("hook_received") == 0


def test_resume_reports_a_mistyped_option(flows: Flows) -> None:
    resumed = invoke("hooks", "resume", "t", "-x", "--db", flows.db)
    assert resumed.exit_code == 2
    assert "no such option: -x" in resumed.stderr


def test_resume_of_an_unknown_token_exits_1(flows: Flows) -> None:
    resumed = invoke("hooks", "resume", "nope", "1", "--db", flows.db)
    assert resumed.exit_code == 1
    assert "no live run holds hook token 'nope'" in resumed.stderr
    if flows.on_sqlite:
        assert "does not exist" in resumed.stderr
        assert not (flows.path / "wf.db").exists()

    start(flows, "wait_for_hook", '"other"', run_id="h1")
    resumed = invoke("hooks", "resume", "nope", "1", "--db", flows.db)
    assert resumed.exit_code == 1
    assert "wf hooks resume: no live run holds hook token 'nope'" in resumed.stderr
    assert resumed.stdout == ""


def test_resume_of_a_released_token_exits_1(flows: Flows) -> None:
    run_id = start(flows, "wait_for_hook", '"once"', run_id="h1")
    with Worker(flows.db):
        wait_for_token(flows, run_id, "once")
        assert invoke("hooks", "resume", "once", "1", "--db", flows.db).exit_code == 0
        assert invoke("runs", "result", run_id, "--timeout", "30", "--db", flows.db).stdout == "1\n"
    again = invoke("hooks", "resume", "once", "2", "--db", flows.db)
    assert again.exit_code == 1
    assert "no live run holds hook token 'once'" in again.stderr
    assert "released when its run ended" in again.stderr


# -- wf send ---------------------------------------------------------------------------------


def test_send_queues_a_message_the_run_receives(flows: Flows) -> None:
    run_id = start(flows, "wait_for_message", run_id="m1")
    # Sent before any worker ran the workflow: it waits in the run's inbox.
    sent = invoke("send", run_id, "go", '[1, "a", {"b": null}]', "--db", flows.db)
    assert sent.exit_code == 0, sent.stderr
    assert sent.stdout == ""
    assert "sent 'go' to run m1" in sent.stderr
    with Worker(flows.db):
        result = invoke("runs", "result", run_id, "--wait", "--db", flows.db)
    assert result.exit_code == 0, result.stderr
    assert json_out(result) == [1, "a", {"b": None}]


def test_send_to_a_waiting_run(flows: Flows) -> None:
    run_id = start(flows, "wait_for_message", run_id="m1")
    with Worker(flows.db):
        wait_until(lambda: status_of(flows, run_id) != "pending", what="the run to start")
        sent = invoke("send", run_id, "go", "-2.5", "--db", flows.db)
        assert sent.exit_code == 0, sent.stderr
        result = invoke("runs", "result", run_id, "--timeout", "30", "--db", flows.db)
    assert result.exit_code == 0, result.stderr
    assert json_out(result) == -2.5


def test_send_refuses_a_payload_that_is_not_json(flows: Flows) -> None:
    run_id = start(flows, "wait_for_message", run_id="m1")
    sent = invoke("send", run_id, "go", "{ok: 1}", "--db", flows.db)
    assert sent.exit_code == 2
    assert "wf send: the payload is not valid JSON" in sent.stderr
    assert "the payload must be JSON" in sent.stderr
    assert flows.database_made()
    assert [e.kind for e in events_of(flows.db, run_id)] == ["run_started"]


def test_send_with_an_empty_name_is_a_usage_error(flows: Flows) -> None:
    run_id = start(flows, "wait_for_message", run_id="m1")
    sent = invoke("send", run_id, "", "1", "--db", flows.db)
    assert sent.exit_code == 2
    assert "message name must be a non-empty string" in sent.stderr


def test_send_to_an_unknown_run_exits_1(flows: Flows) -> None:
    sent = invoke("send", "ghost", "go", "1", "--db", flows.db)
    assert sent.exit_code == 1
    assert "no run with id 'ghost'" in sent.stderr
    assert not (flows.path / "wf.db").exists()
    start(flows, "wait_for_message", run_id="m1")
    sent = invoke("send", "ghost", "go", "1", "--db", flows.db)
    assert sent.exit_code == 1
    assert "wf send: no run with id 'ghost'" in sent.stderr


def test_send_to_an_ended_run_exits_1(flows: Flows) -> None:
    run_id = start(flows, "wait_for_message", run_id="m1")
    assert invoke("send", run_id, "go", "1", "--db", flows.db).exit_code == 0
    with Worker(flows.db):
        assert invoke("runs", "result", run_id, "--wait", "--db", flows.db).exit_code == 0
    sent = invoke("send", run_id, "go", "2", "--db", flows.db)
    assert sent.exit_code == 1
    assert "wf send: run m1 already ended (completed); message not sent" in sent.stderr


# -- wf runs cancel --------------------------------------------------------------------------


def test_cancel_stops_a_waiting_run(flows: Flows) -> None:
    run_id = start(flows, "wait_for_message", run_id="c1")
    with Worker(flows.db):
        wait_until(lambda: status_of(flows, run_id) != "pending", what="the run to start")
        cancelled = invoke("runs", "cancel", run_id, "--db", flows.db)
        assert cancelled.exit_code == 0, cancelled.stderr
        assert "cancellation requested for run c1" in cancelled.stderr
        result = invoke("runs", "result", run_id, "--timeout", "30", "--db", flows.db)
    assert result.exit_code == 1
    assert "wf runs result: run c1 was cancelled" in result.stderr
    assert result.stdout == ""
    assert status_of(flows, run_id) == "cancelled"


def test_cancel_a_pending_run(flows: Flows) -> None:
    run_id = start(flows, "wait_for_message", run_id="c1")
    cancelled = invoke("runs", "cancel", run_id, "--db", flows.db)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert "(was pending)" in cancelled.stderr
    with Worker(flows.db):
        wait_until(lambda: status_of(flows, run_id) == "cancelled", what="the cancellation")


def test_cancel_an_unknown_run_exits_1(flows: Flows) -> None:
    cancelled = invoke("runs", "cancel", "ghost", "--db", flows.db)
    assert cancelled.exit_code == 1
    assert "no run with id 'ghost'" in cancelled.stderr
    assert not (flows.path / "wf.db").exists()
    start(flows, "wait_for_message", run_id="m1")
    cancelled = invoke("runs", "cancel", "ghost", "--db", flows.db)
    assert cancelled.exit_code == 1
    assert "wf runs cancel: no run with id 'ghost'" in cancelled.stderr


def test_cancel_an_ended_run_exits_1(project: Project) -> None:
    db = ("--db", project.db)
    assert invoke("run", project.target("pipeline"), "2", "--run-id", "done", *db).exit_code == 0
    cancelled = invoke("runs", "cancel", "done", *db)
    assert cancelled.exit_code == 1
    assert "wf runs cancel: run done already ended (completed); nothing to cancel" in (
        cancelled.stderr
    )


# -- wf runs result --------------------------------------------------------------------------


def test_result_of_a_completed_run_is_its_json(project: Project) -> None:
    db = ("--db", project.db)
    ran = invoke("run", project.target("pipeline"), "4", "--kwargs", '{"label": "y"}', *db)
    assert ran.exit_code == 0, ran.stderr
    run_id = wf_run_id(project)
    result = invoke("runs", "result", run_id, *db)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ran.stdout  # the same conversion as `wf run`
    assert json_out(result) == {"label": "y", "value": 8}
    assert result.stderr == ""


def wf_run_id(project: Project) -> str:
    listed = invoke("runs", "list", "--json", "--db", project.db)
    return str(json_out(listed)[0]["run_id"])


def test_result_of_a_failed_run_exits_1_with_the_error(project: Project) -> None:
    db = ("--db", project.db)
    assert invoke("run", project.target("broken"), "7", "--run-id", "bad", *db).exit_code == 1
    for flags in ([], ["--wait"], ["--timeout", "5"]):
        result = invoke("runs", "result", "bad", *db, *flags)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert "wf runs result: run bad failed: ValueError: bad input 7" in result.stderr
        assert "Traceback" in result.stderr


def test_result_of_an_unfinished_run_without_waiting_exits_3(project: Project) -> None:
    db = ("--db", project.db)
    assert (
        invoke("run", project.target("sleepy"), "--detach", "--run-id", "later", *db).exit_code == 0
    )
    for flags in ([], ["--no-wait"]):
        result = invoke("runs", "result", "later", *db, *flags)
        assert result.exit_code == 3
        assert result.stdout == ""
        assert "run later has not finished: it is pending" in result.stderr
        assert "--wait" in result.stderr


def test_result_timeout_exits_1(project: Project) -> None:
    db = ("--db", project.db)
    assert (
        invoke("run", project.target("sleepy"), "--detach", "--run-id", "later", *db).exit_code == 0
    )
    result = invoke("runs", "result", "later", "--timeout", "0.2", *db)
    assert result.exit_code == 1
    assert "wf runs result: run later did not finish within 0.2 s (it is pending)" in result.stderr
    assert result.stdout == ""
    waited = invoke("runs", "result", "later", "--wait", "--timeout", "0", *db)
    assert waited.exit_code == 1
    assert "did not finish within 0 s" in waited.stderr


def test_result_refuses_timeout_with_no_wait(project: Project) -> None:
    result = invoke("runs", "result", "x", "--no-wait", "--timeout", "1", "--db", project.db)
    assert result.exit_code == 2
    assert "--timeout" in result.stderr and "--no-wait" in result.stderr
    negative = invoke("runs", "result", "x", "--timeout", "-1", "--db", project.db)
    assert negative.exit_code == 2


def test_result_of_an_unknown_run_exits_1(project: Project) -> None:
    result = invoke("runs", "result", "ghost", "--db", project.db)
    assert result.exit_code == 1
    if project.on_sqlite:
        assert "wf runs result: no run with id 'ghost': database" in result.stderr
        assert "does not exist" in result.stderr
        assert not (project.path / "wf.db").exists()
    else:
        assert "wf runs result: no run with id 'ghost' in postgresql://" in result.stderr
    assert invoke("run", project.target("pipeline"), "1", "--db", project.db).exit_code == 0
    for flags in ([], ["--wait"]):
        result = invoke("runs", "result", "ghost", "--db", project.db, *flags)
        assert result.exit_code == 1
        assert "wf runs result: no run with id 'ghost'" in result.stderr


# -- wf runs retry ---------------------------------------------------------------------------


def test_retry_makes_a_failed_run_runnable_again(project: Project) -> None:
    db = ("--db", project.db)
    failed = invoke("run", project.target("broken"), "3", "--run-id", "bad", *db)
    assert failed.exit_code == 1
    retried = invoke("runs", "retry", "bad", *db)
    assert retried.exit_code == 0, retried.stderr
    assert "run bad will run again from its log" in retried.stderr
    assert json_out(invoke("runs", "list", "--json", *db))[0]["status"] == "pending"


def test_retry_refuses_runs_that_did_not_fail(project: Project) -> None:
    db = ("--db", project.db)
    assert invoke("run", project.target("pipeline"), "2", "--run-id", "ok", *db).exit_code == 0
    retried = invoke("runs", "retry", "ok", *db)
    assert retried.exit_code == 1
    assert "wf runs retry: run ok is completed: only a failed run can be retried" in retried.stderr
    missing = invoke("runs", "retry", "ghost", *db)
    assert missing.exit_code == 1
    assert "no run with id 'ghost'" in missing.stderr


def test_the_wf_script_checks_a_typed_payload_against_the_project_class(flows: Flows) -> None:
    # The console script (unlike `python -m`) does not put the current directory on
    # sys.path by itself; the payload's class lives in the user's project there.
    script = Path(sys.executable).parent / "wf"
    typed = start(flows, "wait_for_decision", run_id="typed")
    env = {k: v for k, v in os.environ.items() if k != "WF_DATABASE_URL"}

    def resume(payload: str) -> subprocess.CompletedProcess[str]:
        command = [str(script), "hooks", "resume", "decide", payload, "--db", flows.db]
        return subprocess.run(
            command, cwd=flows.path, env=env, capture_output=True, text=True, timeout=60
        )

    with Worker(flows.db):
        wait_for_token(flows, typed, "decide")
        refused = resume('{"approved": 1, "by": "ann"}')
        assert refused.returncode == 2, refused.stderr
        assert "does not fit Decision" in refused.stderr
        assert "Traceback" not in refused.stderr
        accepted = resume('{"approved": true, "by": "ann"}')
        assert accepted.returncode == 0, accepted.stderr
        assert accepted.stdout == "typed\n"
