"""Huge runs and values stay readable and quick in text views: ``wf runs show`` lists
the latest events and cuts long values (saying how to get them whole), ``wf run``
prints a bounded number of lines, ``--quiet`` none."""

from __future__ import annotations

import json
import re

from stored_rows import stored_run
from wfcli_support import Project, invoke, json_out

from wf.cli._view import PlainLog, RunView
from wf.runtime._events import Event

BIG = 5_000


def _steps(count: int) -> list[tuple[str, int | None, str | None, str | None, float]]:
    """A run's log of ``count`` events: started, then steps scheduled and completed."""
    events: list[tuple[str, int | None, str | None, str | None, float]] = [
        ("run_started", None, "app.flows:main", '{"args": [], "kwargs": {}}', 1.7e9)
    ]
    for seq in range(1, count):
        cid = (seq - 1) // 2
        if seq % 2:
            events.append(("step_scheduled", cid, "app.flows:step", f'{{"i": {cid}}}', 1.7e9))
        else:
            events.append(("step_completed", cid, "app.flows:step", str(cid), 1.7e9 + seq))
    return events


def _rows(out: str) -> list[list[str]]:
    """The timeline's rows, split on whitespace."""
    rows = [line.split() for line in out.splitlines()]
    return [row for row in rows if len(row) > 2 and row[0].isdigit() and row[1].isdigit()]


def test_show_lists_the_latest_events_and_says_how_to_see_all(project: Project) -> None:
    stored_run(project.db, "big", events=_steps(BIG))
    shown = invoke("runs", "show", "big", "--db", project.db)
    assert shown.exit_code == 0, shown.stderr
    rows = _rows(shown.stdout)
    assert [int(row[0]) for row in rows] == list(range(BIG - 100, BIG))
    assert (
        f"… {BIG - 100:,} earlier events not shown (the last 100 of {BIG:,};"
        " --limit N shows more, --limit 0 all of them)"
    ) in shown.stdout

    ten = invoke("runs", "show", "big", "--limit", "10", "--db", project.db)
    assert [int(row[0]) for row in _rows(ten.stdout)] == list(range(BIG - 10, BIG))
    assert f"… {BIG - 10:,} earlier events not shown" in ten.stdout

    everything = invoke("runs", "show", "big", "--limit", "0", "--db", project.db)
    assert [int(row[0]) for row in _rows(everything.stdout)] == list(range(BIG))
    assert "not shown" not in everything.stdout

    assert (
        len(json_out(invoke("runs", "show", "big", "--json", "--db", project.db))["events"]) == BIG
    )
    three = json_out(invoke("runs", "show", "big", "--json", "--limit", "3", "--db", project.db))
    assert [event["seq"] for event in three["events"]] == [BIG - 3, BIG - 2, BIG - 1]


def test_show_with_limit_0_prints_every_event_of_a_long_run(project: Project) -> None:
    # How long it takes is measured by bench (cli_runs_show_5000_events_s), not here.
    stored_run(project.db, "big", events=_steps(BIG))
    shown = invoke("runs", "show", "big", "--limit", "0", "--db", project.db)
    assert shown.exit_code == 0, shown.stderr
    assert len(_rows(shown.stdout)) == BIG


def test_show_cuts_long_values_and_says_how_to_get_them_whole(project: Project) -> None:
    huge = "x" * 1_000_000
    error = {
        "type": "builtins:ValueError",
        "message": "m" * 100_000,
        "traceback": "Traceback (most recent call last):\n" + "  t\n" * 50_000 + "ValueError: m\n",
    }
    stored_run(
        project.db,
        "long:1",
        result=json.dumps(huge),
        input=json.dumps({"args": [huge], "kwargs": {}}),
        events=[
            ("run_started", None, "app.flows:main", json.dumps({"args": [huge]}), 1.7e9),
            ("step_completed", 0, "app.flows:step", json.dumps(huge), 1.7e9),
            ("run_completed", None, None, json.dumps(huge), 1.7e9),
        ],
    )
    stored_run(project.db, "bad", status="failed", result=None, error=json.dumps(error))

    shown = invoke("runs", "show", "long:1", "--db", project.db)
    assert shown.exit_code == 0, shown.stderr
    assert len(shown.stdout) < 5_000
    # The header folds the value at the width of the screen.
    assert "result" + "x" * 199 + "…" in re.sub(r"\s+", "", shown.stdout)
    assert (
        "Values with … are cut: `wf runs show long:1 --json` prints every value whole"
        " (`wf runs result long:1`: the result)."
    ) in shown.stdout
    whole = invoke("runs", "result", "long:1", "--db", project.db)
    assert json.loads(whole.stdout) == huge
    assert (
        json_out(invoke("runs", "show", "long:1", "--json", "--db", project.db))["events"][1][
            "data"
        ]
        == huge
    )

    failed = invoke("runs", "show", "bad", "--db", project.db)
    assert failed.exit_code == 0, failed.stderr
    assert len(failed.stdout) < 15_000
    assert "ValueError:" + "m" * 299 + "…" in re.sub(r"\s+", "", failed.stdout)
    assert failed.stdout.count("ValueError: m\n") == 1  # the end of the traceback is kept
    assert "Values with … are cut" in failed.stdout


def test_a_short_run_shows_no_note_about_cut_values(project: Project) -> None:
    stored_run(project.db, "small", result='{"ok": true}', events=_steps(5))
    shown = invoke("runs", "show", "small", "--db", project.db)
    assert shown.exit_code == 0, shown.stderr
    assert "cut" not in shown.stdout and "not shown" not in shown.stdout
    assert len(_rows(shown.stdout)) == 5


LONG = """\
import wf

async def one(i: int) -> int:
    "use step"
    return i

async def many(n: int) -> int:
    "use workflow"
    total = 0
    for i in range(n):
        total += await one(i)
    return total
"""


def test_wf_run_of_thousands_of_steps_prints_a_bounded_log(project: Project) -> None:
    module = project.write_module("wfcli_long", LONG)
    result = invoke("run", f"{module}:many", "2000", "--run-id", "long", "--db", project.db)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == sum(range(2000))
    lines = result.stderr.splitlines()
    assert len(lines) < 120, result.stderr[-2000:]
    assert lines[-1].startswith("run long: completed in")
    assert lines[-2] == "  … 2,000 steps and timers so far: 2,000 completed (3,900 lines not shown)"
    assert "`wf runs show long` lists the whole log" in result.stderr


def test_wf_run_quiet_prints_only_the_result(project: Project) -> None:
    module = project.write_module("wfcli_long", LONG)
    result = invoke("run", f"{module}:many", "30", "--quiet", "--db", project.db)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{sum(range(30))}\n"
    assert result.stderr == ""
    failed = invoke("run", project.target("broken_at_once"), "4", "-q", "--db", project.db)
    assert failed.exit_code == 1
    assert failed.stderr.splitlines()[-1].endswith("failed: ValueError: bad input 4")
    assert "started" not in failed.stderr


def test_the_plain_log_counts_steps_every_period_once_its_budget_is_spent() -> None:
    now = [0.0]
    view = RunView("r", "m:f")
    log = PlainLog(view, budget=4, every=10.0, clock=lambda: now[0])
    printed: list[str] = []

    def apply(seq: int, kind: str, cid: int | None) -> None:
        printed.extend(log.filter(view.apply(Event(seq, kind, cid, "m:s", "1", 1.0))))

    apply(0, "run_started", None)
    for cid in range(10):
        apply(2 * cid + 1, "step_scheduled", cid)
        apply(2 * cid + 2, "step_completed", cid)
        now[0] += 3.0
    assert printed[1:5] == [
        "  step s #0: scheduled",
        "  step s #0: completed in 0 ms",
        "  step s #1: scheduled",
        "  step s #1: completed in 0 ms",
    ]
    assert printed[5].startswith("  … further lines about steps are not shown")
    # Muted at t=6; counted once 10 s (of the fake clock) later, when step 6 starts.
    assert printed[6:] == [
        "  … 7 steps and timers so far: 6 completed, 1 scheduled (9 lines not shown)"
    ]
    # And before the run's last line.
    end = log.filter(view.apply(Event(21, "run_completed", None, None, "1", 2.0)))
    assert end == ["  … 10 steps and timers so far: 10 completed (7 lines not shown)", end[1]]
    assert end[1].startswith("run r: completed in")
