"""A webhook whose HTTP caller gets the answer a step computes: ``respond_with="manual"``.

A shop asks for a shipping quote by calling the run's webhook URL with its parcel.
The workflow receives the request, prices it in a step, and that step answers the
waiting HTTP caller (``request.respond(...)``) with the quote; then the workflow
books the quote it gave. The caller never polls: it holds the connection until the
step answers (or gets 504 after the server's response timeout).

    wf serve examples.webhook_reply
    curl -X POST localhost:8000/api/runs -d '{"workflow": "examples.webhook_reply:shipping_quote"}'
    # the run prints its webhook URL to .wf/webhook_reply.log; then
    curl -X POST <that url> -d '{"weight_kg": 2.5, "country": "FR"}'
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import wf

LOG = Path(".wf/webhook_reply.log")
#: The webhook URL of each run, as published by `publish` (the tests read it).
URLS: dict[str, str] = {}
#: How many times each step ran (the tests check it).
CALLS: collections.Counter[str] = collections.Counter()
RATES = {"FR": 4.0, "DE": 4.5, "US": 12.0}


async def publish(run_id: str, url: str) -> None:
    "use step"
    CALLS["publish"] += 1
    URLS[run_id] = url
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("a") as log:
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
