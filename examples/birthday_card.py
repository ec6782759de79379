"""A birthday card: sequential steps, RSVP webhooks collected as they arrive, a sleep
until the day, and a final step with the answers.

1. The card is drawn (a step).
2. Every guest gets a webhook of their own, and the invitations go out in parallel,
   each carrying the guest's RSVP link.
3. RSVPs are recorded as they arrive, in arrival order, each by a step. A guest who
   answers gets "Thanks" at once (a static response); the answer is already durable.
4. The workflow sleeps until the birthday: days, across restarts and deploys.
5. The card goes out with the RSVPs collected by then. Links of guests who never
   answered are released with the run (a late answer gets 404).

    wf serve examples.birthday_card
    curl -X POST localhost:8000/api/runs -d '{"workflow": "examples.birthday_card:birthday_card",
        "args": ["Ada", ["ann", "bob", "cy"], "2030-12-10T09:00:00+00:00"]}'
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from typing import Any

import wf

#: Each guest's RSVP link, as the invitation step sent it (the tests read it).
INVITES: dict[str, str] = {}
#: What each step did, in order (the tests check it).
LOG: list[str] = []
CALLS: collections.Counter[str] = collections.Counter()


async def draw_card(name: str) -> str:
    "use step"
    CALLS["draw_card"] += 1
    LOG.append(f"card drawn for {name}")
    return f"Happy birthday, {name}!"


async def send_invite(guest: str, rsvp_url: str) -> None:
    "use step"
    CALLS["send_invite"] += 1
    INVITES[guest] = rsvp_url
    LOG.append(f"invited {guest}")


async def record_rsvp(guest: str, answer: str) -> str:
    "use step"
    CALLS["record_rsvp"] += 1
    LOG.append(f"{guest} answered {answer}")
    return answer


async def send_card(card: str, rsvps: dict[str, str], silent: list[str]) -> dict[str, Any]:
    "use step"
    CALLS["send_card"] += 1
    coming = [guest for guest, answer in rsvps.items() if answer == "yes"]
    LOG.append(f"card sent, {len(coming)} coming")
    return {"card": card, "rsvps": rsvps, "coming": coming, "no_answer": silent}


async def _collect(guest: str, link: wf.Webhook, rsvps: dict[str, str]) -> None:
    request = await link
    answer = str(request.json().get("answer", "no"))
    rsvps[guest] = await record_rsvp(guest, answer)


async def birthday_card(name: str, guests: list[str], birthday: str) -> dict[str, Any]:
    "use workflow"
    card = await draw_card(name)
    thanks = wf.Response(200, "Thanks, your answer is recorded.")
    links = {guest: wf.create_webhook(respond_with=thanks) for guest in guests}
    await asyncio.gather(*(send_invite(guest, link.url) for guest, link in links.items()))
    rsvps: dict[str, str] = {}  # filled in arrival order while the workflow sleeps
    collectors = {g: asyncio.ensure_future(_collect(g, link, rsvps)) for g, link in links.items()}
    await wf.sleep_until(dt.datetime.fromisoformat(birthday))
    # Collectors still waiting are guests who did not answer by the day: they are
    # abandoned when the run ends, which releases their links.
    silent = [guest for guest, collector in collectors.items() if not collector.done()]
    return await send_card(card, dict(rsvps), silent)
