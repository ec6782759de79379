"""Exceptions in the event log: how a step's or workflow's error is stored and rebuilt.

Split from ``_serde`` (which re-exports both functions); the two modules use
each other, so each refers to the other's names only at call time.
"""

from __future__ import annotations

import traceback
from typing import Any

from wf import _names
from wf.runtime import _serde

__all__ = ["decode_exception", "encode_exception"]


def encode_exception(exc: BaseException) -> dict[str, Any]:
    """Describe ``exc`` as a JSON-compatible dict; never fails.

    Keys: ``type`` (``module:qualname``; a stable ``wf:`` name for wf's own, see
    ``wf._names``), ``message`` (``str(exc)``), ``args`` (tagged JSON when
    ``exact`` is true, else the args as strings), ``attrs``
    (instance attributes that serialize), ``reduce`` (``{"fn": "module:name",
    "args": [...]}`` from ``__reduce__``, only when that differs from
    ``cls(*args)``; ``fn`` is left out when it is the class itself),
    ``traceback`` (formatted text) and ``cause`` (the ``__cause__`` /
    ``__context__`` chain as text, when there is one).
    """
    cls = type(exc)
    data: dict[str, Any] = {
        "type": _names.persisted(f"{cls.__module__}:{cls.__qualname__}"),
        "message": _safe_str(exc),
    }
    try:
        data["args"] = _serde._encode_list(exc.args)
        data["exact"] = True
    except (_serde._Unsupported, RecursionError):
        data["args"] = [_safe_str(arg) for arg in exc.args]
        data["exact"] = False
    attrs = {}
    for key, item in getattr(exc, "__dict__", {}).items():
        if key.startswith("__wf_") or key.startswith("_wf_"):
            continue
        try:
            attrs[key] = _serde._encode(item)
        except (_serde._Unsupported, RecursionError):
            # Dropped, not fatal: the type and args usually matter more.
            continue
    if attrs:
        data["attrs"] = attrs
    reduce = _custom_reduce(exc)
    if reduce is not None:
        data["reduce"] = reduce
    data["traceback"] = _traceback_text(exc)
    cause = _cause_text(exc)
    if cause:
        data["cause"] = cause
    return data


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _custom_reduce(exc: BaseException) -> dict[str, Any] | None:
    """How ``__reduce__`` (pickle's protocol) rebuilds ``exc``, when ``cls(*exc.args)`` would not.

    Exceptions whose ``__init__`` takes keyword-only data (``wf.RetryableError``'s
    ``retry_after``) name a constructor function; ``OSError`` passes the
    filename, which is not in ``args``.
    """
    try:
        reduced = exc.__reduce__()
    except Exception:
        return None
    if not isinstance(reduced, tuple) or len(reduced) < 2 or not isinstance(reduced[1], tuple):
        return None
    function, arguments = reduced[0], reduced[1]
    if function is type(exc) and arguments == exc.args:
        return None
    try:
        encoded = _serde._encode_list(arguments)
    except (_serde._Unsupported, RecursionError):
        return None
    if function is type(exc):
        return {"args": encoded}
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    return {"fn": _names.persisted(f"{module}:{qualname}"), "args": encoded}


def _traceback_text(exc: BaseException) -> str:
    try:
        local = "".join(traceback.format_exception(exc))
    except Exception:
        local = f"{type(exc).__name__}: {_safe_str(exc)}\n"
    remote = getattr(exc, "__wf_traceback__", None)
    if isinstance(remote, str) and remote:
        if exc.__traceback__ is None:
            return remote
        return f"{remote}\nRebuilt from the text above and raised again:\n\n{local}"
    return local


def _cause_text(exc: BaseException) -> str:
    lines: list[str] = []
    seen = {id(exc)}
    current: BaseException | None = exc
    while current is not None and len(lines) < 20:
        if current.__cause__ is not None:
            current, word = current.__cause__, "caused by"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, word = current.__context__, "while handling"
        else:
            break
        if id(current) in seen:
            break
        seen.add(id(current))
        lines.append(f"{word} {_serde._type_name(type(current))}: {_safe_str(current)}")
    return "\n".join(lines)


def decode_exception(data: dict[str, Any]) -> BaseException | None:
    """Rebuild the exception :func:`encode_exception` described, or return None.

    It is rebuilt when its class imports, is a ``BaseException`` subclass and
    accepts the recorded args (or its ``__reduce__`` constructor, which must
    live in the class's own module, accepts them). The remote traceback text
    is attached as ``__wf_traceback__``. None means the caller should raise
    ``wf.StepFailedError`` with the recorded type and message instead.
    """
    try:
        cls = _serde._resolve(data["type"])
        if not isinstance(cls, type) or not issubclass(cls, BaseException):
            return None
        if not data.get("exact"):
            return None
        reduce = data.get("reduce")
        if reduce is not None:
            function = _serde._resolve(reduce["fn"]) if "fn" in reduce else cls
            # Limits what a log entry can make us call to the class's own module.
            if getattr(function, "__module__", None) != cls.__module__:
                return None
            exc = function(*_serde._decode(reduce["args"]))
        else:
            exc = cls(*_serde._decode(data["args"]))
        if not isinstance(exc, cls):
            return None
        for key, item in _serde._decode(data.get("attrs") or {}).items():
            try:
                setattr(exc, key, item)
            except Exception:
                continue
        exc.__wf_traceback__ = data.get("traceback", "")  # type: ignore[attr-defined]
    except Exception:
        return None
    return exc
