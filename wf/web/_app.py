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

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HTTPRequest
from starlette.responses import Response
from starlette.routing import Route

from wf._errors import HookNotFoundError, RunNotFoundError
from wf.runtime._api import Engine
from wf.web import _api
from wf.web._dashboard import dashboard, dashboard_run
from wf.web._http import ApiError, WebState, error_response
from wf.web._webhooks import webhook

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_RESPONSE_TIMEOUT", "asgi_app"]

log = logging.getLogger("wf")

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_RESPONSE_TIMEOUT = 30.0
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

Handler = Callable[[HTTPRequest], Awaitable[Response]]


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
    state = WebState(engine, url, max_body, response_timeout, workflows)
    routes = [
        Route("/", _guarded(dashboard), methods=["GET"]),
        Route("/runs/{run_id}", _guarded(dashboard_run), methods=["GET"]),
        Route("/webhooks/{token:path}", _guarded(webhook), methods=_METHODS),
        Route("/api/runs", _guarded(_api.list_runs), methods=["GET"]),
        Route("/api/runs", _guarded(_api.start_run), methods=["POST"]),
        Route("/api/runs/{run_id}", _guarded(_api.show_run), methods=["GET"]),
        Route("/api/runs/{run_id}/cancel", _guarded(_api.cancel_run), methods=["POST"]),
        Route("/api/runs/{run_id}/messages/{name}", _guarded(_api.send_message), methods=["POST"]),
        Route("/api/hooks/{token:path}", _guarded(_api.resume_hook), methods=["POST"]),
    ]
    # What the router itself raises (404 for an unknown path, 405) is JSON too.
    handlers: dict[Any, Callable[..., Any]] = {
        ApiError: _on_error,
        RunNotFoundError: _on_error,
        HookNotFoundError: _on_error,
        HTTPException: _on_error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=_lifespan)
    app.state.wf = state
    return app


async def _on_error(request: HTTPRequest, exc: Exception) -> Response:
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.kind, exc.message)
    if isinstance(exc, RunNotFoundError):
        return error_response(404, "run_not_found", str(exc))
    if isinstance(exc, HookNotFoundError):
        return error_response(404, "hook_not_found", str(exc))
    if isinstance(exc, HTTPException):
        return error_response(exc.status_code, "http_error", str(exc.detail))
    log.error("wf: %s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", f"{type(exc).__name__}: {exc}")


def _guarded(endpoint: Handler) -> Handler:
    """``endpoint`` answering every error in JSON, a bug included (500): caught
    here rather than by Starlette's server-error handler, which would re-raise it
    into whatever app this one is mounted in."""

    async def answer(request: HTTPRequest) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            return await _on_error(request, exc)

    return answer


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    # Run when the app is served on its own; a mounted app's engine lives as long
    # as the process.
    yield
    state = getattr(app.state, "wf", None)
    if isinstance(state, WebState):
        await state.close()
