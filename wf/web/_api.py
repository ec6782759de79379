"""The JSON API under ``/api``: list, show, start and cancel runs, send messages,
resume hooks. Each handler checks its input and calls the public ``wf.Engine`` /
``wf.Run`` API; what it raises becomes a JSON error in ``_app``."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from starlette.requests import Request as HTTPRequest
from starlette.responses import JSONResponse, Response

from wf import _names
from wf._errors import RunIdConflictError, WorkflowError
from wf.runtime._api import check_start_options
from wf.runtime._limits import NestingError
from wf.runtime._registry import workflow_id_of
from wf.runtime._views import events_json, run_json
from wf.store._protocol import FINISHED
from wf.web._http import ApiError, WebState, json_body, run_and_log, state_of, status_filter

__all__ = ["cancel_run", "list_runs", "resume_hook", "send_message", "show_run", "start_run"]

_START_FIELDS = frozenset(
    {"workflow", "args", "kwargs", "run_id", "start_at", "deadline", "version"}
)


async def list_runs(request: HTTPRequest) -> Response:
    params = request.query_params
    limit_text = params.get("limit", "100")
    if not limit_text.isdigit() or int(limit_text) < 1:
        raise ApiError(400, "bad_request", f"limit must be a positive integer, not {limit_text!r}")
    status = status_filter(request)
    engine = await state_of(request).engine()
    records = await engine.list_runs(
        status=status, workflow=params.get("workflow"), limit=int(limit_text)
    )
    return JSONResponse({"runs": [run_json(r) for r in records]})


async def show_run(request: HTTPRequest) -> Response:
    record, events = await run_and_log(request)
    return JSONResponse({"run": run_json(record, full=True), "events": events_json(events)})


async def start_run(request: HTTPRequest) -> Response:
    state = state_of(request)
    # The arguments sit two levels down: {"args": [...], "kwargs": {...}}.
    spec = await json_body(request, below=2)
    fn, args, kwargs, options = _start_spec(state, spec)
    engine = await state.engine()
    try:
        run = await engine.start(fn, *args, **options, **kwargs)
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
    engine = await state_of(request).engine()
    run = engine.get_run(run_id)
    record = await run.describe()
    if record.status in FINISHED:
        raise ApiError(
            409, "run_finished", f"run {run_id} already ended ({record.status}); not cancelled"
        )
    await run.cancel()
    return JSONResponse({"run_id": run_id, "cancel_requested": True}, status_code=202)


async def send_message(request: HTTPRequest) -> Response:
    run_id, name = request.path_params["run_id"], request.path_params["name"]
    payload = await json_body(request)
    engine = await state_of(request).engine()
    record = await engine.get_run(run_id).describe()
    if record.status in FINISHED:
        raise ApiError(
            409, "run_finished", f"run {run_id} already ended ({record.status}); not sent"
        )
    await engine.send(run_id, name, payload)
    return JSONResponse({"run_id": run_id, "sent": name}, status_code=202)


async def resume_hook(request: HTTPRequest) -> Response:
    token = request.path_params["token"]
    payload = await json_body(request)
    engine = await state_of(request).engine()
    try:
        run_id = await engine.resume_hook(token, payload)
    except ValueError as exc:
        raise ApiError(422, "invalid_payload", str(exc)) from None
    return JSONResponse({"run_id": run_id}, status_code=202)


def _start_spec(
    state: WebState, spec: Any
) -> tuple[Callable[..., Any], list[Any], dict[str, Any], dict[str, Any]]:
    """The body of ``POST /api/runs`` checked (400 before the engine is asked): the
    workflow, its arguments and ``wf.start``'s options."""
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
            f"unknown field(s) {', '.join(unknown)}; accepted: {', '.join(sorted(_START_FIELDS))}",
        )
    fn = _startable(state, spec.get("workflow"))
    args, kwargs = spec.get("args", []), spec.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ApiError(400, "bad_request", '"args" must be a JSON array and "kwargs" a JSON object')
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
    return fn, args, kwargs, options


def _startable(state: WebState, workflow_id: Any) -> Callable[..., Any]:
    """A workflow that may be started over HTTP: one of the app's ``workflows`` when
    given, else one whose module this process already imported (never imported on
    request: a request must not run a module's code)."""
    if not isinstance(workflow_id, str) or ":" not in workflow_id:
        raise ApiError(
            400,
            "bad_request",
            f'"workflow" must be a workflow id "package.module:function", not {workflow_id!r}',
        )
    if state.workflows is not None:
        listed = state.workflows.get(workflow_id)
        if listed is None:
            known = ", ".join(sorted(state.workflows)) or "none"
            raise ApiError(
                404, "unknown_workflow", f"no workflow {workflow_id} here (startable: {known})"
            )
        return listed
    try:
        obj: Any = _names.resolve(workflow_id, load=None)
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


def _moment(value: Any) -> Any:
    """``start_at`` / ``deadline`` from JSON: an ISO 8601 time with its offset, or a
    duration (seconds, or text such as "2h") that ``wf.start`` measures from now."""
    if isinstance(value, str) and value[:1].isdigit() and "T" in value:
        try:
            return _dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    return value
