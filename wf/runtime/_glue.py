"""What compiled code calls: the whole contract between the compiler and the runtime.

The compiler binds this module as ``__wf__`` in every module that holds a
directive, and emits only these calls:

* explicit ``"use step"`` (async)::

      if __wf__.in_workflow(): return await __wf__.call_step("pkg.mod:name", locals())

* explicit ``"use step"`` (plain ``def``; the workflow awaits the returned future)::

      if __wf__.in_workflow(): return __wf__.call_step("pkg.mod:name", locals())

* ``"use workflow"`` (the directive stays the docstring, which is how
  ``wf.start`` recognises a workflow)::

      "use workflow"; __wf__.enter_workflow("pkg.mod:name")

* functions marked by a module-level ``"use step"``: ``@__wf__.step_function("pkg.mod:name")``.
* a ``"use step"`` nested in workflow ``flow`` keeps the guard above (its ``locals()``
  hold the captured variables too) and, after the module's last line, is made
  resolvable by id as ``flow.name``::

      __wf__.nested_step(flow, "name", "pkg.mod:flow.name", wf.options(...))
* in workflow bodies, nondeterministic calls become ``__wf__.time()``,
  ``__wf__.datetime_now(tz)``, ``__wf__.rng().randint(1, 6)``,
  ``__wf__.uuid4()``, ``__wf__.wait(...)``, ``__wf__.as_completed(...)`` and so on.

Outside a workflow every replacement behaves like the function it replaced.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import functools
import inspect
import random as _random
import time as _time
import types as _types
import uuid as _uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from wf._errors import NotInWorkflowError
from wf.runtime._loop import current_loop

__all__ = [
    "as_completed",
    "call_step",
    "date_today",
    "datetime_now",
    "datetime_today",
    "datetime_utcnow",
    "enter_workflow",
    "in_workflow",
    "monotonic",
    "monotonic_ns",
    "nested_step",
    "perf_counter",
    "perf_counter_ns",
    "rng",
    "step_function",
    "time",
    "time_ns",
    "uuid1",
    "uuid4",
    "wait",
]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def in_workflow() -> bool:
    return current_loop() is not None


def call_step(step_id: str, arguments: dict[str, Any]) -> asyncio.Future[Any]:
    loop = current_loop()
    if loop is None:
        raise NotInWorkflowError(f"step {step_id} was scheduled outside a workflow")
    return loop.ctx.issue_step(step_id, arguments)


def enter_workflow(workflow_id: str) -> None:
    if current_loop() is None:
        raise NotInWorkflowError(
            f"{workflow_id} is a workflow: start it with"
            f" `await wf.start({workflow_id.split(':')[-1]}, ...)` (or `wf run`),"
            " or await it from inside another workflow"
        )


def step_function(step_id: str) -> Callable[[F], F]:
    """Decorator for the functions a module-level ``"use step"`` marks."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)  # once, not on every call

        @functools.wraps(fn)
        async def step(*args: Any, **kwargs: Any) -> Any:
            loop = current_loop()
            if loop is None:
                return await fn(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            return await loop.ctx.issue_step(step_id, dict(bound.arguments))

        step.__wf_step__ = fn  # type: ignore[attr-defined]
        return step  # type: ignore[return-value]

    return decorate


def nested_step(workflow: Any, name: str, step_id: str, *decorators: Callable[[Any], Any]) -> None:
    """Expose the ``"use step"`` function ``name`` nested in ``workflow`` as ``workflow.<name>``.

    The nested function's code is a constant of the workflow's code. The step
    is called with its own parameters plus one keyword argument per captured
    variable (its code's free variables, as ``locals()`` recorded them at the
    call); the function is rebuilt on every call with fresh cells holding them.
    """
    outer = inspect.unwrap(workflow)
    found = [
        c for c in outer.__code__.co_consts if isinstance(c, _types.CodeType) and c.co_name == name
    ]
    if len(found) != 1:
        raise RuntimeError(f"{step_id}: no single nested function {name!r} in {outer.__qualname__}")
    code = found[0]
    module_globals = outer.__globals__
    captured = code.co_freevars
    empty = object()

    def build(kwargs: dict[str, Any]) -> Callable[..., Any]:
        values = [kwargs.pop(v, empty) for v in captured]
        cells = tuple(_types.CellType() if v is empty else _types.CellType(v) for v in values)
        fn = _types.FunctionType(code, module_globals, name, None, cells)
        fn.__qualname__ = code.co_qualname
        return fn

    run: Callable[..., Any]
    if code.co_flags & inspect.CO_COROUTINE:

        async def run(*args: Any, **kwargs: Any) -> Any:
            return await build(kwargs)(*args, **kwargs)

    else:

        def run(*args: Any, **kwargs: Any) -> Any:
            return build(kwargs)(*args, **kwargs)

    params = list(inspect.signature(build({})).parameters.values())
    extra = [inspect.Parameter(v, inspect.Parameter.KEYWORD_ONLY) for v in captured]
    at = len(params) - (bool(params) and params[-1].kind == inspect.Parameter.VAR_KEYWORD)
    setattr(run, "__signature__", inspect.Signature(params[:at] + extra + params[at:]))  # noqa: B010
    run.__name__ = name
    run.__qualname__ = f"{getattr(workflow, '__qualname__', outer.__qualname__)}.{name}"
    run.__module__ = outer.__module__
    for decorate in reversed(decorators):
        run = decorate(run)
    setattr(workflow, name, run)


# -- the replayed clock ------------------------------------------------------


def time() -> float:
    loop = current_loop()
    return loop.time() if loop is not None else _time.time()


def time_ns() -> int:
    loop = current_loop()
    return int(loop.time() * 1e9) if loop is not None else _time.time_ns()


monotonic = time
perf_counter = time
monotonic_ns = time_ns
perf_counter_ns = time_ns


def datetime_now(tz: _dt.tzinfo | None = None) -> _dt.datetime:
    loop = current_loop()
    if loop is None:
        return _dt.datetime.now(tz)
    return _dt.datetime.fromtimestamp(loop.time(), tz)


def datetime_utcnow() -> _dt.datetime:
    return datetime_now(_dt.UTC).replace(tzinfo=None)


def datetime_today() -> _dt.datetime:
    return datetime_now()


def date_today() -> _dt.date:
    return datetime_now().date()


# -- seeded randomness -------------------------------------------------------

_process_random = _random.Random()


def rng() -> _random.Random:
    """The run's seeded ``random.Random`` (the process one outside a workflow)."""
    loop = current_loop()
    return loop.ctx.random if loop is not None else _process_random


def uuid4() -> _uuid.UUID:
    loop = current_loop()
    if loop is None:
        return _uuid.uuid4()
    return _uuid.UUID(int=loop.ctx.random.getrandbits(128), version=4)


def uuid1() -> _uuid.UUID:
    # uuid1 embeds the host and the clock; in a workflow both must come from the log.
    return uuid4()


# -- deterministic asyncio.wait / asyncio.as_completed -----------------------


class _IssueOrderSet(set[Any]):
    """A set that iterates and pops in the order its members were added."""

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self._order = list(dict.fromkeys(items))
        super().__init__(self._order)

    def __iter__(self) -> Iterator[Any]:
        return iter([x for x in self._order if x in self])

    def pop(self) -> Any:
        for x in self._order:
            if x in self:
                self.discard(x)
                return x
        raise KeyError("pop from an empty set")


async def wait(
    fs: Iterable[Awaitable[T]],
    *,
    timeout: float | None = None,
    return_when: str = asyncio.ALL_COMPLETED,
) -> tuple[set[asyncio.Future[T]], set[asyncio.Future[T]]]:
    if current_loop() is None:
        return await asyncio.wait(fs, timeout=timeout, return_when=return_when)  # type: ignore[arg-type]
    futures = [asyncio.ensure_future(f) for f in fs]
    done, pending = await asyncio.wait(futures, timeout=timeout, return_when=return_when)
    return (
        _IssueOrderSet(f for f in futures if f in done),
        _IssueOrderSet(f for f in futures if f in pending),
    )


def as_completed(fs: Iterable[Awaitable[T]], *, timeout: float | None = None) -> Iterator[Any]:
    # On the workflow loop completions are delivered one at a time in log order,
    # so asyncio's own as_completed is already deterministic once the input order is.
    return iter(asyncio.as_completed(list(fs), timeout=timeout))
