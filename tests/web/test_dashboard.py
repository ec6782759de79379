"""The dashboard pages of ``wf serve``: runs and a run's events, as HTML."""

from __future__ import annotations

import html
import json

import pytest
from stored_rows import stored_run
from web_support import Served

from flows import webhooks
from wf.web._dashboard import SHOWN_CHARS


async def test_the_dashboard_lists_runs_and_shows_a_run_with_its_events(served: Served) -> None:
    # Run ids cannot hold markup (see test_api_limits); every character they may hold
    # that a URL reserves is quoted in links.
    done = await served.engine.start(webhooks.listener, run_id="dash:1@a+b=c")
    await served.engine.send("dash:1@a+b=c", "go", {"note": "<b>escaped</b>"})
    await done.result(timeout=10)
    await served.engine.start(webhooks.sleeper, run_id="dash-2")

    page = await served.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "dash:1@a+b=c" in page.text and "dash-2" in page.text
    assert "<b>escaped</b>" not in page.text
    assert 'href="/runs/dash%3A1%40a%2Bb%3Dc"' in page.text

    only = await served.client.get("/", params={"status": "completed"})
    assert "dash:1@a+b=c" in only.text and "dash-2" not in only.text

    run_page = await served.client.get("/runs/dash%3A1%40a%2Bb%3Dc")
    assert run_page.status_code == 200
    text = html.unescape(run_page.text)
    for expected in ("flows.webhooks:listener", "completed", "message_received", "run_completed"):
        assert expected in text
    assert '"note": "<b>escaped</b>"' in text  # shown, escaped in the HTML
    assert "<b>escaped</b>" not in run_page.text


@pytest.mark.parametrize(("path", "status"), [("/runs/nope", 404), ("/?status=lost", 400)])
async def test_dashboard_errors(served: Served, path: str, status: int) -> None:
    reply = await served.client.get(path)
    assert reply.status_code == status
    assert reply.json()["error"]["message"]


async def test_a_run_page_cuts_huge_values_and_long_logs_and_links_the_json_api(
    served: Served, db_url: str
) -> None:
    huge = "<" * 2_000_000  # every character escaped: the page would be 8 MB
    events = [("run_started", None, "app.flows:main", '{"args": [], "kwargs": {}}', 1.7e9)]
    events += [("progress", None, f"note {i}", None, 1.7e9 + i) for i in range(1, 1_500)]
    events.append(("run_completed", None, None, json.dumps(huge), 1.7e9 + 1_500))
    stored_run(db_url, "big:1", result=json.dumps(huge), events=events)

    page = await served.client.get("/runs/big%3A1")
    assert page.status_code == 200
    assert len(page.text) < 500_000
    assert page.text.count("&lt;" * SHOWN_CHARS + "…</pre>") == 2  # the result, the last event
    link = '<a href="/api/runs/big%3A1">the JSON API</a>'
    assert f"cut: {len(huge):,} characters in all; the whole value is in {link}" in page.text
    assert f"The latest 1,000 of 1,501 events; all of them are in {link}." in page.text
    assert "note 501<" in page.text and "note 500<" not in page.text

    whole = await served.client.get("/api/runs/big%3A1")
    assert whole.json()["run"]["result"] == huge
    assert len(whole.json()["events"]) == 1_501


async def test_no_stored_value_breaks_the_api_or_the_dashboard(served: Served, db_url: str) -> None:
    deep = "[" * 5000 + "]" * 5000
    stored_run(
        db_url,
        "odd",
        created_at=1e20,
        input=f'{{"args": [{deep}], "kwargs": {{}}}}',
        result="[" * 500 + "]" * 500,
        events=[
            ("run_started", None, "app.flows:main", f'{{"args": [{deep}]}}', 1.7e9),
            ("step_completed", 0, "app.flows:s", "1e400", float("inf")),
            ("timer_fired", 1, "timer", "NaN", 1e300),
        ],
    )
    for path in ("/", "/runs/odd", "/api/runs"):
        reply = await served.client.get(path)
        assert reply.status_code == 200, (path, reply.text[-300:])
    shown = await served.client.get("/api/runs/odd")
    assert shown.status_code == 200, shown.text
    events = shown.json()["events"]
    assert [event["offset_ms"] for event in events] == [0.0, None, 1e303]
    assert [event["data"] for event in events[1:]] == ["inf", "nan"]
    assert "out of the date range" in shown.json()["run"]["created_at"]
    assert "nested deeper than" in json.dumps(shown.json()["run"]["input"])
