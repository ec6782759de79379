"""What every handler of the app shares: its state, errors as JSON, request bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import Request as HTTPRequest
from starlette.responses import JSONResponse

from wf.runtime._api import Engine
from wf.runtime._events import Event
from wf.runtime._limits import NestingError, load_json
from wf.runtime._registry import workflow_id_of
from wf.store._protocol import ACTIVE, FINISHED, RunRecord

__all__ = [
    "ApiError",
    "WebState",
    "error_response",
    "json_body",
    "read_body",
    "run_and_log",
    "state_of",
    "status_filter",
]


class ApiError(Exception):
    """An answer other than success: its status, ``type`` and message, sent as JSON."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


class WebState:
    """The app's state (``app.state.wf``): its engine, opened on first use in the
    serving loop, and the limits and workflows it was built with."""

    def __init__(
        self,
        engine: Engine | None,
        url: str | None,
        max_body: int,
        response_timeout: float,
        workflows: Iterable[Callable[..., Any]] | None,
    ) -> None:
        self._engine = engine
        self._url = url
        self._owned = False  # opened here, so closed here
        self._lock: asyncio.Lock | None = None
        self.max_body = max_body
        self.response_timeout = response_timeout
        self.workflows: dict[str, Callable[..., Any]] | None = None
        if workflows is not None:
            self.workflows = {workflow_id_of(fn): fn for fn in workflows}

    async def engine(self) -> Engine:
        if self._engine is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._engine is None:
                    engine = Engine(self._url, worker=False)
                    await engine.open()
                    self._engine, self._owned = engine, True
        await self._engine.open()
        return self._engine

    async def close(self) -> None:
        if self._engine is not None and self._owned:
            await self._engine.close()
            self._engine, self._owned = None, False


def state_of(request: HTTPRequest) -> WebState:
    state = getattr(request.app.state, "wf", None)
    if not isinstance(state, WebState):
        raise RuntimeError("a wf.web handler was served by an app wf.asgi_app() did not build")
    return state


def status_filter(request: HTTPRequest) -> str | None:
    """The ``?status=`` of a run list: one of the statuses a run can have, or None."""
    status = request.query_params.get("status") or None
    if status is not None and status not in (*ACTIVE, *FINISHED):
        raise ApiError(
            400,
            "bad_request",
            f"status must be one of {', '.join((*ACTIVE, *FINISHED))}, not {status!r}",
        )
    return status


async def run_and_log(request: HTTPRequest) -> tuple[RunRecord, list[Event]]:
    """The run of the path's ``{run_id}`` and its whole event log."""
    engine = await state_of(request).engine()
    run = engine.get_run(request.path_params["run_id"])
    record = await run.describe()
    return record, [event async for event in run.events()]


async def json_body(request: HTTPRequest, *, below: int = 0) -> Any:
    """The body as JSON; its values (``below`` levels down) may nest as deep as wf
    accepts anywhere, so nothing deeper reaches the engine (400 otherwise)."""
    body = await read_body(request)
    if not body:
        return None
    try:
        return load_json(body, "the request body", below=below)
    except NestingError as exc:
        raise ApiError(400, "too_deep", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"the request body is not valid JSON: {exc}") from None


async def read_body(request: HTTPRequest) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed the app's ``max_body``."""
    max_body = state_of(request).max_body
    too_large = ApiError(
        413, "payload_too_large", f"the request body exceeds the limit of {max_body} bytes"
    )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_body:
        raise too_large
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > max_body:
            raise too_large
    return bytes(chunks)
