"""What wf accepts at the door: run ids, points in time, and how deeply values nest.

Each rule is checked where a value enters (``wf.start``, a child start, a hook or
a message, the HTTP API, the CLI) and before anything is written, so nothing is
stored that cannot be reached over HTTP or that would break a view later:

* a run id is 1 to 200 characters from ASCII letters, digits and ``-_.:@+=``
  (safe in a URL path, a shell and a log line without quoting);
* ``start_at`` and ``deadline`` are real dates, from 1970 to the end of year 9999
  (the range every ``datetime`` and every view can hold);
* a value nests at most :data:`MAX_NESTING` levels of lists and objects, counted
  in its JSON form as stored (a tuple, set or class instance is a tagged object
  holding its contents, so it counts two levels). Every reader of the log walks
  values recursively (decoding, the views, validation), so the limit keeps each
  of them far inside Python's recursion limit.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from typing import Any

from wf._errors import NestingError

__all__ = [
    "LATEST",
    "MAX_NESTING",
    "RUN_ID_RULE",
    "NestingError",
    "check_moment",
    "check_run_id",
    "exceeds",
    "load_json",
    "local_datetime",
    "nesting_depth",
    "too_deep",
]

RUN_ID_RULE = "a run id is 1 to 200 characters from ASCII letters, digits and -_.:@+="
_RUN_ID = re.compile(r"[A-Za-z0-9\-_.:@+=]{1,200}", re.ASCII)
_SHOWN = 60  # how much of a refused id the message repeats (it may be 100 KB)

#: The deepest nesting of lists and objects a value may have (see the module docstring).
MAX_NESTING = 100

#: The last moment ``start_at`` / ``deadline`` may name: the end of year 9999, UTC.
LATEST = _dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.UTC).timestamp()
_DATES = "a date from 1970-01-01 to 9999-12-31 (UTC)"


def check_run_id(run_id: Any) -> str:
    """``run_id`` itself if it follows :data:`RUN_ID_RULE`, else ``ValueError`` saying
    what is wrong with it."""
    if isinstance(run_id, str) and _RUN_ID.fullmatch(run_id):
        return run_id
    if not isinstance(run_id, str):
        why = f"run_id must be a string, not {type(run_id).__name__} {run_id!r:.{_SHOWN}}"
    elif not run_id:
        why = "run_id must be a non-empty string"
    elif len(run_id) > 200:
        why = f"run_id {run_id[:_SHOWN]!r}… is {len(run_id)} characters long"
    else:
        bad = next(char for char in run_id if not _RUN_ID.fullmatch(char))
        shown = repr(run_id) if len(run_id) <= _SHOWN else f"{run_id[:_SHOWN]!r}…"
        why = f"run_id {shown} contains {bad!r}"
    raise ValueError(f"{why}: {RUN_ID_RULE}")


def check_moment(timestamp: float, what: str, given: Any) -> float:
    """``timestamp`` (epoch seconds computed from ``given``, the value the caller passed
    as option ``what``) if it is a real date, else ``ValueError`` naming the option."""
    if math.isfinite(timestamp) and 0 <= timestamp <= LATEST:
        return timestamp
    when = "past year 9999" if timestamp > LATEST else "before 1970"
    if not math.isfinite(timestamp):
        when = "not a finite time"
    raise ValueError(f"{what} {given!r:.{_SHOWN}} is {when}: it must be {_DATES}")


def local_datetime(timestamp: float) -> _dt.datetime | None:
    """A stored timestamp as an aware local time for display; UTC when the local zone
    would push it past a year ``datetime`` holds; None when no ``datetime`` can hold
    it (a time stored before times were checked): views show it without failing."""
    try:
        moment = _dt.datetime.fromtimestamp(timestamp, _dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None
    try:
        return moment.astimezone()
    except (OverflowError, ValueError, OSError):
        return moment


def nesting_depth(tree: Any, stop_after: int) -> int:
    """How deeply lists and dicts nest in ``tree`` (a scalar is 0, ``[]`` is 1),
    counting no further than ``stop_after + 1``. A loop, not recursion, so that any
    depth can be measured."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if kind is list:
            children: Any = node
        elif kind is dict:
            children = node.values()
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > stop_after:
                return deepest
        for child in children:
            if type(child) is list or type(child) is dict:
                stack.append((child, depth))
    return deepest


def too_deep(where: str) -> NestingError:
    """The error for a value nested deeper than :data:`MAX_NESTING`."""
    return NestingError(
        f"{where} is nested more than {MAX_NESTING} levels deep (or refers to itself);"
        f" wf accepts values nested at most {MAX_NESTING} levels of lists and objects"
    )


def exceeds(text: str | bytes, tree: Any, below: int = 0) -> bool:
    """Whether ``tree`` (whose JSON text is ``text``) nests its values, which sit
    ``below`` levels down, deeper than :data:`MAX_NESTING`. Cheap for small values:
    each level takes an opening and a closing bracket, and brackets bound the depth."""
    limit = MAX_NESTING + below
    if len(text) <= 2 * limit:
        return False
    if isinstance(text, bytes):
        opened = text.count(b"[") + text.count(b"{")
    else:
        opened = text.count("[") + text.count("{")
    if opened <= limit:
        return False
    return nesting_depth(tree, limit) > limit


def load_json(text: str | bytes, what: str, *, below: int = 0) -> Any:
    """``json.loads(text)``, refusing a document whose values (``below`` levels down)
    nest deeper than :data:`MAX_NESTING` with :class:`NestingError`. ``ValueError``
    (``json.JSONDecodeError``) for text that is not JSON, as ``json.loads``."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep(what) from None
    if exceeds(text, value, below):
        raise too_deep(what)
    return value
