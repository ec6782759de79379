"""The dashboard of ``wf serve``: runs and their event logs as plain HTML pages.

Rendered on the server from the same JSON views as the API (no script, no
assets), so it works behind any proxy and every value is escaped once, here.
Its handlers (``dashboard``, ``dashboard_run``) read through the public engine API.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request as HTTPRequest
from starlette.responses import HTMLResponse, Response

from wf.runtime._views import events_json, run_json
from wf.store._protocol import ACTIVE, FINISHED, RunRecord
from wf.web._http import run_and_log, state_of, status_filter

__all__ = ["SHOWN_CHARS", "SHOWN_EVENTS", "dashboard", "dashboard_run", "run_page", "runs_page"]

#: How many characters of one value a page shows; the JSON API has every value whole.
SHOWN_CHARS = 10_000
#: How many events a run's page lists (its latest); the JSON API has them all.
SHOWN_EVENTS = 1_000

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f4f4f4; }
code, pre { font: 12px/1.4 ui-monospace, monospace; }
pre { margin: 0; white-space: pre-wrap; max-width: 60em; }
.completed { color: #137333; } .failed { color: #b3261e; } .cancelled { color: #a05a00; }
.running { color: #0b57d0; } .sleeping, .waiting, .pending { color: #5f6368; }
nav a { margin-right: 1em; }
.cut { color: #5f6368; font-style: italic; }
"""


def _page(title: str, body: str, root: str) -> str:
    statuses = " ".join(f'<a href="{root}?status={s}">{s}</a>' for s in (*ACTIVE, *FINISHED))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<nav><a href="{root}">all runs</a> {statuses}</nav>'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _value(value: Any, whole: str) -> str:
    """A value as preformatted text, cut after :data:`SHOWN_CHARS` characters with a link
    to ``whole`` (the run in the JSON API): a page must stay small whatever a run holds."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
    if len(text) <= SHOWN_CHARS:
        return f"<pre>{html.escape(text)}</pre>"
    return (
        f"<pre>{html.escape(text[:SHOWN_CHARS])}…</pre>"
        f'<p class="cut">cut: {len(text):,} characters in all;'
        f' the whole value is in <a href="{html.escape(whole)}">the JSON API</a></p>'
    )


def _offset(ms: float | None) -> str:
    return "" if ms is None else f"{ms:.1f} ms"


def runs_page(records: list[RunRecord], root: str, status: str | None) -> str:
    """The list of runs, newest first, each linking to its page."""
    rows = []
    for record in records:
        run = run_json(record)
        link = f"{root}runs/{quote(record.run_id, safe='')}"
        rows.append(
            "<tr>"
            f'<td><a href="{html.escape(link)}"><code>{html.escape(record.run_id)}</code></a></td>'
            f"<td><code>{html.escape(record.workflow_id)}</code></td>"
            f'<td class="{record.status}">{record.status}</td>'
            f"<td>{html.escape(str(run['created_at']))}</td>"
            f"<td>{html.escape(str(run['updated_at']))}</td>"
            "</tr>"
        )
    table = (
        "<table><tr><th>run</th><th>workflow</th><th>status</th><th>created</th>"
        f"<th>updated</th></tr>{''.join(rows)}</table>"
        if rows
        else "<p>No runs yet.</p>"
    )
    title = f"wf runs ({status})" if status else "wf runs"
    return _page(title, table, root)


def run_page(record: RunRecord, events: list[Any], root: str) -> str:
    """One run: its status, input, result or error, and its latest events."""
    run = run_json(record, full=True)
    whole = f"{root}api/runs/{quote(record.run_id, safe='')}"
    header = "".join(
        f"<tr><th>{name}</th><td>{_value(run[key], whole)}</td></tr>"
        for name, key in (
            ("workflow", "workflow_id"),
            ("status", "status"),
            ("attempt", "attempt"),
            ("created", "created_at"),
            ("updated", "updated_at"),
            ("input", "input"),
            ("result", "result"),
            ("error", "error"),
        )
        if run[key] is not None
    )
    rows = "".join(
        "<tr>"
        f"<td>{e['seq']}</td><td>{_offset(e['offset_ms'])}</td><td>{html.escape(e['kind'])}</td>"
        f"<td>{'' if e['cid'] is None else e['cid']}</td>"
        f"<td><code>{html.escape(e['name'] or '')}</code></td>"
        f"<td>{'' if e['data'] is None else _value(e['data'], whole)}</td>"
        "</tr>"
        for e in events_json(events[-SHOWN_EVENTS:])
    )
    left_out = ""
    if len(events) > SHOWN_EVENTS:
        left_out = (
            f'<p class="cut">The latest {SHOWN_EVENTS:,} of {len(events):,} events;'
            f' all of them are in <a href="{html.escape(whole)}">the JSON API</a>.</p>'
        )
    body = (
        f"<table>{header}</table><h2>Events</h2>{left_out}<table><tr><th>#</th><th>at</th>"
        f"<th>kind</th><th>op</th><th>name</th><th>data</th></tr>{rows}</table>"
    )
    return _page(f"run {record.run_id}", body, root)


async def dashboard(request: HTTPRequest) -> Response:
    """``GET /``: the latest runs, of one status with ``?status=``."""
    status = status_filter(request)
    engine = await state_of(request).engine()
    records = await engine.list_runs(status=status, limit=200)
    return HTMLResponse(runs_page(records, _root(request), status))


async def dashboard_run(request: HTTPRequest) -> Response:
    """``GET /runs/{run_id}``: one run's page."""
    record, events = await run_and_log(request)
    return HTMLResponse(run_page(record, events, _root(request)))


def _root(request: HTTPRequest) -> str:
    """Where the app is mounted, for the pages' links."""
    return f"{request.scope.get('root_path', '').rstrip('/')}/"
