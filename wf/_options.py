"""``@wf.options(...)``: retry and timeout settings for steps, version and schema for workflows.

The compiler checks literal options when it compiles a module; this module
checks them again when the decorator runs, because option values may be
computed at import time and because code that was never compiled (a test
calling a step directly) still deserves a clear error.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from wf.runtime._duration import to_seconds
from wf.runtime._kinds import is_workflow as is_kind_workflow

__all__ = [
    "STEP_OPTION_NAMES",
    "WORKFLOW_OPTION_NAMES",
    "Backoff",
    "StepOptions",
    "WorkflowOptions",
    "backoff_delay",
    "check_option",
    "options",
    "step_options",
    "workflow_options",
]

F = TypeVar("F", bound=Callable[..., Any])

Backoff = Literal["exponential", "fixed", "none"]
_BACKOFFS: tuple[Backoff, ...] = ("exponential", "fixed", "none")

_ATTRIBUTE = "__wf_options__"
_DEFAULT_MAX_INTERVAL = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class StepOptions:
    """How a step is retried and timed; durations are in seconds."""

    max_attempts: int = 4
    backoff: Backoff = "exponential"
    initial_interval: float = 1.0
    max_interval: float = _DEFAULT_MAX_INTERVAL
    timeout: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class WorkflowOptions:
    """A workflow's version label, input schema and overall timeout in seconds."""

    version: str | None = None
    schema: Any = None
    timeout: float | None = None


STEP_OPTION_NAMES = tuple(f.name for f in dataclasses.fields(StepOptions))
WORKFLOW_OPTION_NAMES = tuple(f.name for f in dataclasses.fields(WorkflowOptions))
_DEFAULT_STEP = StepOptions()
_DEFAULT_WORKFLOW = WorkflowOptions()


def _accepted() -> str:
    steps, workflows = ", ".join(STEP_OPTION_NAMES), ", ".join(WORKFLOW_OPTION_NAMES)
    return f"steps accept {steps}; workflows accept {workflows}"


def _duration(name: str, value: Any, *, positive: bool = False) -> float:
    try:
        seconds = to_seconds(value, allow_negative=True)
    except TypeError as exc:
        raise TypeError(f"wf.options(): {name}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"wf.options(): {name}: {exc}") from None
    if seconds < 0 or (positive and seconds == 0):
        bound = "positive" if positive else "zero or positive"
        raise ValueError(f"wf.options(): {name} must be {bound}, got {value!r}")
    return seconds


def check_option(name: str, value: Any) -> Any:
    """``value`` normalised for option ``name``, or a TypeError/ValueError saying why not.
    The one validator: the decorator uses it, and the compiler for literal values."""
    if name == "max_attempts":
        if type(value) is not int:
            raise TypeError(
                f"wf.options(): max_attempts must be an int >= 1, got {type(value).__name__} "
                f"{value!r}"
            )
        if value < 1:
            raise ValueError(f"wf.options(): max_attempts must be an int >= 1, got {value!r}")
        return value
    if name == "backoff":
        if value not in _BACKOFFS or not isinstance(value, str):
            choices = ", ".join(repr(b) for b in _BACKOFFS)
            raise ValueError(f"wf.options(): backoff must be one of {choices}, got {value!r}")
        return value
    if name in ("initial_interval", "max_interval"):
        return _duration(name, value)
    if name == "timeout":
        # Zero would time every call out before it starts: surely a mistake.
        return None if value is None else _duration(name, value, positive=True)
    if name == "version":
        if value is not None and (not isinstance(value, str) or not value):
            raise TypeError(f"wf.options(): version must be a non-empty str, got {value!r}")
        return value
    if name == "schema":
        return _schema(value)
    return value


def _schema(value: Any) -> Any:
    """A workflow's input schema: a module-level dataclass or pydantic model class."""
    if value is None:
        return None
    is_class = isinstance(value, type)
    if not is_class or not (
        dataclasses.is_dataclass(value) or callable(getattr(value, "model_validate", None))
    ):
        shown = f"class {value.__qualname__}" if is_class else f"{type(value).__name__} {value!r}"
        raise TypeError(
            f"wf.options(): schema must be a dataclass or a pydantic model class, got {shown}"
        )
    if "<locals>" in value.__qualname__:
        raise TypeError(
            f"wf.options(): schema {value.__qualname__} must be defined at module level (the"
            " run's input is stored as an instance of it, rebuilt by importing its class)"
        )
    return value


def options(**kwargs: Any) -> Callable[[F], F]:
    """Attach options to a step or a workflow; validated when the decorator runs.

    Steps: ``max_attempts`` (int >= 1, default 4), ``backoff`` (``"exponential"``,
    ``"fixed"`` or ``"none"``), ``initial_interval`` (default 1 s),
    ``max_interval`` (default 60 s), ``timeout`` (default none). Workflows:
    ``version``, ``schema``, ``timeout``. Durations are seconds, timedeltas or
    strings like ``"30s"``. Stacked decorators merge, the outer one winning.
    """
    given: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name not in STEP_OPTION_NAMES and name not in WORKFLOW_OPTION_NAMES:
            raise TypeError(f"wf.options(): unknown option {name!r}; {_accepted()}")
        given[name] = check_option(name, value)

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise TypeError(
                f"@wf.options(...) decorates a step or workflow function, got "
                f"{type(fn).__name__} {fn!r}"
            )
        is_workflow = is_kind_workflow(fn)
        kind, names = (
            ("workflow", WORKFLOW_OPTION_NAMES) if is_workflow else ("step", STEP_OPTION_NAMES)
        )
        for name in given:
            if name not in names:
                other = "steps" if is_workflow else "workflows"
                raise TypeError(
                    f"wf.options(): option {name!r} applies to {other}, but "
                    f"{getattr(fn, '__qualname__', fn)!r} is a {kind}; "
                    f"a {kind} accepts {', '.join(names)}"
                )
        # Inherited via functools.wraps or from an inner @wf.options: merge into it.
        existing = getattr(fn, _ATTRIBUTE, None)
        built: StepOptions | WorkflowOptions
        if is_workflow:
            base_w = existing if isinstance(existing, WorkflowOptions) else _DEFAULT_WORKFLOW
            built = dataclasses.replace(base_w, **given)
        else:
            base_s = existing if isinstance(existing, StepOptions) else _DEFAULT_STEP
            built = _merge_step(base_s, given)
        try:
            setattr(fn, _ATTRIBUTE, built)
        except (AttributeError, TypeError):
            raise TypeError(
                f"@wf.options(...) cannot store options on {fn!r}: decorate a plain function"
            ) from None
        return fn

    return decorate


def _merge_step(base: StepOptions, given: dict[str, Any]) -> StepOptions:
    merged = dataclasses.replace(base, **given)
    if merged.initial_interval > merged.max_interval:
        if "max_interval" in given:
            raise ValueError(
                f"wf.options(): initial_interval ({merged.initial_interval:g} s) is longer "
                f"than max_interval ({merged.max_interval:g} s)"
            )
        # Only the default cap is in the way: a long first wait asked for a higher cap.
        merged = dataclasses.replace(merged, max_interval=merged.initial_interval)
    return merged


def _find(fn: Any) -> Any:
    # functools.wraps copies the attribute; __wrapped__ covers wrappers that do not.
    for _ in range(16):
        found = getattr(fn, _ATTRIBUTE, None)
        if found is not None:
            return found
        fn = getattr(fn, "__wrapped__", None)
        if fn is None:
            break
    return None


def step_options(fn: Any) -> StepOptions:
    """The options of step ``fn``; the defaults when it has none."""
    found = _find(fn)
    return found if isinstance(found, StepOptions) else _DEFAULT_STEP


def workflow_options(fn: Any) -> WorkflowOptions:
    """The options of workflow ``fn``; the defaults when it has none."""
    found = _find(fn)
    return found if isinstance(found, WorkflowOptions) else _DEFAULT_WORKFLOW


# Beyond this many doublings every realistic interval is past its cap, and
# 2.0 ** attempt would eventually overflow.
_MAX_DOUBLINGS = 64


def backoff_delay(opts: StepOptions, attempt: int, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first).

    Exponential backoff draws uniformly between 50% and 100% of
    ``initial_interval * 2 ** (attempt - 1)`` capped at ``max_interval``: the
    jitter keeps many runs failing together from retrying together, and the
    50% floor keeps the wait from collapsing to nothing.
    """
    if type(attempt) is not int or attempt < 1:
        raise ValueError(f"backoff_delay(): attempt must be an int >= 1, got {attempt!r}")
    if opts.backoff == "none":
        return 0.0
    if opts.backoff == "fixed":
        return opts.initial_interval
    ceiling = min(
        opts.initial_interval * 2.0 ** min(attempt - 1, _MAX_DOUBLINGS), opts.max_interval
    )
    return rng.uniform(ceiling / 2, ceiling)
