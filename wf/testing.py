"""Testing workflows: a real engine on a temporary SQLite file, with a virtual clock.

A workflow that sleeps seven days or waits on a hook is tested in milliseconds::

    async def test_approval_expires() -> None:
        async with wf.testing.WorkflowEnvironment() as env:
            run = await env.start(approve_order, "o-1")
            await env.advance("7 days")
            assert await run.result() == "expired"

Everything else is real: the compiler, the event log, replay, steps. Only time
is virtual: it starts at the real now and moves when :meth:`advance` says so,
firing due timers, retries and deadlines one at a time, in order, each followed
by the work it causes.

Under pytest, the plugin ``wf._pytest_plugin`` (entry point ``wf``) installs the
import hook for the session and gives tests the fixture ``wf_env``: an entered
environment on the test's event loop.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json as _json
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar, TypeVarTuple, Unpack
from urllib.parse import quote, unquote, urlsplit

from wf.runtime._api import Engine, Run
from wf.runtime._clock import VirtualClock
from wf.runtime._duration import to_seconds
from wf.runtime._webhooks import Response

__all__ = ["WorkflowEnvironment"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
_NO_BODY: Any = object()


class WorkflowEnvironment:
    """An engine with a worker, a fresh database and a clock that only :meth:`advance` moves."""

    def __init__(self, *, evict_after: float = 2.0, base_url: str | None = None) -> None:
        """``base_url`` is where a test serves ``wf.asgi_app(env.engine)``, so that webhook
        URLs point at it."""
        self.clock = VirtualClock()
        self._app: Any = None
        #: The temporary directory holding the database; removed when the environment exits.
        self.directory = tempfile.mkdtemp(prefix="wf-test-")
        self.url = f"sqlite:///{self.directory}/wf.db"
        self.engine = Engine(
            self.url,
            poll_interval=0.01,
            evict_after=evict_after,
            clock=self.clock,
            base_url=base_url,
        )

    async def __aenter__(self) -> WorkflowEnvironment:
        await self.engine.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.engine.__aexit__(exc_type, exc, tb)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def now(self) -> _dt.datetime:
        """The virtual time, as workflows see it through ``wf.now()``."""
        return _dt.datetime.fromtimestamp(self.clock.now(), _dt.UTC)

    async def start(
        self,
        fn: Callable[[Unpack[Ts]], Awaitable[T]],
        *args: *Ts,
        **kwargs: Any,
    ) -> Run[T]:
        run = await self.engine.start(fn, *args, **kwargs)
        await self.settle()
        return run

    def get_run(self, run_id: str) -> Run[Any]:
        return self.engine.get_run(run_id)

    async def resume_hook(self, token: str, payload: Any = None) -> str:
        run_id = await self.engine.resume_hook(token, payload)
        await self.settle()
        return run_id

    async def send(self, run_id: str, name: str, payload: Any = None) -> None:
        await self.engine.send(run_id, name, payload)
        await self.settle()

    async def webhook(
        self,
        url_or_token: str,
        *,
        method: str = "POST",
        json: Any = _NO_BODY,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one HTTP request to a webhook (its ``url``, or its token) through the
        real ASGI app of ``wf serve``, in process and without a socket, and return the
        answer its caller would get: 202, the static response, or a step's manual
        answer (a ``wf.Response``). ``json=`` sends a JSON body."""
        if self._app is None:
            from wf.web import asgi_app

            self._app = asgi_app(self.engine)
        if url_or_token.startswith(("http://", "https://")):
            parts = urlsplit(url_or_token)
            path, query = parts.path, parts.query
        else:
            path, query = f"/webhooks/{quote(url_or_token, safe='')}", ""
        header_map = {k.lower(): v for k, v in (headers or {}).items()}
        if json is not _NO_BODY:
            body = _json.dumps(json)
            header_map.setdefault("content-type", "application/json")
        data = body.encode() if isinstance(body, str) else body
        answer = await _call_asgi(self._app, method, path, query, header_map, data)
        await self.settle()
        return answer

    async def advance(self, duration: float | str | _dt.timedelta) -> None:
        """Move the clock forward, firing what falls due in order, each followed by
        the work it causes (steps run for real, and take no virtual time)."""
        until = self.clock.now() + to_seconds(duration)
        await self.settle()
        while (timer := self.clock.next_due(until)) is not None:
            timer.callback(*timer.args)
            await self.settle()
        self.clock.move_to(until)
        self.engine.poke()
        await self.settle()

    async def settle(self, *, quiet_turns: int = 3, limit: float = 10.0) -> None:
        """Wait until the engine has nothing in progress (several quiet turns in a row)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        quiet = 0
        while quiet < quiet_turns and loop.time() < deadline:
            await asyncio.sleep(0.005)
            busy = self.engine.busy()
            quiet = 0 if busy else quiet + 1


async def _call_asgi(
    app: Any, method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> Response:
    """One HTTP request through an ASGI app, as a server would hand it over."""
    headers = {"host": "testserver", "content-length": str(len(body)), **headers}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 0),
        "server": ("testserver", 80),
    }
    delivered = False
    status = 500
    answer_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            for key, value in message.get("headers", []):
                answer_headers[key.decode("latin-1")] = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return Response(status, b"".join(chunks), answer_headers)
