"""Webhook request headers that carry credentials: the workflow receives them as sent,
every view shows them redacted (JSON API, dashboard)."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from web_support import Served

from flows import limits
from wf.runtime._redact import REDACTED, is_secret_header, redact_headers

SECRETS = {
    "Authorization": "Bearer s3cret-auth",
    "X-Api-Key": "s3cret-key",
    "Cookie": "session=s3cret-cookie",
    "Proxy-Authorization": "Basic s3cret-proxy",
    "X-Hub-Secret": "s3cret-hub",
    "X-CSRF-Token": "s3cret-csrf",
    "X-Amz-Security-TOKEN": "s3cret-amz",
}


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("Authorization", True),
        ("authorization", True),
        ("COOKIE", True),
        ("Proxy-Authorization", True),
        ("x-api-key", True),
        ("X-Secret-Thing", True),
        ("x-csrf-token", True),
        ("Sec-WebSocket-Key", True),
        ("content-type", False),
        ("x-custom", False),
        ("keep-alive", False),
        ("user-agent", False),
        ("set-cookie2", False),  # only the request's Cookie header itself
    ],
)
def test_which_headers_carry_credentials(name: str, secret: bool) -> None:
    assert is_secret_header(name) is secret


def test_redact_headers_keeps_the_names_and_the_other_values() -> None:
    headers = {"authorization": "Bearer x", "content-type": "text/plain"}
    assert redact_headers(headers) == {"authorization": REDACTED, "content-type": "text/plain"}
    assert headers["authorization"] == "Bearer x"  # a copy: the original is left alone


async def signed_run(served: Served) -> str:
    """A run of flows.limits:signed_webhook that received one request carrying SECRETS."""
    run = await served.engine.start(limits.signed_webhook)
    url = await served.url_of(run)
    reply = await served.client.post(url, json={"a": 1}, headers={**SECRETS, "X-Custom": "shown"})
    assert reply.status_code == 202
    result: dict[str, Any] = await run.result(timeout=10)
    # The workflow and its step received the real values: a signature can be checked.
    assert result["verified"] is True
    assert result["request"].headers["authorization"] == "Bearer s3cret-auth"
    assert result["request"].headers["cookie"] == "session=s3cret-cookie"
    return run.id


def _assert_redacted(text: str) -> None:
    assert "s3cret" not in text
    assert REDACTED in text


async def test_the_api_shows_credential_headers_redacted(served: Served) -> None:
    run_id = await signed_run(served)
    reply = await served.client.get(f"/api/runs/{run_id}")
    assert reply.status_code == 200
    _assert_redacted(reply.text)
    shown = reply.json()
    received = next(e for e in shown["events"] if e["kind"] == "hook_received")
    headers = received["data"]["headers"]
    for name in SECRETS:
        assert headers[name.lower()] == REDACTED
    assert headers["x-custom"] == "shown"
    assert headers["content-type"] == "application/json"
    # The step's arguments and the run's result hold the request too: redacted there as well.
    scheduled = next(
        e
        for e in shown["events"]
        if e["kind"] == "step_scheduled" and e["name"].endswith(":check_credentials")
    )
    assert '"x-api-key": "[redacted]"' in json.dumps(scheduled["data"])
    assert shown["run"]["result"]["request"]["headers"]["authorization"] == REDACTED
    assert shown["run"]["result"]["request"]["headers"]["x-custom"] == "shown"
    listed = await served.client.get("/api/runs")
    assert "s3cret" not in listed.text


async def test_the_dashboard_shows_credential_headers_redacted(served: Served) -> None:
    run_id = await signed_run(served)
    page = await served.client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    _assert_redacted(text)
    assert '"authorization": "[redacted]"' in text
    assert '"x-custom": "shown"' in text
    listing = await served.client.get("/")
    assert "s3cret" not in listing.text


async def test_the_stored_log_keeps_the_real_headers_for_the_workflow(served: Served) -> None:
    run_id = await signed_run(served)
    stored = [e.data or "" for e in await served.engine.store.load_events(run_id)]
    received = next(json.loads(d) for d in stored if "s3cret-auth" in d)
    assert received["v"]["headers"]["authorization"] == "Bearer s3cret-auth"
