"""Waiting for the outside world: hooks (resumed by token) and named messages."""

from __future__ import annotations

import asyncio
import builtins
import datetime as _dt
from collections.abc import AsyncIterator, Generator
from typing import Any, Generic, TypeVar

from wf import _names
from wf.runtime._context import Inbox
from wf.runtime._duration import to_seconds
from wf.runtime._validate import coerce_payload
from wf.runtime._workflow import _require

__all__ = ["Hook", "create_hook", "receive"]

T = TypeVar("T")


class Hook(Generic[T]):
    """A token the outside world resumes with ``wf.resume_hook(token, payload)``.

    ``await hook`` waits for the next payload; ``async for payload in hook``
    takes them one after another, in arrival order. Payloads that arrive while
    the workflow is busy elsewhere (or asleep, or evicted) wait in the hook.
    """

    def __init__(self, token: str, inbox: Inbox, type: type | None = None) -> None:
        self.token = token
        self._inbox = inbox
        self._type = type

    def __repr__(self) -> str:
        return f"<wf.Hook {self.token!r}>"

    def __await__(self) -> Generator[Any, None, T]:
        return self._next().__await__()

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        return await self._next()

    async def _next(self) -> T:
        item = await self._inbox.get()
        if self._type is not None:
            # Checked when it was resumed; built again here so replay gives the same object.
            item = coerce_payload(self._type, item)
        result: T = item
        return result


def create_hook(token: str | None = None, *, type: type[T] | None = None) -> Hook[T]:
    """Create a hook in the running workflow. A given ``token`` must not be held by
    another live run (that run fails with ``wf.HookConflictError``); the default
    token is random but the same on every replay. Tokens are released when the
    run ends. Steps issued after ``create_hook`` start once the token is durable,
    so a step may hand it out. With ``type=`` (a dataclass, a pydantic model or
    another class importable from its module), ``wf.resume_hook`` refuses a payload
    that does not fit, with the reason, and the workflow receives instances."""
    loop = _require("wf.create_hook()")
    type_path = None
    if type is not None:
        if not isinstance(type, builtins.type) or "<locals>" in type.__qualname__:
            raise TypeError(f"create_hook(type=...) takes a module-level class, not {type!r}")
        type_path = _names.persisted(f"{type.__module__}:{type.__qualname__}")
    _cid, token, inbox = loop.ctx.issue_hook(token, type_path)
    return Hook(token, inbox, type)


async def receive(name: str, timeout: float | str | _dt.timedelta | None = None) -> Any:
    """Wait for the next message ``name`` sent to this run with ``wf.send``; messages
    sent earlier are queued. With ``timeout`` (a duration), None when it passes."""
    loop = _require("wf.receive()")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a message name must be a non-empty string, not {name!r}")
    inbox = loop.ctx.message_inbox(name)
    if timeout is None:
        return await inbox.get()
    try:
        async with asyncio.timeout(to_seconds(timeout)):
            return await inbox.get()
    except TimeoutError:
        return None
