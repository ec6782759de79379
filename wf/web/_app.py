"""The HTTP face of wf: webhooks and a JSON API, as one Starlette (ASGI) app.

``wf serve`` runs it next to a worker; ``wf.asgi_app()`` returns it for mounting
in an application of one's own. Routes (relative to where it is mounted)::

    GET  /                               the dashboard: recent runs (?status=)
    GET  /runs/{run_id}                  the dashboard page of a run and its events
    ANY  /webhooks/{token}               a webhook request (see wf.create_webhook)
    GET  /api/runs                       runs, newest first (?status=&workflow=&limit=)
    POST /api/runs                       start a run: {"workflow": "module:function",
                                         "args": [...], "kwargs": {...}; optional "run_id",
                                         "start_at", "deadline" (ISO time or duration),
                                         "version"}
    GET  /api/runs/{run_id}              a run and its events
    POST /api/runs/{run_id}/cancel       request cancellation
    POST /api/runs/{run_id}/messages/{name}   send a message (the JSON body is the payload)
    POST /api/hooks/{token}              resume a hook (the JSON body is the payload)

Every error is JSON, ``{"error": {"type": ..., "message": ...}}``, with a status
that says what kind it is (400 bad input: not JSON, nested deeper than wf's limit,
an unknown field, status or option such as a malformed run id or a start time
past year 9999; 404 unknown; 409 conflict: a run id another workflow's run has,
a run that already ended; 413 too large; 422 arguments or a payload rejected by
validation; 500 a bug, still JSON; 504 no answer in time). Webhook request
headers that carry credentials are shown redacted. The API has no
authentication of its own: mount it behind the application's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HTTPRequest
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from wf import _names
from wf._errors import HookNotFoundError, RunIdConflictError, RunNotFoundError, WorkflowError
from wf.runtime._api import Engine, check_start_options
from wf.runtime._events import Event
from wf.runtime._limits import NestingError, load_json
from wf.runtime._registry import workflow_id_of
from wf.runtime._views import events_json, run_json
from wf.runtime._webhooks import Request, response_waiters
from wf.store._protocol import ACTIVE, FINISHED, RunRecord
from wf.web._dashboard import run_page, runs_page

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_RESPONSE_TIMEOUT", "asgi_app", "listen", "serving"]

log = logging.getLogger("wf")

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_RESPONSE_TIMEOUT = 30.0
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


_START_FIELDS = frozenset(
    {"workflow", "args", "kwargs", "run_id", "start_at", "deadline", "version"}
)


def _moment(value: Any) -> Any:
    """``start_at`` / ``deadline`` from JSON: an ISO 8601 time with its offset, or a
    duration (seconds, or text such as "2h") that ``wf.start`` measures from now."""
    if isinstance(value, str) and value[:1].isdigit() and "T" in value:
        try:
            return _dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    return value


def _root(request: HTTPRequest) -> str:
    """Where the app is mounted, for the dashboard's links."""
    return f"{request.scope.get('root_path', '').rstrip('/')}/"


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def _status_filter(request: HTTPRequest) -> str | None:
    """The ``?status=`` of a run list: one of the statuses a run can have, or None."""
    status = request.query_params.get("status") or None
    if status is not None and status not in (*ACTIVE, *FINISHED):
        raise ApiError(
            400,
            "bad_request",
            f"status must be one of {', '.join((*ACTIVE, *FINISHED))}, not {status!r}",
        )
    return status


class _Server:
    """The app's state: its engine (opened on first use, in the serving loop)."""

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

    def workflow(self, workflow_id: Any) -> Callable[..., Any]:
        """A workflow that may be started over HTTP: one of ``workflows`` when given,
        else one whose module this process already imported (never imported on request)."""
        if not isinstance(workflow_id, str) or ":" not in workflow_id:
            raise ApiError(
                400,
                "bad_request",
                f'"workflow" must be a workflow id "package.module:function", not {workflow_id!r}',
            )
        if self.workflows is not None:
            listed = self.workflows.get(workflow_id)
            if listed is None:
                known = ", ".join(sorted(self.workflows)) or "none"
                raise ApiError(
                    404, "unknown_workflow", f"no workflow {workflow_id} here (startable: {known})"
                )
            return listed
        try:
            obj: Any = _names.resolve(workflow_id, load=None)  # never imports: loaded ones only
        except (ImportError, AttributeError, ValueError):
            obj = None
        if obj is None or not _is_workflow(obj):
            raise ApiError(
                404,
                "unknown_workflow",
                f"no workflow {workflow_id} is loaded in this server (start `wf serve` with"
                " its module, e.g. `wf serve package.module`)",
            )
        fn: Callable[..., Any] = obj
        return fn


def _is_workflow(obj: Any) -> bool:
    try:
        workflow_id_of(obj)
    except WorkflowError:
        return False
    return True


async def _json_body(request: HTTPRequest, max_body: int, *, below: int = 0) -> Any:
    """The body as JSON; its values (``below`` levels down) may nest as deep as wf
    accepts anywhere, so nothing deeper reaches the engine (400 otherwise)."""
    body = await _read_body(request, max_body)
    if not body:
        return None
    try:
        return load_json(body, "the request body", below=below)
    except NestingError as exc:
        raise ApiError(400, "too_deep", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"the request body is not valid JSON: {exc}") from None


async def _read_body(request: HTTPRequest, max_body: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``max_body``."""
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


def asgi_app(
    engine: Engine | None = None,
    *,
    url: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    response_timeout: float = DEFAULT_RESPONSE_TIMEOUT,
    workflows: Iterable[Callable[..., Any]] | None = None,
) -> Starlette:
    """The ASGI app serving webhooks and the JSON API (see this module's docstring).

    ``engine`` is the engine to use (``wf serve`` passes its worker's); without one
    the app opens ``wf.Engine(url, worker=False)`` on its first request, and workers
    elsewhere execute the runs. ``max_body`` bounds request bodies (413 beyond it),
    ``response_timeout`` how long a manual webhook's caller waits (504 after it).
    ``workflows`` lists what ``POST /api/runs`` may start; by default any workflow
    whose module this process has imported.
    """
    if max_body < 0:
        raise ValueError(f"max_body must be a number of bytes >= 0, not {max_body}")
    if response_timeout <= 0:
        raise ValueError(f"response_timeout must be > 0 seconds, not {response_timeout}")
    server = _Server(engine, url, max_body, response_timeout, workflows)

    async def webhook(request: HTTPRequest) -> Response:
        token = request.path_params["token"]
        eng = await server.engine()
        answer = await eng.webhook_answer(token)
        if answer is None:
            # A plain hook's token is not reachable over HTTP: no difference is shown.
            raise ApiError(404, "webhook_not_found", f"no live webhook has token {token!r}")
        body = await _read_body(request, server.max_body)
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        incoming = Request(
            id=uuid.uuid4().hex,
            token=token,
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers=headers,
            body=body,
        )
        waiter: asyncio.Future[None] | None = None
        if answer["mode"] == "manual":
            waiter = asyncio.get_running_loop().create_future()
            response_waiters[incoming.id] = waiter
        try:
            run_id = await eng.deliver_webhook_request(incoming)
            if run_id is None:
                raise ApiError(404, "webhook_not_found", f"no live webhook has token {token!r}")
            if answer["mode"] == "static":
                return Response(
                    answer["body"], status_code=answer["status"], headers=dict(answer["headers"])
                )
            if waiter is None:
                return JSONResponse({"run_id": run_id, "request_id": incoming.id}, status_code=202)
            return await _await_answer(eng, incoming, waiter, server.response_timeout)
        finally:
            response_waiters.pop(incoming.id, None)

    async def list_runs(request: HTTPRequest) -> Response:
        params = request.query_params
        limit_text = params.get("limit", "100")
        if not limit_text.isdigit() or int(limit_text) < 1:
            raise ApiError(
                400, "bad_request", f"limit must be a positive integer, not {limit_text!r}"
            )
        status = _status_filter(request)
        eng = await server.engine()
        records = await eng.list_runs(
            status=status, workflow=params.get("workflow"), limit=int(limit_text)
        )
        return JSONResponse({"runs": [run_json(r) for r in records]})

    async def run_and_log(request: HTTPRequest) -> tuple[RunRecord, list[Event]]:
        run_id = request.path_params["run_id"]
        eng = await server.engine()
        run = eng.get_run(run_id)
        record = await run.describe()
        return record, [event async for event in run.events()]

    async def show_run(request: HTTPRequest) -> Response:
        record, events = await run_and_log(request)
        return JSONResponse({"run": run_json(record, full=True), "events": events_json(events)})

    async def start_run(request: HTTPRequest) -> Response:
        # The arguments sit two levels down: {"args": [...], "kwargs": {...}}.
        spec = await _json_body(request, server.max_body, below=2)
        if not isinstance(spec, dict):
            raise ApiError(
                400,
                "bad_request",
                'the body must be a JSON object: {"workflow": "module:function", "args": [...],'
                ' "kwargs": {...}} (optional: "run_id", "start_at", "deadline", "version")',
            )
        unknown = sorted(set(spec) - _START_FIELDS)
        if unknown:
            raise ApiError(
                400,
                "bad_request",
                f"unknown field(s) {', '.join(unknown)};"
                f" accepted: {', '.join(sorted(_START_FIELDS))}",
            )
        fn = server.workflow(spec.get("workflow"))
        args, kwargs = spec.get("args", []), spec.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ApiError(
                400, "bad_request", '"args" must be a JSON array and "kwargs" a JSON object'
            )
        options = {
            "run_id": spec.get("run_id"),
            "start_at": _moment(spec.get("start_at")),
            "deadline": _moment(spec.get("deadline")),
            "version": spec.get("version"),
        }
        try:
            check_start_options(**options)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        eng = await server.engine()
        try:
            run = await eng.start(fn, *args, **options, **kwargs)
        except NestingError as exc:
            raise ApiError(400, "too_deep", str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise ApiError(422, "invalid_input", str(exc)) from None
        except RunIdConflictError as exc:
            raise ApiError(409, "run_id_conflict", str(exc)) from None
        status = (await run.describe()).status
        return JSONResponse({"run_id": run.id, "status": status}, status_code=201)

    async def cancel_run(request: HTTPRequest) -> Response:
        run_id = request.path_params["run_id"]
        eng = await server.engine()
        run = eng.get_run(run_id)
        record = await run.describe()
        if record.status in FINISHED:
            raise ApiError(
                409, "run_finished", f"run {run_id} already ended ({record.status}); not cancelled"
            )
        await run.cancel()
        return JSONResponse({"run_id": run_id, "cancel_requested": True}, status_code=202)

    async def send_message(request: HTTPRequest) -> Response:
        run_id, name = request.path_params["run_id"], request.path_params["name"]
        payload = await _json_body(request, server.max_body)
        eng = await server.engine()
        record = await eng.get_run(run_id).describe()
        if record.status in FINISHED:
            raise ApiError(
                409, "run_finished", f"run {run_id} already ended ({record.status}); not sent"
            )
        await eng.send(run_id, name, payload)
        return JSONResponse({"run_id": run_id, "sent": name}, status_code=202)

    async def resume_hook(request: HTTPRequest) -> Response:
        token = request.path_params["token"]
        payload = await _json_body(request, server.max_body)
        eng = await server.engine()
        try:
            run_id = await eng.resume_hook(token, payload)
        except ValueError as exc:
            raise ApiError(422, "invalid_payload", str(exc)) from None
        return JSONResponse({"run_id": run_id}, status_code=202)

    async def dashboard(request: HTTPRequest) -> Response:
        status = _status_filter(request)
        eng = await server.engine()
        records = await eng.list_runs(status=status, limit=200)
        return HTMLResponse(runs_page(records, _root(request), status))

    async def dashboard_run(request: HTTPRequest) -> Response:
        record, events = await run_and_log(request)
        return HTMLResponse(run_page(record, events, _root(request)))

    async def on_api_error(request: HTTPRequest, exc: Exception) -> Response:
        if isinstance(exc, ApiError):
            return _error(exc.status, exc.kind, exc.message)
        if isinstance(exc, RunNotFoundError):
            return _error(404, "run_not_found", str(exc))
        if isinstance(exc, HookNotFoundError):
            return _error(404, "hook_not_found", str(exc))
        if isinstance(exc, HTTPException):
            return _error(exc.status_code, "http_error", str(exc.detail))
        log.error("wf: %s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal_error", f"{type(exc).__name__}: {exc}")

    def guarded(
        endpoint: Callable[[HTTPRequest], Awaitable[Response]],
    ) -> Callable[[HTTPRequest], Awaitable[Response]]:
        """``endpoint`` answering every error in JSON, a bug included (500): caught
        here rather than by Starlette's server-error handler, which would re-raise it
        into whatever app this one is mounted in."""

        async def answer(request: HTTPRequest) -> Response:
            try:
                return await endpoint(request)
            except Exception as exc:
                return await on_api_error(request, exc)

        return answer

    handlers: dict[Any, Callable[..., Any]] = {
        ApiError: on_api_error,
        RunNotFoundError: on_api_error,
        HookNotFoundError: on_api_error,
        HTTPException: on_api_error,
    }
    routes = [
        Route("/", guarded(dashboard), methods=["GET"]),
        Route("/runs/{run_id}", guarded(dashboard_run), methods=["GET"]),
        Route("/webhooks/{token:path}", guarded(webhook), methods=_METHODS),
        Route("/api/runs", guarded(list_runs), methods=["GET"]),
        Route("/api/runs", guarded(start_run), methods=["POST"]),
        Route("/api/runs/{run_id}", guarded(show_run), methods=["GET"]),
        Route("/api/runs/{run_id}/cancel", guarded(cancel_run), methods=["POST"]),
        Route("/api/runs/{run_id}/messages/{name}", guarded(send_message), methods=["POST"]),
        Route("/api/hooks/{token:path}", guarded(resume_hook), methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Run when the app is served on its own; a mounted app's engine lives as long
        # as the process.
        yield
        await server.close()

    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)


async def _await_answer(
    engine: Engine, request: Request, waiter: asyncio.Future[None], timeout: float
) -> Response:
    """The answer a step gives with ``request.respond()``: woken at once when the step
    runs in this process, else found by polling the store. 504 after ``timeout``, or
    as soon as the run ends without answering (its token is released then)."""
    deadline = time.monotonic() + timeout
    poll = 0.01
    while True:
        found = await engine.webhook_response(request.id)
        if found is not None:
            status, headers, body = found
            return Response(body, status_code=status, headers=dict(json.loads(headers)))
        remaining = deadline - time.monotonic()
        ended = remaining > 0 and not await engine.hook_held(request.token)
        if remaining <= 0 or ended:
            await engine.forget_webhook_request(request.id)
            why = "its run ended without answering" if ended else f"no answer within {timeout} s"
            return _error(
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


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one); ``OSError`` if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it a keep-alive caller waits ~40 ms per request (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def serving(app: Starlette, sock: socket.socket) -> AsyncIterator[asyncio.Task[None]]:
    """Serve ``app`` with uvicorn on ``sock`` in this loop until the block exits; yields
    the server's task. uvicorn's own signal handling is left out: the caller owns the
    signals (``wf serve`` turns them into a clean engine shutdown)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    server = Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.005)
    if task.done():
        task.result()
        raise OSError(f"the HTTP server on {sock.getsockname()} stopped at once")
    try:
        yield task
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
