"""The dashboard pages of ``wf serve``: runs and a run's events, as HTML."""

from __future__ import annotations

import html

import pytest
from web_support import Served

from flows import webhooks


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
