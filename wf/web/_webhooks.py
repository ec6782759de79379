"""The HTTP side of webhooks: ``/webhooks/{token}`` records each request as a
``wf.Request`` for its run and answers the caller as the webhook was registered to
(202, its static response, or, for a manual one, the answer a step gives).

What a workflow uses (``wf.create_webhook``, ``wf.Request.respond``, how the
answer is stored) is runtime API in ``wf/runtime/_webhooks.py``; this module only
serves it, through the public ``wf.Engine`` methods for webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any

from starlette.requests import Request as HTTPRequest
from starlette.responses import JSONResponse, Response

from wf.runtime._api import Engine
from wf.runtime._webhooks import Request, awaiting_answer
from wf.web._http import ApiError, error_response, read_body, state_of

__all__ = ["webhook"]


async def webhook(request: HTTPRequest) -> Response:
    token = request.path_params["token"]
    state = state_of(request)
    engine = await state.engine()
    answer = await engine.webhook_answer(token)
    if answer is None:
        # A plain hook's token is not reachable over HTTP: no difference is shown.
        raise _not_found(token)
    incoming = await _recorded(request, token)
    if answer["mode"] != "manual":
        run_id = await _deliver(engine, incoming)
        if answer["mode"] == "static":
            return _static(answer)
        return JSONResponse({"run_id": run_id, "request_id": incoming.id}, status_code=202)
    # Listening before delivery: a step in this process may answer before it returns.
    with awaiting_answer(incoming.id) as waiter:
        await _deliver(engine, incoming)
        return await _await_answer(engine, incoming, waiter, state.response_timeout)


async def _recorded(request: HTTPRequest, token: str) -> Request:
    """The HTTP request as the workflow receives it (repeated headers joined)."""
    body = await read_body(request)
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Request(
        id=uuid.uuid4().hex,
        token=token,
        method=request.method,
        path=request.url.path,
        query=request.url.query,
        headers=headers,
        body=body,
    )


async def _deliver(engine: Engine, incoming: Request) -> str:
    run_id = await engine.deliver_webhook_request(incoming)
    if run_id is None:
        raise _not_found(incoming.token)
    return run_id


def _not_found(token: str) -> ApiError:
    return ApiError(404, "webhook_not_found", f"no live webhook has token {token!r}")


def _static(answer: dict[str, Any]) -> Response:
    return Response(answer["body"], status_code=answer["status"], headers=dict(answer["headers"]))


async def _await_answer(
    engine: Engine, request: Request, waiter: asyncio.Future[None], timeout: float
) -> Response:
    """The answer a step gives with ``request.respond()``: woken at once when the step
    runs in this process, else found by polling the store. 504 after ``timeout``, or
    as soon as the run ends without answering (its token is released then)."""
    deadline = time.monotonic() + timeout
    poll = 0.01
    while True:
        remaining = deadline - time.monotonic()
        # Whether the run ended is read before the answer: a step's answer is written
        # before its run can end, so an answer given just before the end is found below
        # (read the other way round, an answer and the end landing between the two reads
        # would be taken for an end without an answer).
        ended = remaining > 0 and not await engine.hook_held(request.token)
        found = await engine.webhook_response(request.id)
        if found is not None:
            status, headers, body = found
            return Response(body, status_code=status, headers=dict(json.loads(headers)))
        if remaining <= 0 or ended:
            await engine.forget_webhook_request(request.id)
            why = "its run ended without answering" if ended else f"no answer within {timeout} s"
            return error_response(
                504,
                "no_response",
                f"the workflow did not answer webhook request {request.id}: {why}",
            )
        wait = min(poll, remaining)
        if waiter.done():
            await asyncio.sleep(wait)
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await asyncio.shield(waiter)
        poll = min(poll * 2, 0.25)
