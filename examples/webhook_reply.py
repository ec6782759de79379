"""A webhook whose HTTP caller gets the answer a step computes: ``respond_with="manual"``.

A shop asks for a shipping quote by calling the run's webhook URL with its parcel.
The workflow receives the request, prices it in a step, and that step answers the
waiting HTTP caller (``request.respond(...)``) with the quote; then the workflow
books the quote it gave. The caller never polls: it holds the connection until the
step answers (or gets 504 after the server's response timeout).

    wf serve examples.webhook_reply
    curl -X POST localhost:8000/api/runs -d '{"workflow": "examples.webhook_reply:shipping_quote"}'
    # the run writes "<run id> waits for a quote request at <url>" to the log
    # ($WF_WEBHOOK_REPLY_LOG, default .wf/webhook_reply.log); then
    curl -X POST <that url> -d '{"weight_kg": 2.5, "country": "FR"}'

The README's webhook block does this with the run id the API answers.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Any

import wf

#: The webhook URL of each run, as published by `publish` (the tests read it).
URLS: dict[str, str] = {}
#: How many times each step ran (the tests check it).
CALLS: collections.Counter[str] = collections.Counter()
RATES = {"FR": 4.0, "DE": 4.5, "US": 12.0}


def log_path() -> Path:
    """Where `publish` writes each run's webhook URL, relative to the worker's directory."""
    return Path(os.environ.get("WF_WEBHOOK_REPLY_LOG", ".wf/webhook_reply.log"))


async def publish(run_id: str, url: str) -> None:
    "use step"
    CALLS["publish"] += 1
    URLS[run_id] = url
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(f"{run_id} waits for a quote request at {url}\n")


async def quote(request: wf.Request) -> dict[str, Any]:
    "use step"
    CALLS["quote"] += 1
    try:
        parcel = request.json()
        price = round(5.0 + RATES[parcel["country"]] * float(parcel["weight_kg"]), 2)
    except (ValueError, KeyError, TypeError) as exc:
        await request.respond(
            wf.Response.json(
                {"error": f"expected {{'weight_kg': number, 'country': one of {sorted(RATES)}}}"},
                status=400,
            )
        )
        raise wf.FatalError(f"bad quote request: {exc!r}") from None
    answer = {"price_eur": price, "country": parcel["country"]}
    await request.respond(wf.Response.json(answer, status=201))
    return answer


async def book(answer: dict[str, Any]) -> str:
    "use step"
    CALLS["book"] += 1
    return f"booked {answer['country']} at {answer['price_eur']} EUR"


async def shipping_quote() -> str:
    "use workflow"
    hook = wf.create_webhook(respond_with="manual")
    await publish(wf.get_workflow_metadata().run_id, hook.url)
    request = await hook
    answer = await quote(request)
    return await book(answer)
