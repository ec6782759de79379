"""Webhooks: hooks the outside world reaches over HTTP, and the requests they receive.

``wf.create_webhook()`` in a workflow registers a hook whose token is also a URL
path (``<base url>/webhooks/<token>``, served by ``wf.asgi_app()``). Each HTTP
request to it is recorded as a ``wf.Request`` and delivered like a hook payload.
How the caller is answered is part of the registration, so the HTTP app answers
without asking the workflow: 202 by default, a fixed ``wf.Response``, or
``"manual"``, where a step calls ``await request.respond(...)`` and the caller
waits for it (the app gives up with 504 after its response timeout).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json as _json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, quote

from wf._errors import WorkflowError
from wf.runtime._hooks import Hook
from wf.runtime._loop import current_loop
from wf.runtime._workflow import _require

__all__ = [
    "Request",
    "Response",
    "Webhook",
    "answer_of",
    "awaiting_answer",
    "create_webhook",
    "encode_answer",
]


@dataclass
class Response:
    """An HTTP response: for ``create_webhook(respond_with=...)`` or ``request.respond()``.

    ``body`` is bytes or text (sent as UTF-8); ``Response.json(value)`` makes a JSON one.
    """

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.status, int) or not 100 <= self.status <= 599:
            raise ValueError(f"an HTTP status is an int from 100 to 599, not {self.status!r}")
        if isinstance(self.body, str):
            self.body = self.body.encode()
        elif not isinstance(self.body, bytes):
            raise TypeError(f"a response body is bytes or str, not {type(self.body).__name__}")
        if not isinstance(self.headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            raise TypeError(f"response headers are a dict of str to str, not {self.headers!r}")
        self.headers = dict(self.headers)

    @classmethod
    def json(
        cls, value: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """A response whose body is ``value`` as JSON (``content-type: application/json``)."""
        merged = {"content-type": "application/json", **(headers or {})}
        return cls(status, _json.dumps(value).encode(), merged)


@dataclass(frozen=True)
class Request:
    """One HTTP request received by a webhook, as the workflow sees it.

    ``headers`` has lower-case names (repeated headers joined with ", "); ``query``
    is the raw query string (``params`` parses it); ``body`` is the raw bytes.
    """

    id: str
    token: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        """The query string as a dict (the last value of a repeated name wins)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; ``ValueError`` if it is not JSON."""
        try:
            return _json.loads(self.body)
        except ValueError as exc:
            raise ValueError(f"the body of webhook request {self.id} is not JSON: {exc}") from None

    async def respond(self, response: Response) -> None:
        """Answer the HTTP caller of a ``respond_with="manual"`` webhook. Call it from a
        step (it is a side effect). The first answer wins; an answer given after the
        caller stopped waiting (504) is dropped."""
        if current_loop() is not None:
            raise WorkflowError(
                "request.respond() sends an HTTP response, a side effect: call it from a"
                ' step (pass the request to a "use step" function)'
            )
        if not isinstance(response, Response):
            raise TypeError(f"request.respond() takes a wf.Response, not {response!r}")
        from wf.runtime._api import current_engine

        engine = current_engine()
        await engine.open()
        headers = _json.dumps(sorted(response.headers.items()))
        body = response.body if isinstance(response.body, bytes) else response.body.encode()
        await engine.store.set_webhook_response(
            self.id, response.status, headers, body, now=engine.clock.now()
        )
        waiter = _waiters.get(self.id)
        if waiter is not None:
            _wake(waiter)


#: HTTP requests of this process waiting for a manual answer, by request id; a step
#: answering in the same process wakes its caller at once instead of at the next poll.
_waiters: dict[str, asyncio.Future[None]] = {}


@contextlib.contextmanager
def awaiting_answer(request_id: str) -> Iterator[asyncio.Future[None]]:
    """A future a step of this process sets when it answers ``request_id`` with
    ``request.respond()``, for as long as the block runs. Only a wake-up: the answer
    itself is read from the store, where a step in another process also leaves it."""
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    _waiters[request_id] = waiter
    try:
        yield waiter
    finally:
        _waiters.pop(request_id, None)


def _wake(waiter: asyncio.Future[None]) -> None:
    def done() -> None:
        if not waiter.done():
            waiter.set_result(None)

    loop = waiter.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        done()
    else:
        loop.call_soon_threadsafe(done)


class Webhook(Hook[Request]):
    """A hook reached over HTTP at ``.url``; awaiting it gives the next ``wf.Request``."""

    def __init__(self, hook: Hook[Request], url: str) -> None:
        super().__init__(hook.token, hook._inbox)
        self.url = url

    def __repr__(self) -> str:
        return f"<wf.Webhook {self.url}>"


RespondWith = Response | Literal["manual"] | None


def encode_answer(respond_with: RespondWith) -> str:
    """How a webhook answers its callers, as stored with its token."""
    if respond_with is None:
        return _json.dumps({"mode": "accepted"})
    if respond_with == "manual":
        return _json.dumps({"mode": "manual"})
    if isinstance(respond_with, Response):
        body = respond_with.body if isinstance(respond_with.body, bytes) else b""
        return _json.dumps(
            {
                "mode": "static",
                "status": respond_with.status,
                "headers": sorted(respond_with.headers.items()),
                "body": base64.b64encode(body).decode("ascii"),
            }
        )
    raise ValueError(
        "create_webhook(respond_with=...) takes None (answer 202 Accepted), a wf.Response"
        f' (always that answer) or "manual" (a step answers), not {respond_with!r}'
    )


def answer_of(stored: str) -> dict[str, Any]:
    """The stored answer of a webhook, decoded (``mode``, and for static ones the response)."""
    answer: dict[str, Any] = _json.loads(stored)
    if answer.get("mode") == "static":
        answer["body"] = base64.b64decode(answer["body"])
    return answer


def create_webhook(*, token: str | None = None, respond_with: RespondWith = None) -> Webhook:
    """Create a webhook in the running workflow: a hook whose token is also the URL
    ``webhook.url`` (from the engine's ``base_url``). Any HTTP method reaches it; each
    request arrives as a ``wf.Request`` (``await webhook``, ``async for request in
    webhook``). Its callers get 202 Accepted, the fixed ``respond_with`` response, or,
    with ``respond_with="manual"``, the answer a step gives with ``request.respond()``."""
    loop = _require("wf.create_webhook()")
    answer = encode_answer(respond_with)
    _cid, token, inbox = loop.ctx.issue_hook(token, webhook=answer)
    # Quoted as one path segment (a token may hold "/", "?", spaces); the app decodes it.
    path = quote(token, safe=":@!$&'()*+,;=-._~")
    return Webhook(Hook(token, inbox), f"{loop.ctx.base_url}/webhooks/{path}")
