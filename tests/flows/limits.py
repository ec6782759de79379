"""Workflows that meet wf's input limits from inside: child starts with bad options,
payloads nested too deeply, and a webhook whose request carries credentials."""

from __future__ import annotations

from typing import Any

import wf
from flows import webhooks


def nested(depth: int) -> Any:
    """A list nested ``depth`` levels deep (``[]`` is 1 level)."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


async def child(x: int) -> int:
    "use workflow"
    return x


async def echo(value: Any = None) -> Any:
    "use workflow"
    return value


# Each bad child start must reach the workflow as a ValueError, before anything is
# recorded; the run then goes on and ends normally.
async def refused_children() -> list[str]:
    "use workflow"
    refused = []
    for options in (
        {"run_id": "a/b"},
        {"run_id": "x" * 201},
        {"start_at": "20000y"},
        {"deadline": 1e308},
    ):
        try:
            await wf.start(child, 1, **options)
        except ValueError as exc:
            refused.append(str(exc))
    try:
        await wf.start(echo, nested(150))
    except ValueError as exc:
        refused.append(str(exc))
    try:
        await wf.send("nobody", "go", nested(150))
    except ValueError as exc:
        refused.append(str(exc))
    try:
        await wf.resume_hook("nobody", nested(150))
    except ValueError as exc:
        refused.append(str(exc))
    return refused


async def child_with_generated_id() -> str:
    "use workflow"
    handle = await wf.start(child, 2)
    await handle.result()
    return handle.id


async def check_credentials(request: wf.Request) -> bool:
    "use step"
    return (
        request.headers.get("authorization") == "Bearer s3cret-auth"
        and request.headers.get("x-api-key") == "s3cret-key"
    )


# Receives one request, has a step check its real credentials, and returns the request
# itself, so the views show it in a step's arguments, the log and the result.
async def signed_webhook() -> dict[str, Any]:
    "use workflow"
    hook = wf.create_webhook()
    await webhooks.announce(wf.get_workflow_metadata().run_id, hook.url)
    request = await hook
    verified = await check_credentials(request)
    return {"verified": verified, "request": request}


async def sleeps_past_9999() -> list[str]:
    "use workflow"
    refused = []
    for duration in ("20000y", 1e308):
        try:
            await wf.sleep(duration)
        except ValueError as exc:
            refused.append(str(exc))
    return refused
