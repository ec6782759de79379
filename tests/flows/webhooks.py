"""Workflows that wait for HTTP requests through webhooks."""

from __future__ import annotations

from typing import Any

import wf

#: Webhook URLs by run id, announced by a step once the token is durable.
URLS: dict[str, str] = {}
CALLS: dict[str, int] = {}


async def announce(run_id: str, url: str) -> None:
    "use step"
    URLS[run_id] = url


async def note(name: str) -> None:
    "use step"
    CALLS[name] = CALLS.get(name, 0) + 1


def _describe(request: wf.Request) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "params": request.params,
        "content_type": request.headers.get("content-type"),
        "custom": request.headers.get("x-custom"),
        "body": request.body,
        "text": request.text(),
    }


async def collect(count: int) -> list[dict[str, Any]]:
    "use workflow"
    hook = wf.create_webhook()
    await announce(wf.get_workflow_metadata().run_id, hook.url)
    seen = []
    async for request in hook:
        seen.append(_describe(request))
        if len(seen) == count:
            break
    return seen


async def named(token: str) -> dict[str, Any]:
    "use workflow"
    hook = wf.create_webhook(token=token)
    await announce(wf.get_workflow_metadata().run_id, hook.url)
    request = await hook
    return {"token": request.token, "path": request.path}


async def static_reply() -> Any:
    "use workflow"
    hook = wf.create_webhook(
        respond_with=wf.Response(200, "thanks", {"x-reply": "static"}),
    )
    await announce(wf.get_workflow_metadata().run_id, hook.url)
    request = await hook
    return request.json()


async def answer(request: wf.Request, delay: float) -> str:
    "use step"
    if delay:
        import asyncio

        await asyncio.sleep(delay)
    payload = request.json()
    await request.respond(
        wf.Response.json({"order": payload["order"], "accepted": True}, status=201)
    )
    CALLS["answer"] = CALLS.get("answer", 0) + 1
    return payload["order"]


async def manual_reply(delay: float = 0.0) -> str:
    "use workflow"
    hook = wf.create_webhook(respond_with="manual")
    await announce(wf.get_workflow_metadata().run_id, hook.url)
    request = await hook
    return await answer(request, delay)


async def respond_in_workflow() -> str:
    "use workflow"
    hook = wf.create_webhook(respond_with="manual")
    await announce(wf.get_workflow_metadata().run_id, hook.url)
    request = await hook
    try:
        await request.respond(wf.Response(200))
    except wf.WorkflowError as exc:
        return str(exc)
    return "responded"


async def plain_hook() -> Any:
    "use workflow"
    hook = wf.create_hook(token="plain-token")
    await note("plain hook created")
    return await hook


async def listener() -> Any:
    "use workflow"
    return await wf.receive("go")


async def sleeper() -> None:
    "use workflow"
    await wf.sleep("1 hour")
