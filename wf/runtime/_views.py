"""Runs and events as plain JSON, for ``wf runs ... --json`` and the HTTP API.

Values in the log are tagged serde JSON; they are shown without decoding them
into Python objects, which would import the user's modules just to print a run.
"""

from __future__ import annotations

import json
import math
from typing import Any

from wf.runtime._events import RUN_STARTED, Event
from wf.runtime._limits import MAX_NESTING, local_datetime
from wf.runtime._redact import is_request_type, redact_request
from wf.store._protocol import RunRecord

__all__ = ["data_value", "events_json", "iso", "plain", "run_json", "start_value"]

_TAG = "__wf__"
# Deeper parts of a value are not shown, so every renderer after this one (JSON with
# indents, HTML, rich) stays inside the recursion limit. Twice what wf accepts at the
# door: only a value stored before that check (or a step's result) can reach it.
_SHOWN_DEPTH = 2 * MAX_NESTING
_NOT_SHOWN = f"[nested deeper than {_SHOWN_DEPTH} levels: not shown]"


def plain(value: Any, _depth: int = 0) -> Any:
    """A tagged serde value as plain JSON for display; a webhook request's credential
    headers are redacted (see ``_redact``).

    Deliberately not ``serde.loads``: that imports the classes the log names
    (running user modules just to print a run) and fails when they moved.
    """
    if isinstance(value, list | dict) and _depth >= _SHOWN_DEPTH:
        return _NOT_SHOWN
    if isinstance(value, list):
        return [plain(item, _depth + 1) for item in value]
    if not isinstance(value, dict):
        if isinstance(value, float) and not math.isfinite(value):
            # JSON has no inf or nan (the API could not send one): serde writes them
            # tagged, as text, and so are those of a row stored without serde.
            return repr(value)
        return value
    tag = value.get(_TAG)
    if not isinstance(tag, str):
        return {key: plain(item, _depth + 1) for key, item in value.items()}
    inner = value.get("v")
    if tag == "dict" and isinstance(inner, list):
        pairs = [pair for pair in inner if isinstance(pair, list) and len(pair) == 2]
        return {_key(pair[0], _depth + 1): plain(pair[1], _depth + 1) for pair in pairs}
    if tag == "dataclass" and is_request_type(value.get("t")):
        return redact_request(plain(inner, _depth + 1))
    return plain(inner, _depth + 1)


def _key(key: Any, depth: int) -> str:
    key = plain(key, depth)
    return key if isinstance(key, str) else json.dumps(key, default=str)


def data_value(data: str | None) -> Any:
    """An event's ``data`` as plain JSON (the raw text if it is not JSON at all)."""
    if data is None:
        return None
    try:
        return plain(json.loads(data))
    except ValueError:
        return data
    except RecursionError:
        # Not the raw text either: it could hold a webhook request's credentials.
        return _NOT_SHOWN


def iso(timestamp: float | None) -> str | None:
    """A stored time as ISO 8601 in the local zone; one no date can hold (stored
    before times were checked) as its epoch seconds, so no view fails on it."""
    if timestamp is None:
        return None
    moment = local_datetime(timestamp)
    if moment is None:
        return f"{timestamp!r} (epoch seconds, out of the date range)"
    return moment.isoformat()


def run_json(record: RunRecord, *, full: bool = False) -> dict[str, Any]:
    """A run as JSON for ``--json``; ``full`` adds input, result and error."""
    data: dict[str, Any] = {
        "run_id": record.run_id,
        "workflow_id": record.workflow_id,
        "status": record.status,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "wake_at": iso(record.wake_at),
        "attempt": record.attempt,
    }
    if full:
        data["input"] = start_value(record.input)
        data["result"] = data_value(record.result)
        data["error"] = data_value(record.error)
    return data


def events_json(events: list[Event]) -> list[dict[str, Any]]:
    start = events[0].at if events else 0.0
    return [
        {
            "seq": event.seq,
            "at": iso(event.at),
            "offset_ms": _offset_ms(event.at, start),
            "kind": event.kind,
            "cid": event.cid,
            "name": event.name,
            "data": start_value(event.data)
            if event.kind == RUN_STARTED
            else data_value(event.data),
        }
        for event in events
    ]


def _offset_ms(at: float, start: float) -> float | None:
    # None for a time stored out of range (inf): JSON has no inf or nan.
    offset = round((at - start) * 1000, 3)
    return offset if math.isfinite(offset) else None


def start_value(data: str | None) -> Any:
    """A run's input as shown: its arguments and options, not its secret seed (default
    hook and webhook tokens derive from it)."""
    value = data_value(data)
    if isinstance(value, dict):
        value.pop("seed", None)
    return value
