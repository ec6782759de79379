"""No stored value breaks a text view: values nested far deeper than wf accepts today,
times out of every date's range, numbers JSON cannot hold (rows written before wf
checked what enters, or by hand)."""

from __future__ import annotations

import json

from stored_rows import stored_run
from wfcli_support import Project, invoke, json_out


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def hostile_run(db: str) -> None:
    """Run ``odd`` of every kind of stored value no view may fail on."""
    stored_run(
        db,
        "odd",
        created_at=1e20,
        input=f'{{"args": [{deep(5000)}], "kwargs": {{}}}}',
        result=deep(500),
        events=[
            ("run_started", None, "app.flows:main", f'{{"args": [{deep(5000)}]}}', 1.7e9),
            ("step_scheduled", 0, "app.flows:s", deep(300), 1e300),
            ("step_completed", 0, "app.flows:s", "1e400", float("inf")),
            ("timer_scheduled", 1, "timer", json.dumps({"fire_at": 1e300}), 1.7e9),
            ("timer_fired", 1, "timer", "NaN", -float("inf")),
            ("run_completed", None, None, deep(500), 1.7e9),
        ],
    )


def test_runs_list_and_show_survive_any_stored_value(project: Project) -> None:
    hostile_run(project.db)
    for args in (("runs", "list"), ("runs", "list", "--json"), ("runs", "show", "odd")):
        result = invoke(*args, "--db", project.db)
        assert result.exit_code == 0, (args, result.stderr)
        assert "out of the date range" in result.stdout

    shown = invoke("runs", "show", "odd", "--db", project.db).stdout
    assert "nested deeper than" in shown
    assert "-> inf" in shown
    assert max(len(line) for line in shown.splitlines()) < 400  # no 300-digit offsets
    assert "1e+303" in shown


def test_runs_show_json_is_valid_json_for_any_stored_value(project: Project) -> None:
    hostile_run(project.db)
    result = invoke("runs", "show", "odd", "--json", "--db", project.db)
    assert result.exit_code == 0, result.stderr
    # Strict JSON: no Infinity or NaN, which other parsers refuse.
    shown = json.loads(result.stdout, parse_constant=lambda token: 1 / 0)
    events = shown["events"]
    assert [event["offset_ms"] for event in events][2:5] == [None, 0.0, None]
    assert events[2]["data"] == "inf" and events[4]["data"] == "nan"
    assert "nested deeper than" in json.dumps(shown["run"]["input"])
    assert json_out(invoke("runs", "list", "--json", "--db", project.db))[0]["run_id"] == "odd"


def test_runs_result_of_a_deep_stored_result_prints_json(project: Project) -> None:
    hostile_run(project.db)
    result = invoke("runs", "result", "odd", "--db", project.db)
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)
