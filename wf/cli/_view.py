"""Turning a run's event log into text: the live step view of ``wf run`` and the
timeline of ``wf runs show``."""

from __future__ import annotations

import base64
import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from wf._names import canonical, type_name
from wf.cli._common import format_time
from wf.runtime._events import (
    CANCEL_REQUESTED,
    HOOK_CREATED,
    HOOK_RECEIVED,
    MESSAGE_RECEIVED,
    PROGRESS,
    RUN_CANCELLED,
    RUN_COMPLETED,
    RUN_FAILED,
    RUN_STARTED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_RETRYING,
    STEP_SCHEDULED,
    TIMER_FIRED,
    TIMER_SCHEDULED,
    Event,
)
from wf.runtime._redact import is_request_type
from wf.runtime._views import data_value, plain

__all__ = [
    "ERROR_WIDTH",
    "TRACEBACK_WIDTH",
    "PlainLog",
    "RunView",
    "clip",
    "clip_start",
    "data_value",
    "error_text",
    "format_duration",
    "plain",
    "short",
    "summarize",
    "value_text",
]


#: The most characters of an error message a line of text shows.
ERROR_WIDTH = 300
#: The most characters of a traceback a text view shows (its end).
TRACEBACK_WIDTH = 10_000


def value_text(value: Any) -> str:
    """A plain value as text: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last being "…" when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_start(text: str, limit: int) -> str:
    """``text`` cut to its last ``limit`` characters, the first being "…" when it was cut
    (for tracebacks: where the error happened is at their end)."""
    return text if len(text) <= limit else "…" + text[len(text) - limit + 1 :]


def short(value: Any, limit: int = 60) -> str:
    return clip(value_text(value), limit)


def error_text(error: Any) -> str:
    """``Type: message`` from an encoded exception (a long message cut)."""
    if not isinstance(error, dict):
        return short(error) if error is not None else "unknown error"
    name = type_name(str(error.get("type", "Exception")))
    message = clip(str(error.get("message", "")), ERROR_WIDTH)
    return f"{name}: {message}" if message else name


def format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    days = seconds / 86400
    # A time stored out of range (1e300) must not print as 300 digits.
    return f"{days:.1f} days" if days < 1e6 else f"{days:.3g} days"


def _arg(value: Any) -> str:
    # Always JSON, so the string "3" and the number 3 read differently.
    return short(json.dumps(value, default=str, ensure_ascii=False), 30)


def _call_args(value: Any) -> str:
    if not isinstance(value, dict):
        return short(value)
    parts = [_arg(arg) for arg in value.get("args", [])]
    kwargs = value.get("kwargs", {})
    if isinstance(kwargs, dict):
        parts += [f"{key}={_arg(arg)}" for key, arg in kwargs.items()]
    return short(", ".join(parts))


def _clock(timestamp: float, reference: float) -> str:
    """Local time of ``timestamp``, without the date when it is the day of ``reference``."""
    full = format_time(timestamp)
    return full[11:] if full[:10] == format_time(reference)[:10] else full


def _webhook_request(data: str | None) -> str | None:
    """``POST /webhooks/tok?x=1 (12 bytes)`` for a webhook request, else None."""
    try:
        value = json.loads(data or "null")
    except ValueError:
        return None
    if not isinstance(value, dict) or not is_request_type(value.get("t")):
        return None
    fields = value.get("v")
    if not isinstance(fields, dict):
        return None
    body = fields.get("body")
    size = len(base64.b64decode(body.get("v", ""))) if isinstance(body, dict) else 0
    query = fields.get("query") or ""
    return (
        f"{fields.get('method')} {fields.get('path')}{'?' + query if query else ''} ({size} bytes)"
    )


def summarize(event: Event) -> str:
    """One short line about what an event says, for the timeline table."""
    value = data_value(event.data)
    kind = event.kind
    if kind == RUN_STARTED:
        return f"({_call_args(value)})"
    if kind == STEP_SCHEDULED:
        if isinstance(value, dict):
            return short(", ".join(f"{key}={_arg(arg)}" for key, arg in value.items()))
        return short(value)
    if kind in (STEP_COMPLETED, RUN_COMPLETED):
        return f"-> {short(value)}"
    if kind == STEP_RETRYING and isinstance(value, dict):
        text = f"attempt {value.get('attempt', '?')}: {error_text(value.get('error'))}"
        retry_at = value.get("retry_at")
        if isinstance(retry_at, int | float):
            text += f"; retry in {format_duration(retry_at - event.at)}"
        return short(text, 100)
    if kind == STEP_FAILED and isinstance(value, dict):
        return short(f"attempt {value.get('attempt', '?')}: {error_text(value.get('error'))}", 100)
    if kind == RUN_FAILED:
        return short(error_text(value), 100)
    if kind == HOOK_RECEIVED and (request := _webhook_request(event.data)) is not None:
        return short(request, 100)
    if kind == TIMER_SCHEDULED and isinstance(value, dict):
        fire_at = value.get("fire_at")
        if isinstance(fire_at, int | float):
            return f"fires in {format_duration(fire_at - event.at)}, at {_clock(fire_at, event.at)}"
    if value is None:
        return ""
    return short(value)


@dataclass(slots=True)
class _Row:
    cid: int
    kind: str  # "step" or "timer"
    name: str
    status: str
    started: float
    ended: float | None = None
    detail: str = ""


_ICONS = {
    "completed": ("✓", "green"),
    "fired": ("✓", "green"),
    "failed": ("✗", "red"),
    "retrying": ("↻", "yellow"),
    "abandoned": ("-", "dim"),
    "cancelled": ("-", "dim"),
}
_RUN_STYLES = {"completed": "bold green", "failed": "bold red", "cancelled": "bold yellow"}
_FINISHED = ("completed", "failed", "cancelled")
_OUTCOMES = frozenset({STEP_COMPLETED, STEP_FAILED, STEP_RETRYING, TIMER_FIRED})


class RunView:
    """What ``wf run`` shows while it waits: one line per step and timer, and the run's state.

    ``apply`` and ``set_status`` return the plain lines describing each change,
    which is all that is printed when stderr is not a terminal.
    """

    def __init__(self, run_id: str, workflow_id: str) -> None:
        self.run_id = run_id
        self.workflow_id = workflow_id
        self._module = workflow_id.partition(":")[0]
        self.status = "pending"
        self.started: float | None = None
        self.ended: float | None = None
        self.outcome = ""
        self.rows: dict[int, _Row] = {}
        # Outcomes logged ahead of their operation's own event, kept until it shows up.
        self._early: dict[int, list[Event]] = {}

    @property
    def finished(self) -> bool:
        return self.status in _FINISHED

    def _label(self, name: str | None) -> str:
        # Steps of the workflow's own module are shown by function name only.
        shown = canonical(name or "?")  # a built-in step of an old log: wf:send
        module, sep, qualname = shown.partition(":")
        return qualname if sep and module == self._module else shown

    def set_status(self, status: str) -> list[str]:
        if status == self.status or self.finished:
            return []
        self.status = status
        if status in _FINISHED:
            self.ended = self.ended or time.time()
            self._abandon()
        return [f"run {self.run_id}: {status}"]

    def _abandon(self) -> None:
        # Race losers and timeouts that never fired: the run ended without them.
        for row in self.rows.values():
            if row.ended is None:
                row.status = "cancelled" if row.kind == "timer" else "abandoned"
                row.ended = self.ended

    def apply(self, event: Event) -> list[str]:
        """Take one event into the view; the lines it adds to the plain log."""
        handler = _APPLY.get(event.kind)
        return [] if handler is None else handler(self, event, data_value(event.data))

    # One method per event kind (``_APPLY``).

    def _started(self, event: Event, value: Any) -> list[str]:
        self.started = event.at
        return [f"run {self.run_id}: {self.workflow_id}({_call_args(value)}) started"]

    def _step_scheduled(self, event: Event, value: Any) -> list[str]:
        if event.cid is None:
            return []
        row = _Row(event.cid, "step", self._label(event.name), "scheduled", event.at)
        self.rows[event.cid] = row
        if self.status == "pending":
            self.status = "running"
        return [f"  step {row.name} #{event.cid}: scheduled", *self._catch_up(row)]

    def _timer_scheduled(self, event: Event, value: Any) -> list[str]:
        if event.cid is None:
            return []
        fire_at = value.get("fire_at") if isinstance(value, dict) else None
        detail = ""
        if isinstance(fire_at, int | float):
            detail = f"{format_duration(fire_at - event.at)}, until {_clock(fire_at, event.at)}"
        row = _Row(event.cid, "timer", "timer", "sleeping", event.at, detail=detail)
        self.rows[event.cid] = row
        return [f"  timer #{event.cid}: sleeping {detail}".rstrip(), *self._catch_up(row)]

    def _outcome(self, event: Event, value: Any) -> list[str]:
        if event.cid is None:
            return []
        known = self.rows.get(event.cid)
        if known is None:
            self._early.setdefault(event.cid, []).append(event)
            return []
        return self._update_row(known, event.kind, value, event.at)

    def _cancel_requested(self, event: Event, value: Any) -> list[str]:
        return [f"run {self.run_id}: cancellation requested"]

    def _progress(self, event: Event, value: Any) -> list[str]:
        return [f"  progress: {event.name}"]

    def _hook_created(self, event: Event, value: Any) -> list[str]:
        return [f"  hook {event.name}: waiting for a payload"]

    def _hook_received(self, event: Event, value: Any) -> list[str]:
        request = _webhook_request(event.data)
        if request is not None:
            return [f"  webhook request {request}"]
        return [f"  hook {event.name}: payload received"]

    def _message_received(self, event: Event, value: Any) -> list[str]:
        return [f"  message {event.name!r} received"]

    def _ended(self, event: Event, value: Any) -> list[str]:
        return self._finish(event.kind, value, event.at)

    def _catch_up(self, row: _Row) -> list[str]:
        lines = []
        for event in self._early.pop(row.cid, []):
            lines += self._update_row(row, event.kind, data_value(event.data), event.at)
        return lines

    def _update_row(self, row: _Row, kind: str, value: Any, at: float) -> list[str]:
        where = f"step {row.name} #{row.cid}" if row.kind == "step" else f"timer #{row.cid}"
        if kind == STEP_COMPLETED:
            row.status, row.ended = "completed", at
            row.detail = format_duration(at - row.started)
            return [f"  {where}: completed in {row.detail}"]
        if kind == STEP_RETRYING and isinstance(value, dict):
            row.status = "retrying"
            row.detail = (
                f"attempt {value.get('attempt', '?')} failed: {error_text(value.get('error'))}"
            )
            retry_at = value.get("retry_at")
            if isinstance(retry_at, int | float):
                row.detail += f"; next in {format_duration(retry_at - at)}"
            return [f"  {where}: retrying ({row.detail})"]
        if kind == STEP_FAILED:
            row.status, row.ended = "failed", at
            attempt = value.get("attempt", "?") if isinstance(value, dict) else "?"
            error = value.get("error") if isinstance(value, dict) else value
            row.detail = f"after {attempt} attempt(s): {error_text(error)}"
            return [f"  {where}: failed {row.detail}"]
        if kind == TIMER_FIRED:
            row.status, row.ended = "fired", at
            return [f"  {where}: fired"]
        return []

    def _finish(self, kind: str, value: Any, at: float) -> list[str]:
        self.status = {RUN_COMPLETED: "completed", RUN_FAILED: "failed"}.get(kind, "cancelled")
        self.ended = at
        self._abandon()
        took = f" in {format_duration(at - self.started)}" if self.started is not None else ""
        if kind == RUN_FAILED:
            self.outcome = error_text(value)
            return [f"run {self.run_id}: failed{took}: {self.outcome}"]
        return [f"run {self.run_id}: {self.status}{took}"]

    # -- the terminal rendering ------------------------------------------------------

    def render(self, max_rows: int = 30) -> RenderableType:
        """The header and the latest ``max_rows`` rows; earlier ones are only counted,
        so a run of thousands of steps stays one screen and cheap to redraw."""
        now = time.time()
        header = Text.assemble(
            ("run ", "dim"),
            (self.run_id, "bold"),
            "  ",
            (self.workflow_id, "cyan"),
            "  ",
            (self.status, _RUN_STYLES.get(self.status, "yellow")),
        )
        if self.started is not None:
            header.append(f"  {format_duration((self.ended or now) - self.started)}", style="dim")
        if self.outcome:
            header.append(f"  {self.outcome}", style="red")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=2)
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        rows = list(self.rows.values())
        cut = max(0, len(rows) - max_rows)
        hidden, shown = rows[:cut], rows[cut:]
        if hidden:
            counts: dict[str, int] = {}
            for row in hidden:
                counts[row.status] = counts.get(row.status, 0) + 1
            summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            grid.add_row("", Text(f"… {len(hidden)} earlier", style="dim"), "", summary)
        for row in shown:
            icon: RenderableType
            if row.status in _ICONS:
                symbol, style = _ICONS[row.status]
                icon = Text(symbol, style=style)
            elif row.kind == "timer":
                icon = Text("◷", style="blue")
            else:
                icon = Spinner("dots", style="cyan")
            detail = row.detail
            if row.ended is None and row.kind == "step" and row.status == "scheduled":
                detail = format_duration(now - row.started)
            status_style = _ICONS.get(row.status, ("", "yellow"))[1]
            grid.add_row(
                icon,
                Text(f"{row.name} #{row.cid}" if row.kind == "step" else f"timer #{row.cid}"),
                Text(row.status, style=status_style),
                Text(detail, style="dim"),
            )
        return Group(header, grid) if rows else header


class PlainLog:
    """The lines ``wf run`` prints when stderr is not a terminal (a log file, CI), kept
    bounded for runs of thousands of steps: every line about the run itself, the first
    ``budget`` lines about its steps, timers, hooks and messages, then only a count of
    its steps and timers, at most every ``every`` seconds and before the run's last line.
    """

    def __init__(
        self,
        view: RunView,
        budget: int = 100,
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.view = view
        self.budget = budget
        self.every = every
        self.clock = clock
        self._muted = False  # the budget is spent
        self._held = 0  # lines not printed since the last count
        self._counted_at = 0.0

    def filter(self, lines: list[str]) -> list[str]:
        """The ones of ``lines`` (from ``RunView.apply`` / ``set_status``) to print."""
        out: list[str] = []
        for line in lines:
            # RunView indents the lines about a step, timer, hook or message.
            if not line.startswith("  "):
                if self._held:
                    out.append(self._count())
                out.append(line)
            elif self.budget > 0:
                self.budget -= 1
                out.append(line)
            else:
                if not self._muted:
                    self._muted = True
                    out.append(
                        "  … further lines about steps are not shown, only their count"
                        f" (every {self.every:g} s); `wf runs show {shlex.quote(self.view.run_id)}`"
                        " lists the whole log"
                    )
                    self._counted_at = self.clock()
                self._held += 1
        if self._held and self.clock() - self._counted_at >= self.every:
            out.append(self._count())
        return out

    def _count(self) -> str:
        counts: dict[str, int] = {}
        for row in self.view.rows.values():
            counts[row.status] = counts.get(row.status, 0) + 1
        summary = ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items()))
        held, self._held = self._held, 0
        self._counted_at = self.clock()
        return (
            f"  … {len(self.view.rows):,} steps and timers so far: {summary}"
            f" ({held:,} lines not shown)"
        )


#: How each kind of event enters a ``RunView`` (kinds not listed add nothing).
_APPLY: dict[str, Callable[[RunView, Event, Any], list[str]]] = {
    RUN_STARTED: RunView._started,
    STEP_SCHEDULED: RunView._step_scheduled,
    TIMER_SCHEDULED: RunView._timer_scheduled,
    **dict.fromkeys(_OUTCOMES, RunView._outcome),
    CANCEL_REQUESTED: RunView._cancel_requested,
    PROGRESS: RunView._progress,
    HOOK_CREATED: RunView._hook_created,
    HOOK_RECEIVED: RunView._hook_received,
    MESSAGE_RECEIVED: RunView._message_received,
    **dict.fromkeys((RUN_COMPLETED, RUN_FAILED, RUN_CANCELLED), RunView._ended),
}
